"""KITTI object labels: the fixture (a devkit layout with DontCare and malformed lines) read
as its expected.json says, checked and converted from the CLI, a round trip through COCO, and
links that leave the root."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import write_image

import detlint
from detlint.cli import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "formats" / "kitti"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
LINE = "Car 0.00 0 -1.58 5.00 6.00 30.00 40.00 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _row(ds: detlint.Dataset, file: str, line: int) -> int:
    ann = ds.annotations
    rows = np.flatnonzero((ann.src_line == line) & (ann.src_file == ds.files.index(file)))
    assert len(rows) == 1
    return int(rows[0])


def test_the_fixture_reads_as_expected() -> None:
    ds = detlint.load(FIXTURE)
    assert ds.format == EXPECTED["format"]
    assert (len(ds.images), len(ds.annotations)) == (EXPECTED["images"], EXPECTED["annotations"])
    assert ds.categories.names == EXPECTED["classes"]
    assert {s: int((ds.images.split == s).sum()) for s in ds.splits} == EXPECTED["splits"]
    assert (ds.images.width.tolist(), ds.images.height.tolist()) == ([200] * 4, [100] * 4)
    box = EXPECTED["box"]
    row = _row(ds, box["file"], box["line"])
    assert ds.annotations.boxes[row].tolist() == box["xyxy"]
    assert (ds.annotations.truncated[row], ds.annotations.occluded[row]) == (box["truncated"], box["occluded"])
    extra = ds.annotations.extra[row]
    assert (extra["truncation"], extra["occlusion"], extra["rotation_y"]) == (
        box["truncation"], box["occlusion"], box["rotation_y"])
    dont_care = EXPECTED["dont_care"]
    row = _row(ds, dont_care["file"], dont_care["line"])
    assert ds.annotations.iscrowd[row] == 1 and ds.categories.names[ds.annotations.category[row]] == "DontCare"
    assert ds.annotations.truncated[row] == -1 and ds.annotations.occluded[row] == -1


def test_check_sniffs_kitti_and_locates_each_bad_line() -> None:
    result = invoke("check", FIXTURE, "--no-cache", "--output-format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "kitti"
    found = sorted(({"code": f["code"], "file": f["file"], "line": f["line"]} for f in report["findings"]),
                   key=lambda f: (f["file"], f["line"] or 0, f["code"]))
    assert found == EXPECTED["findings"]


def test_stats_counts_the_classes() -> None:
    result = invoke("stats", FIXTURE, "--output-format", "json")
    assert result.exit_code == 1, result.output  # as check: a line could not be parsed
    stats = json.loads(result.stdout)
    assert stats["format"] == "kitti" and "Car" in json.dumps(stats)


def test_round_trip_through_coco_keeps_boxes_and_3d_fields(tmp_path: Path) -> None:
    source = detlint.load(FIXTURE)
    assert invoke("convert", FIXTURE, tmp_path / "coco", "--to", "coco").exit_code == 0
    report = json.loads((tmp_path / "coco" / "detlint-conversion.json").read_text())
    assert "label lines that could not be parsed" in json.dumps(report)  # the two bad lines, listed
    assert invoke("convert", tmp_path / "coco", tmp_path / "back", "--to", "kitti").exit_code == 0
    back = detlint.load(tmp_path / "back")
    assert back.format == "kitti" and len(back.annotations) == len(source.annotations)
    order_a = np.lexsort((source.annotations.src_line, source.annotations.boxes[:, 0]))
    order_b = np.lexsort((back.annotations.src_line, back.annotations.boxes[:, 0]))
    np.testing.assert_allclose(back.annotations.boxes[order_b], source.annotations.boxes[order_a], atol=1e-3)
    assert back.annotations.iscrowd[order_b].tolist() == source.annotations.iscrowd[order_a].tolist()
    assert [e["z_3d"] for e in back.annotations.extra[order_b]] == [e["z_3d"] for e in source.annotations.extra[order_a]]
    assert sorted(os.listdir(tmp_path / "back" / "training" / "image_2")) == ["000000.png", "000001.png", "000002.png"]


def test_a_2d_source_writes_the_devkit_unknowns_and_lists_them(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    write_image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height><depth>3</depth></size>"
        "<object><name>car</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>20</xmax><ymax>30</ymax></bndbox>"
        "</object></annotation>\n")
    result = invoke("convert", root, tmp_path / "out", "--to", "kitti")
    assert result.exit_code == 0, result.output
    assert "3D box, alpha and rotation_y unknown" in result.output
    line = (tmp_path / "out" / "label_2" / "a.txt").read_text()
    assert line == "car -1.00 3 -10.00 2.00 3.00 20.00 30.00 -1.00 -1.00 -1.00 -1000.00 -1000.00 -1000.00 -10.00\n"
    assert (tmp_path / "out" / "image_2" / "a.jpg").is_file()


def test_label_2_and_image_2_at_the_root(tmp_path: Path) -> None:
    write_image(tmp_path / "image_2" / "000000.png")
    (tmp_path / "label_2").mkdir()
    (tmp_path / "label_2" / "000000.txt").write_text(LINE)
    (tmp_path / "label_2" / "000001.txt").write_text(LINE)  # no image: I006
    ds = detlint.load(tmp_path)
    assert ds.format == "kitti" and len(ds.annotations) == 2 and ds.splits == [""]
    assert [p.code for p in ds.problems] == ["I006"]


def test_a_configured_class_list_makes_other_types_c001(tmp_path: Path) -> None:
    ds = detlint.load(FIXTURE, classes=["Car"])
    assert ds.categories.names == ["Car", "DontCare"]  # DontCare regions are never an unknown class
    unknown = ds.annotations.category < 0
    assert sorted(e["name"] for e in ds.annotations.extra[unknown]) == ["Cyclist", "Pedestrian"]


@pytest.mark.parametrize("what", ["label", "image"])
def test_a_symlink_out_of_the_root_is_not_read(tmp_path: Path, what: str) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    outside = tmp_path / "secret"
    outside.mkdir()
    if what == "label":
        (outside / "x.txt").write_text("Secret 0 0 0 1 2 3 4 1 1 1 1 1 1 0\n")
        os.symlink(outside / "x.txt", root / "training" / "label_2" / "000009.txt")
    else:
        write_image(outside / "x.png", (300, 300))
        os.symlink(outside / "x.png", root / "training" / "image_2" / "000009.png")
    result = invoke("check", root, "--no-cache", "--output-format", "json")
    report = json.loads(result.stdout)
    codes = {(f["code"], f["file"] or f["image"]) for f in report["findings"]}
    assert "Secret" not in result.output and str(outside) not in result.output
    if what == "label":
        assert ("F008", "training/label_2/000009.txt") in codes
    else:
        assert {c for c, where in codes if where == "training/image_2/000009.png"} & {"F008", "I001", "I002"}


def test_a_label_file_passed_alone_is_checked_in_its_dataset() -> None:
    result = invoke("check", FIXTURE / "training" / "label_2" / "000002.txt", "--no-cache", "--output-format", "json")
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "kitti"
    assert [(f["code"], f["file"], f["line"]) for f in report["findings"]] == [
        ("F006", "training/label_2/000002.txt", 2), ("F006", "training/label_2/000002.txt", 3)]
