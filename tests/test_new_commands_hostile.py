"""The newest commands (``check --predictions``, ``split``, ``merge``, ``diff``) on hostile input:
huge numbers, split names that are path components, numpy warnings leaking to stderr. Each case
runs the real CLI in a subprocess, so a warning printed on stderr is seen as a user sees it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def detlint(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "detlint", *map(str, args)], capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd)


def test_coco_results_bbox_with_a_huge_integer_is_a_finding_not_an_internal_error(tmp_path: Path) -> None:
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10 ** 400, 1], "score": 0.5}]))
    result = detlint("check", FIXTURES / "rules" / "predictions_coco", "--predictions", preds, "--images", "none",
                     "--no-cache", "--output-format", "json")
    assert result.returncode == 0, result.stderr  # P007 is a warning
    assert "internal error" not in result.stderr and result.stderr == ""
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "P007" in codes  # the box has a non-finite coordinate once read as a float


def test_yolo_txt_huge_class_index_is_reported_as_written_without_a_warning(tmp_path: Path) -> None:
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "a.txt").write_text("99999999999999999999999 0.5 0.5 0.2 0.2 0.5\n0 0.5 0.5 0.2 0.2 0.9\n")
    result = detlint("check", FIXTURES / "yolo_clean", "--predictions", preds, "--images", "none", "--no-cache")
    assert result.returncode == 1
    assert result.stderr == ""  # no numpy RuntimeWarning on stderr
    assert "-9223372036854775808" not in result.stdout
    assert "a.txt:1: P001" in result.stdout


@pytest.mark.parametrize("names", ["..,.", "train,..", "...,val"])
def test_split_names_made_of_dots_are_refused(tmp_path: Path, names: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "yolo_clean", src)
    result = detlint("split", src, "--out", tmp_path / "out", "--ratios", "0.5,0.5", "--names", names)
    assert result.returncode == 2
    assert "--names" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _coco(folder: Path, boxes: list[list[float]]) -> None:
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (64, 48)).save(folder / "images" / "a.jpg")
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "area": 1.0, "iscrowd": 0}
            for i, b in enumerate(boxes)]
    (folder / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": anns,
        "categories": [{"id": 1, "name": "cat"}]}))


def test_diff_html_with_a_huge_box_prints_no_warning(tmp_path: Path) -> None:
    _coco(tmp_path / "old", [[1, 1, 10, 10]])
    _coco(tmp_path / "new", [[1, 1, 10, 10], [1.7e308, 1, 1, 10]])  # finite, overflows once scaled
    result = detlint("diff", tmp_path / "old", tmp_path / "new", "--output-format", "html")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize("command", ["split", "merge"])
def test_destination_that_is_a_dangling_symlink_is_one_clear_line(tmp_path: Path, command: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "yolo_clean", src)
    link = tmp_path / "dest"
    link.symlink_to(tmp_path / "nowhere")
    extra = ["--ratios", "0.5,0.5"] if command == "split" else [FIXTURES / "voc_clean"]
    result = detlint(command, src, *extra, "--out", link)
    assert result.returncode == 2
    assert "symbolic link" in result.stderr and ".tmp" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()


def test_check_of_a_coco_box_whose_corner_overflows_prints_no_warning(tmp_path: Path) -> None:
    _coco(tmp_path / "ds", [[1e308, 1, 1e308, 10]])
    result = detlint("check", tmp_path / "ds", "--images", "none", "--no-cache")
    assert result.returncode == 1
    assert result.stderr == ""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_diff_rev_of_an_unchanged_committed_symlink_reports_no_change(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("0 0.5 0.5 0.2 0.2 SECRET\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    shutil.copytree(FIXTURES / "yolo_clean", repo / "data")
    (repo / "data" / "labels" / "train" / "evil.txt").symlink_to(outside)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    result = detlint("diff", "data", "--rev", "HEAD", "--output-format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []  # nothing changed: no D001 for the link
    assert "SECRET" not in result.stdout + result.stderr
    assert (repo / "data" / "labels" / "train" / "evil.txt").is_symlink()


def test_merge_class_map_that_is_a_fifo_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "classes.yaml"
    os.mkfifo(fifo)
    result = detlint("merge", FIXTURES / "yolo_clean", FIXTURES / "demo", "--out", tmp_path / "out",
                     "--classes", fifo)
    assert result.returncode == 2
    assert "--classes" in result.stderr and "FIFO" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_merge_class_map_naming_no_class_of_its_source_is_refused(tmp_path: Path) -> None:
    classes = tmp_path / "classes.yaml"
    classes.write_text("sources:\n  yolo_clean:\n    kat: animal\n")  # a typo for 'cat'
    result = detlint("merge", FIXTURES / "yolo_clean", FIXTURES / "demo", "--out", tmp_path / "out",
                     "--classes", classes)
    assert result.returncode == 2
    assert "'kat'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_diff_words_a_huge_box_in_a_short_message(tmp_path: Path) -> None:
    _coco(tmp_path / "old", [[1, 1, 10, 10]])
    _coco(tmp_path / "new", [[1, 1, 10, 10], [1e300, 1, 1, 10]])
    result = detlint("diff", tmp_path / "old", tmp_path / "new")
    added = [line for line in result.stdout.splitlines() if "D005" in line]
    assert len(added) == 1 and "1e+300" in added[0] and len(added[0]) < 200


@pytest.mark.parametrize("command", [["diff", "{fifo}", "{clean}"], ["split", "{fifo}", "--out", "{out}"],
                                     ["merge", "{fifo}", "{clean}", "--out", "{out}"]])
def test_a_dataset_path_that_is_a_fifo_is_named_as_one(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "annotations.json"
    os.mkfifo(fifo)
    values = {"fifo": fifo, "clean": FIXTURES / "yolo_clean", "out": tmp_path / "out"}
    result = detlint(*[part.format(**values) for part in command])
    assert result.returncode == 2
    assert "FIFO" in result.stderr and "Errno" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _hostile_classes(folder: Path) -> None:
    shutil.copytree(FIXTURES / "yolo_clean", folder)
    text = (folder / "data.yaml").read_text().replace("names: [cat, dog, bird]",
                                                      'names: ["c\\e[31mat\\nfake: X1", dog, bird]')
    (folder / "data.yaml").write_text(text)


def test_split_and_merge_summaries_keep_a_class_name_newline_on_its_line(tmp_path: Path) -> None:
    _hostile_classes(tmp_path / "src")
    classes = tmp_path / "classes.yaml"
    classes.write_text('sources:\n  src:\n    bird: "b\\e[31m\\nfake: Y1"\n')
    split = detlint("split", tmp_path / "src", "--out", tmp_path / "s", "--ratios", "0.5,0.5")
    merge = detlint("merge", tmp_path / "src", FIXTURES / "demo", "--out", tmp_path / "m", "--classes", classes,
                    "--keep-variants")
    assert split.returncode == 0 and merge.returncode == 0, split.stderr + merge.stderr
    for result in (split, merge):
        assert "\x1b" not in result.stderr and result.stdout == ""
        assert not any(line.startswith("fake:") for line in result.stderr.splitlines()), result.stderr
    assert "c\\x1b[31mat\\nfake: X1" in split.stderr
    assert "b\\x1b[31m\\nfake: Y1" in merge.stderr
