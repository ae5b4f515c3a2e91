"""What the command line prints (issue #15): ``show`` takes the paths a shell completes, findings
sort by their COCO pointers' numbers, ``stats`` counts and aligns and rounds, a file that does not
parse makes ``stats`` fail, counts agree in number, and no absolute path is printed that the
user did not give (a dataset from the config included)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import make_yolo, write_image

from detlint.cli import main
from detlint.report import REPORTERS

BOX = "0 0.5 0.5 0.25 0.5\n"
TEXT_FORMATS = [f for f in REPORTERS if f != "html"]


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.output
    return result


def write_coco(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def coco_document(n_images: int = 1, n_categories: int = 1, boxes: list[list[float]] | None = None,
                  first_image: int = 1) -> dict:
    images = [{"id": first_image + i, "file_name": f"img{first_image + i}.png", "width": 64, "height": 48}
              for i in range(n_images)]
    categories = [{"id": i + 1, "name": f"class{i + 1}"} for i in range(n_categories)]
    annotations = [{"id": k + 1, "image_id": first_image, "category_id": 1, "bbox": box,
                    "area": box[2] * box[3], "iscrowd": 0} for k, box in enumerate(boxes or [])]
    return {"images": images, "annotations": annotations, "categories": categories}


def with_images(root: Path, document: dict) -> None:
    for image in document["images"]:
        write_image(root / "images" / image["file_name"], (64, 48))


# --------------------------------------------------------------------------- show: shell paths


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    return make_yolo(tmp_path / "ds", {"a": BOX, "b": BOX + BOX}, ["cat"])


@pytest.mark.parametrize("how", ["absolute", "from the current folder", "from inside the dataset", "dataset-relative"])
def test_show_takes_the_path_a_shell_completes(yolo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               how: str) -> None:
    monkeypatch.chdir(tmp_path)
    dataset, image = "ds", {"absolute": str(yolo / "images/train/b.png"),
                            "from the current folder": "ds/images/train/b.png",
                            "from inside the dataset": "train/b.png",
                            "dataset-relative": "images/train/b.png"}[how]
    if how == "from inside the dataset":
        monkeypatch.chdir(yolo / "images")
        dataset = ".."
    result = invoke("show", dataset, image)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"b\.detlint\.png \(\d+x\d+, 2 boxes\)\n", result.stderr), result.stderr  # relative
    assert (Path.cwd() / "b.detlint.png").read_bytes().startswith(b"\x89PNG")


def test_show_says_one_box_and_prints_the_output_as_given(yolo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("show", "ds", "ds/images/train/a.png", "-o", "out/a.png")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"out/a\.png \(\d+x\d+, 1 box\)\n", result.stderr), result.stderr


@pytest.mark.parametrize("outside", ["absolute", "relative", "dotdot"])
def test_show_refuses_a_path_outside_the_dataset(yolo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 outside: str) -> None:
    other = make_yolo(tmp_path / "other", {"a": BOX}, ["cat"])
    monkeypatch.chdir(tmp_path)
    image = {"absolute": str(other / "images/train/a.png"), "relative": "other/images/train/a.png",
             "dotdot": "ds/../other/images/train/a.png"}[outside]
    result = invoke("show", "ds", image)
    assert result.exit_code == 2
    assert result.stderr == f"detlint: error: image {image!r} is outside the dataset root\n"
    assert not list(tmp_path.glob("*.png"))


# --------------------------------------------------------------------------- sorting by pointer


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_coco_pointers_sort_by_number_in_every_report(tmp_path: Path, fmt: str) -> None:
    """12 unused classes (C002 at /categories/N) and 12 zero-width boxes (B001 at
    /annotations/N/bbox): numbers in order, not /categories/10 before /categories/2."""
    document = coco_document(n_categories=12, boxes=[[1, 1, 0, 5]] * 12)
    with_images(tmp_path / "coco", document)
    write_coco(tmp_path / "coco" / "annotations.json", document)
    result = invoke("check", tmp_path / "coco", "--select", "C002,B001", "--no-cache", "--output-format", fmt)
    assert result.exit_code == 1, result.output
    shown = re.findall(r"/(annotations|categories)/(\d+)", result.stdout)
    assert shown, result.stdout
    for section in ("annotations", "categories"):
        numbers = [int(n) for s, n in shown if s == section]
        assert numbers == sorted(numbers) and len(set(numbers)) >= 11, (section, numbers)


# --------------------------------------------------------------------------- stats


def test_stats_counts_polygons_apart_and_agrees_in_number(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "seg", {"a": "0 0.1 0.1 0.5 0.1 0.5 0.5\n", "b": BOX + BOX}, ["cat"])
    text = invoke("stats", root).stdout
    assert text.splitlines()[0].endswith(": 2 images, 3 annotations (2 boxes, 1 polygon), 1 class"), text
    one = make_yolo(tmp_path / "one", {"a": BOX}, ["cat"])
    text = invoke("stats", one).stdout
    assert text.splitlines()[0].endswith(": 1 image, 1 annotation (1 box, 0 polygons), 1 class"), text
    assert re.search(r"^  train +1 image +1 annotation +0 without annotations$", text, re.M), text
    stats = json.loads(invoke("stats", root, "--output-format", "json").stdout)
    assert (stats["boxes"], stats["polygons"]) == (3, 1)  # boxes: every measured box, outlines included


def test_stats_aligns_long_split_names(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    for split, n in (("train", 3), ("validationholdouttwentytwentyfour", 1)):
        document = coco_document(n_images=n, boxes=[[1, 1, 10, 10]], first_image=10 * n)
        with_images(root, document)
        write_coco(root / "annotations" / f"instances_{split}.json", document)
    text = invoke("stats", root).stdout
    rows = [line for line in text.splitlines() if re.search(r"\d+ images? ", line) and line.startswith("  ")]
    assert len(rows) == 2, text
    columns = {line.index(" image") for line in rows}
    assert len(columns) == 1, rows  # the count columns line up whatever the name's length
    assert all(line.split()[0] in ("train", "validationholdouttwentytwentyfour") for line in rows)


def test_stats_json_has_no_float_noise(tmp_path: Path) -> None:
    """A percentile between two values is computed with float noise (0.15000000000000002)."""
    root = make_yolo(tmp_path / "ds", {"a": "", "b": BOX, "c": BOX * 2, "d": BOX * 3}, ["cat"], size=(64, 48))
    (root / "labels/train/b.txt").write_text("0 0.5 0.5 0.2 0.3\n")
    stats = json.loads(invoke("stats", root, "--output-format", "json").stdout)
    values = [v for key in ("boxes_per_image", "box_width", "box_height", "box_aspect_ratio")
              for v in stats[key].values()]
    assert values and all(v == round(v, 6) for v in values), values
    assert stats["boxes_per_image"]["p5"] == 0.15


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_stats_says_which_files_it_could_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  output_format: str) -> None:
    document = coco_document(boxes=[[1, 1, 10, 10]])
    with_images(tmp_path / "coco", document)
    write_coco(tmp_path / "coco" / "annotations" / "instances_train.json", document)
    write_coco(tmp_path / "coco" / "annotations" / "instances_val.json", document)
    (tmp_path / "coco" / "annotations" / "instances_val.json").write_text('{"images": [,]}\n')
    monkeypatch.chdir(tmp_path)
    check = invoke("check", "coco", "--select", "F001", "--no-cache")
    located = [line for line in check.stdout.splitlines() if " F001 " in line]
    assert check.exit_code == 1 and len(located) == 1, check.output
    result = invoke("stats", "coco", "--output-format", output_format)
    assert result.exit_code == 1  # as check exits on F001
    assert result.stderr.splitlines() == [*located, "stats leave out 1 file that could not be read"]
    if output_format == "json":
        assert json.loads(result.stdout)["images"] == 1  # stdout is still the statistics alone
    else:
        assert result.stdout.startswith("coco (coco): 1 image, 1 annotation")


def test_stats_says_which_label_lines_it_could_not_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_yolo(tmp_path / "ds", {"a": BOX + "0 0.5 zero 0.1 0.1\n", "b": BOX}, ["cat"])
    monkeypatch.chdir(tmp_path)
    check = invoke("check", "ds", "--select", "F006", "--no-cache")
    located = [line for line in check.stdout.splitlines() if " F006 " in line]
    assert check.exit_code == 1 and len(located) == 1, check.output
    result = invoke("stats", "ds")
    assert result.exit_code == 1 and result.stdout.startswith("ds (yolo): 2 images, 2 annotations")
    assert result.stderr.splitlines() == [*located, "stats leave out 1 label line that could not be parsed"]


def test_stats_of_a_clean_dataset_still_exits_0(yolo: Path) -> None:
    result = invoke("stats", yolo)
    assert result.exit_code == 0 and result.stderr == "", result.output


# --------------------------------------------------------------------------- no absolute paths


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose config names its dataset; a B001 and a C002 to report."""
    root = tmp_path / "project"
    make_yolo(root / "data" / "ds", {"a": "0 0.5 0.5 0 0.5\n"}, ["cat", "dog"])
    (root / "pyproject.toml").write_text('[tool.detlint]\ndatasets = ["data/ds"]\n')
    (root / "sub").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_dataset_from_the_config_is_printed_relative(project: Path, fmt: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for where, prefix in ((project, "data/ds/"), (project / "sub", "../data/ds/")):
        monkeypatch.chdir(where)
        result = invoke("check", "--no-cache", "--output-format", fmt)
        assert result.exit_code == 1, result.output
        assert str(project) not in result.output and str(project.parent) not in result.output
        if fmt in ("concise", "full", "gitlab", "github"):
            assert prefix + "labels/train/a.txt" in result.stdout, result.stdout


def test_a_config_error_names_the_config_relative(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text('[tool.detlint]\ndatasets = ["data/ds"]\nbogus = 1\n')
    monkeypatch.chdir(project / "sub")
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2
    assert result.stderr == "detlint: error: ../pyproject.toml: unknown config key 'bogus'\n"


# --------------------------------------------------------------------------- counts in number


def test_counted_agrees_in_number() -> None:
    from detlint.safetext import counted

    assert [counted(1, "box"), counted(0, "box"), counted(2, "class"), counted(1, "entry"), counted(3, "entry"),
            counted(2, "day"), counted(2, "info", "info"), counted(2, "polygon row")] == [
        "1 box", "0 boxes", "2 classes", "1 entry", "3 entries", "2 days", "2 info", "2 polygon rows"]


def test_messages_with_a_count_of_one_are_singular(tmp_path: Path) -> None:
    """F007 on one image, F013 with one polygon row, C006 with one name: 'image', 'row', 'entry'."""
    root = make_yolo(tmp_path / "ds", {"a": "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n",
                                       "b": "0 30 20 8 8\n", "c": "0 0.1 0.1 0.5 0.1 0.5 0.5\n"}, ["cat"])
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnc: 2\nnames: [cat]\n")
    result = invoke("check", root, "--no-cache", "--select", "F007,F013,C006", "--output-format", "json")
    messages = {f["code"]: f["message"] for f in json.loads(result.stdout)["findings"]}
    assert "1 image of this dataset is affected" in messages["F007"], messages
    assert "mixes 4 box rows and 1 polygon row:" in messages["F013"], messages
    assert messages["C006"] == "nc is 2 but names has 1 entry", messages
    concise = invoke("check", root, "--no-cache", "--select", "C006").stdout
    assert concise.splitlines()[-1] == "Found 1 error.", concise
