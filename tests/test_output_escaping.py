"""User data never breaks or fakes an output line: names with newlines, NUL, ESC, bidi controls and
lone surrogates, through every reporter, ``stats``, ``show``, ``convert``, the smoke text and the
error messages (issue #14, output injection)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import make_yolo, write_image

from detlint.cli import main
from detlint.report import REPORTERS
from detlint.safetext import escape_text

FAKE_FILE = "a\n::error file=x::pwned.jpg"
FAKE_CLASS = "x\n::error file=y::z\x00\x1b[31m"
BIDI_CLASS = "b\u2028c\u202ed\u2066"
SURROGATE_CLASS = "s\ud800"
LABEL_NAME = "a\n::error file=x::pwned.txt"
YAML_CLASS = "q\n::error file=y::z\x1b"  # written to data.yaml as a double-quoted YAML string
# Raw characters no text output may carry (a newline only ends a line the reporter wrote).
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
GITHUB_LINE = re.compile(r"::(error|warning|notice) file=([^,:]*)")


def invoke(*args: str | Path) -> Result:
    """The CLI with a strict UTF-8 stdout and stderr: a lone surrogate would raise there."""
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    """A COCO dataset whose image file name and class names hold newlines, NUL, ESC, bidi controls
    and a lone surrogate (``"\\ud800"`` in the JSON text); the classes are unused, so C002 names them."""
    root = tmp_path / "coco"
    root.mkdir()
    document = {
        "images": [{"id": 1, "file_name": FAKE_FILE, "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 4, "bbox": [0, 0, 20, 5], "area": 100,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": FAKE_CLASS}, {"id": 2, "name": BIDI_CLASS},
                       {"id": 3, "name": SURROGATE_CLASS}, {"id": 4, "name": "plain"}],
    }
    (root / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
    return root


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    """A YOLO dataset with label files really named ``a\\n::error file=x::pwned.txt`` and
    ``bad<0xff>.txt`` (no images: orphan labels) and a class name with a newline and an ESC."""
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text('path: .\ntrain: images/train\nnc: 2\nnames: [cat, "q\\n::error file=y::z\\e"]\n')
    write_image(root / "images" / "train" / "one.png", (64, 48))
    (root / "labels" / "train" / "one.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "train" / LABEL_NAME).write_text("0 0.5 0.5 0.2 0.2\n")
    # A name that is not UTF-8: Python sees "\udcff" (surrogateescape), which no encoder takes.
    (root / "labels" / "train" / os.fsdecode(b"bad\xff.txt")).write_text("0 0.5 0.5 0.2 0.2\n")
    return root


def assert_safe_lines(text: str, github: bool = False) -> None:
    assert not RAW_CONTROL.search(text), repr(RAW_CONTROL.search(text))
    for line in text.splitlines():
        if github:  # the reporter's own commands, about the dataset's files only
            found = GITHUB_LINE.match(line)
            assert found and "/" in found.group(2), line
        else:
            assert not line.startswith("::"), line


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
@pytest.mark.parametrize("dataset", ["coco", "yolo"])
def test_no_reporter_lets_a_name_start_a_line(fmt: str, dataset: str, request: pytest.FixtureRequest) -> None:
    root = request.getfixturevalue(dataset)
    result = invoke("check", root, "--output-format", fmt, "--no-cache", "--fail-on", "info")
    assert result.exit_code == 1, result.output
    assert result.stderr == ""
    assert_safe_lines(result.stdout, github=fmt == "github")
    if fmt in ("concise", "full", "github", "html"):  # the names are there, escaped
        shown = FAKE_FILE if dataset == "coco" else LABEL_NAME
        assert escape_text(shown).replace("\\n", "%0A" if fmt == "github" else "\\n") in result.stdout


@pytest.mark.parametrize("relative", [True, False], ids=["from-the-repository-root", "absolute"])
def test_sarif_locates_a_non_utf8_file_name_by_its_bytes(yolo: Path, relative: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(yolo.parent)
    result = invoke("check", yolo.name if relative else yolo, "--output-format", "sarif", "--no-cache",
                    "--select", "I006")
    assert result.exit_code == 0, result.output
    uris = {location["physicalLocation"]["artifactLocation"]["uri"]
            for run in json.loads(result.stdout)["runs"] for found in run["results"] for location in found["locations"]}
    wanted = "yolo/labels/train/bad%FF.txt"
    assert (wanted in uris) if relative else any(uri.endswith(wanted) for uri in uris), uris


@pytest.mark.parametrize("fmt", ["json", "sarif", "gitlab"])
def test_json_formats_give_back_the_original_strings(coco: Path, fmt: str) -> None:
    result = invoke("check", coco, "--output-format", fmt, "--no-cache")
    assert result.exit_code == 1, result.output
    assert_safe_lines(result.stdout)
    document = json.loads(result.stdout)
    strings = json.dumps(document)  # every string of the document, ASCII-escaped the same way
    for name in (FAKE_FILE, FAKE_CLASS, BIDI_CLASS, SURROGATE_CLASS):  # each given back as it was
        assert json.dumps(name)[1:-1] in strings, (name, fmt)
    if fmt == "json":
        assert FAKE_FILE in {f["image"] for f in document["findings"]}


def test_stats_text_and_json(coco: Path) -> None:
    text = invoke("stats", coco)
    assert text.exit_code == 0, text.output
    assert_safe_lines(text.stdout)
    assert escape_text(FAKE_CLASS) in text.stdout and "s\\ud800" in text.stdout
    as_json = invoke("stats", coco, "--output-format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert_safe_lines(as_json.stdout)
    assert set(json.loads(as_json.stdout)["classes"]) == {FAKE_CLASS, BIDI_CLASS, SURROGATE_CLASS, "plain"}


def test_full_escapes_the_source_line_and_counts_lines_as_the_reader(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnc: 1\nnames: [cat]\n")
    write_image(root / "images" / "train" / "one.png", (64, 48))
    # A form feed inside line 1 (not a line end for the reader), an ESC in the bad token of line 2.
    (root / "labels" / "train" / "one.txt").write_text("0 0.5 0.5 0.2 0.2\x0c\n0 \x1b[2J 0.5 0.2 0.2\n")
    result = invoke("check", root, "--output-format", "full", "--no-cache", "--select", "F006")
    assert result.exit_code == 1, result.output
    assert_safe_lines(result.stdout)
    lines = result.stdout.splitlines()
    source = lines.index("2 | 0 \\x1b[2J 0.5 0.2 0.2")
    assert lines[source + 1] == "  | " + "^" * len("0 \\x1b[2J 0.5 0.2 0.2")  # under the escaped line


def test_full_puts_the_caret_under_the_column_of_the_escaped_line(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    root.mkdir()
    # U+2028 and U+202E are valid raw inside a JSON string; the parse error is at the second comma.
    text = '{"info": "x\u2028\u202ey", "images": [], "annotations": [],, "categories": []}\n'
    (root / "annotations.json").write_text(text, encoding="utf-8")
    result = invoke("check", root, "--output-format", "full", "--no-cache")
    assert result.exit_code == 1, result.output
    assert_safe_lines(result.stdout)
    lines = result.stdout.splitlines()
    source = next(i for i, line in enumerate(lines) if line.startswith("1 | "))
    assert lines[source] == "1 | " + escape_text(text.rstrip("\n"))
    column = lines[source + 1].index("^")
    assert lines[source + 1].count("^") == 1 and lines[source][column - 1:column + 1] == ",,"


def test_error_messages_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no\n::error file=x::such"
    result = invoke("check", missing)
    assert result.exit_code == 2
    assert_safe_lines(result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "no\\n::error" in result.stderr


def test_show_and_convert_messages_are_escaped(coco: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shown = invoke("show", coco, FAKE_FILE)  # missing file: drawn as a placeholder, named <stem>.detlint.png
    assert shown.exit_code == 0, shown.output
    assert_safe_lines(shown.stderr)
    document = json.loads((coco / "annotations.json").read_text())
    del document["categories"][2]  # the conversion report is orjson: no surrogate
    (coco / "annotations.json").write_text(json.dumps(document))
    converted = invoke("convert", coco, tmp_path / "out", "--to", "voc")
    assert converted.exit_code == 0, converted.output
    assert_safe_lines(converted.stderr)
    assert escape_text(FAKE_CLASS) in converted.stderr  # the unused class VOC cannot keep, named


def test_diff_headers_escape_the_file_name(tmp_path: Path) -> None:
    stem = "a\n::error file=x::pwned"
    root = make_yolo(tmp_path / "yolo", {stem: "0 0.5 0.5 0.0 0.2\n0 0.5 0.5 0.2 0.2\n"}, ["cat"])
    result = invoke("check", root, "--diff", "--no-cache")
    assert result.exit_code == 1, result.output  # --diff: 1 when it would change a file
    assert_safe_lines(result.stdout)
    assert f"--- a/labels/train/{escape_text(stem)}.txt\n" in result.stdout
    assert "\n-0 0.5 0.5 0.0 0.2\n 0 0.5 0.5 0.2 0.2\n" in result.stdout  # content lines as they are


def test_smoke_text_and_json_escape_names() -> None:
    from detlint.smoke.diagnose import Diagnosis
    from detlint.smoke.render import render_json, render_text
    from detlint.smoke.report import SmokeReport

    report = SmokeReport(dataset="d\n::error file=x::y", device="cpu", model="m", split=SURROGATE_CLASS, images=1,
                         diagnoses=[Diagnosis("T001", f"class {FAKE_CLASS} breaks", file=LABEL_NAME, line=1)])
    assert_safe_lines(render_text(report))
    text = render_json(report)
    assert_safe_lines(text)
    assert json.loads(text)["split"] == SURROGATE_CLASS


def test_escape_text_is_readable_and_unambiguous() -> None:
    assert escape_text("plain name, café 日本 😀") == "plain name, café 日本 😀"
    assert escape_text("a\nb\r\t") == "a\\nb\\r\\t"
    assert escape_text("\x00\x1b\x85\u2028\u202e\u2069\ud800") == "\\x00\\x1b\\x85\\u2028\\u202e\\u2069\\ud800"
    # A backslash is doubled: a real newline and a backslash followed by n never print the same.
    assert escape_text("C:\\new") == "C:\\\\new" != escape_text("C:\new")
