"""A folder in another tool's format is one clear line, exit 2, saying what it looks like
(issue #15 item 16), not a screen of F006 or "no annotation files found"; real YOLO and VOC
sets, broken lines included, are still read as what they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import write_image

from detlint import formats
from detlint.cli import main

KITTI = ("Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"
         "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n")
CVAT = ('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        '  <meta><task><name>t</name></task></meta>\n'
        '  <image id="0" name="a.jpg" width="64" height="48">\n'
        '    <box label="car" occluded="0" xtl="1" ytl="2" xbr="10" ybr="20"></box>\n  </image>\n</annotations>\n')
LABELME = {"version": "5.0.1", "flags": {}, "imagePath": "a.jpg", "imageData": None, "imageHeight": 48,
           "imageWidth": 64, "shapes": [{"label": "car", "points": [[1, 2], [10, 20]], "group_id": None,
                                         "shape_type": "rectangle", "flags": {}}]}
CSV = "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,64,48,car,1,2,10,20\n"
_TITLES = [formats.get(name).title for name in formats.names()]
NOT_A_DATASET = f"not a {', '.join(_TITLES[:-1])} or {_TITLES[-1]} dataset (looks like "


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.output
    return result


def kitti(root: Path, images: str = "training/image_2", labels: str = "training/label_2") -> Path:
    for i in range(16):  # 16 files of 2 lines: 32 F006 where YOLO read them
        write_image(root / images / f"{i:06d}.png")
        (root / labels).mkdir(parents=True, exist_ok=True)
        (root / labels / f"{i:06d}.txt").write_text(KITTI)
    return root


def build(kind: str, root: Path) -> tuple[Path, str]:
    """The dataset (folder or file) to pass and the start of what it looks like."""
    if kind == "kitti in images/ and labels/":
        return kitti(root, "images", "labels"), "KITTI: ds/labels/000000.txt has a class name"
    write_image(root / "images" / "a.jpg")
    if kind == "cvat below the top":  # a CVAT XML at the top is read as CVAT (test_cvat.py)
        (root / "export").mkdir()
        (root / "export" / "annotations.xml").write_text(CVAT)
        return root, "CVAT for images XML: ds/export/annotations.xml has an <annotations> root"
    (root / "annotations.csv").write_text(CSV)
    return root, "a CSV of boxes: ds/annotations.csv has the columns filename,width,height,class,xmin"


@pytest.mark.parametrize("command", ["check", "stats", "convert"])
@pytest.mark.parametrize("kind", ["kitti in images/ and labels/", "cvat below the top", "csv"])
def test_a_foreign_dataset_is_one_line_saying_what_it_looks_like(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 kind: str, command: str) -> None:
    target, looks = build(kind, tmp_path / "ds")
    monkeypatch.chdir(tmp_path)
    given = target.relative_to(tmp_path).as_posix()
    args = [command, given] + (["out", "--to", "coco"] if command == "convert" else ["--no-cache"] * (command == "check"))
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"detlint: error: {given}: {NOT_A_DATASET}{looks}"), result.stderr
    assert result.stderr.count("\n") == 1 and str(tmp_path) not in result.stderr


@pytest.mark.parametrize("layout", ["training", "root"])
def test_a_kitti_devkit_layout_is_read_as_kitti_not_foreign(tmp_path: Path, layout: str) -> None:
    folders = ("training/image_2", "training/label_2") if layout == "training" else ("image_2", "label_2")
    root = kitti(tmp_path / "ds", *folders)
    result = invoke("check", root, "--no-cache", "--output-format", "json")
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "kitti" and report["datasets"][0]["annotations"] == 32
    # the boxes lie outside the 64 x 48 test images (B003): read as boxes, not as broken lines
    assert {f["code"] for f in report["findings"]} == {"B003"}, report["findings"]


def test_an_open_images_csv_is_read_as_open_images_not_foreign(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_image(root / "validation" / "abc.jpg")
    (root / "validation-annotations-bbox.csv").write_text(
        "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,"
        "IsInside\nabc,xclick,/m/0k4j,1,0.1,0.5,0.2,0.6,0,0,0,0,0\n")
    (root / "class-descriptions-boxable.csv").write_text("/m/0k4j,Car\n")
    result = invoke("stats", root, "--output-format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "openimages"


def test_an_empty_folder_still_says_no_annotation_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke("check", tmp_path / "empty")
    assert result.exit_code == 2 and "(no annotation files found)" in result.stderr


@pytest.mark.parametrize(("label", "broken"), [
    ("car 0.5 0.5 0.2 0.2\n", True),  # a class name where the index goes: still YOLO, F006 says so
    ("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5 0.2 0.3 0.4 0.4 0.6 0.7\n", False),  # 15 numbers: a 7-point polygon
    ("car 0.0 0 -1.5 0.1 0.1 0.5 0.5 1.6 1.6 3.6 -0.6 1.7 46.7\n", True),  # KITTI-like but one number short
    ("abc\n", True),  # garbage
])
def test_a_yolo_layout_with_odd_lines_stays_yolo(tmp_path: Path, label: str, broken: bool) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        write_image(root / "images" / f"{i}.png")
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"{i}.txt").write_text(label)
    result = invoke("check", root, "--no-cache", "--output-format", "json", "--select", "F006,F007")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "yolo"
    assert (report["summary"]["error"] > 0) is broken, report["findings"]


def test_a_voc_file_with_attributes_on_its_root_is_still_voc(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    write_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        '<annotation verified="yes"><filename>a.jpg</filename><size><width>64</width><height>48</height>'
        '<depth>3</depth></size><object><name>car</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>10</xmax>'
        '<ymax>10</ymax></bndbox></object></annotation>\n')
    result = invoke("stats", root / "Annotations" / "a.xml", "--output-format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "voc"


def test_a_labelme_folder_is_read_as_labelme_not_called_foreign(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_image(root / "images" / "a.jpg")
    (root / "images" / "a.json").write_text(json.dumps(LABELME, indent=2))
    result = invoke("stats", root, "--output-format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "labelme"
