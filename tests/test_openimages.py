"""Open Images box CSVs: the fixture (two splits, V6 class descriptions without a header, a
group-of box, an undescribed MID, a non-number) read as its expected.json says, checked and
converted from the CLI, a round trip through YOLO, missing columns, and links out of the root."""

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

FIXTURE = Path(__file__).parent.parent / "fixtures" / "formats" / "openimages"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
HEADER = "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"


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
    assert [e["mid"] for e in ds.categories.extra] == EXPECTED["mids"]
    assert {s: int((ds.images.split == s).sum()) for s in ds.splits} == EXPECTED["splits"]
    box = EXPECTED["box"]
    row = _row(ds, box["file"], box["line"])
    image = ds.annotations.image[row]
    assert [ds.images.width[image], ds.images.height[image]] == box["image_size"]
    np.testing.assert_allclose(ds.annotations.boxes[row], box["xyxy"])
    assert not ds.annotations.normalized.any()
    assert (ds.annotations.occluded[row], ds.annotations.truncated[row]) == (box["occluded"], box["truncated"])
    assert ds.annotations.extra[row] == box["extra"]
    group = EXPECTED["group_of"]
    assert ds.annotations.iscrowd[_row(ds, group["file"], group["line"])] == group["iscrowd"]


def test_check_sniffs_open_images_and_locates_rows_by_line() -> None:
    result = invoke("check", FIXTURE, "--no-cache", "--output-format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "openimages"
    found = sorted(({"code": f["code"], "file": f["file"], "line": f["line"]} for f in report["findings"]),
                   key=lambda f: (f["file"], f["line"] or 0, f["code"]))
    assert found == EXPECTED["findings"]
    assert "/m/0zzzz" in next(f["message"] for f in report["findings"] if f["code"] == "C001")


def test_stats_names_the_classes() -> None:
    result = invoke("stats", FIXTURE, "--output-format", "json")
    assert result.exit_code == 1, result.output  # as check: a row could not be parsed
    stats = json.loads(result.stdout)
    assert stats["format"] == "openimages" and "Airplane" in json.dumps(stats)


def test_round_trip_through_yolo_keeps_the_boxes(tmp_path: Path) -> None:
    source = detlint.load(FIXTURE)
    assert invoke("convert", FIXTURE, tmp_path / "yolo", "--to", "yolo").exit_code == 0
    result = invoke("convert", tmp_path / "yolo", tmp_path / "back", "--to", "openimages")
    assert result.exit_code == 0, result.output
    assert "class without an Open Images MID" in result.output  # YOLO kept names, not MIDs
    back = detlint.load(tmp_path / "back")
    assert back.format == "openimages"
    known = source.annotations.category >= 0
    assert len(back.annotations) == int(known.sum())
    key = lambda ds: np.lexsort((ds.annotations.boxes[:, 1], ds.annotations.boxes[:, 0]))  # noqa: E731
    a = source.annotations.take(np.flatnonzero(known))
    np.testing.assert_allclose(back.annotations.boxes[key(back)], a.boxes[np.lexsort((a.boxes[:, 1], a.boxes[:, 0]))],
                               atol=1e-3)
    assert sorted(os.listdir(tmp_path / "back")) == ["class-descriptions-boxable.csv", "detlint-conversion.json",
                                                     "train", "train-annotations-bbox.csv", "val",
                                                     "val-annotations-bbox.csv"]


def test_open_images_to_itself_keeps_mids_and_flags(tmp_path: Path) -> None:
    assert invoke("convert", FIXTURE, tmp_path / "out", "--to", "openimages").exit_code == 0
    classes = (tmp_path / "out" / "class-descriptions-boxable.csv").read_text()
    assert classes == (FIXTURE / "class-descriptions-boxable.csv").read_text()
    rows = (tmp_path / "out" / "train-annotations-bbox.csv").read_text().splitlines()
    assert rows[0] + "\n" == HEADER
    assert rows[3] == "000595fe6fee6369,activemil,/m/0k4j,1,0.1,0.3,0.2,0.4,1,1,0,1,0"
    assert (tmp_path / "out" / "validation" / "000a1249af2bc5f0.jpg").is_file()


def test_a_csv_without_the_needed_columns_is_one_f001(tmp_path: Path) -> None:
    (tmp_path / "train-annotations-bbox.csv").write_text("ImageID,LabelName,XMin,YMin\na,/m/1,0.1,0.2\n")
    result = invoke("check", tmp_path, "--no-cache", "--output-format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("F001", 1)]
    assert "XMax, YMax" in findings[0]["message"]


def test_unknown_sizes_keep_normalised_boxes_and_a_header_row_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "oidv6-train-annotations-bbox.csv").write_text(HEADER + "abc,xclick,/m/1,1,0.1,0.5,0.2,0.6,0,0,0,0,0\n")
    (tmp_path / "oidv7-class-descriptions-boxable.csv").write_text("LabelName,DisplayName\n/m/1,Thing\n")
    ds = detlint.load(tmp_path)
    assert ds.categories.names == ["Thing"] and ds.splits == ["train"]
    assert ds.annotations.normalized.tolist() == [True]
    assert ds.annotations.boxes.tolist() == [[0.1, 0.2, 0.5, 0.6]]
    assert [p.code for p in ds.problems] == []


@pytest.mark.parametrize("what", ["csv", "image"])
def test_a_symlink_out_of_the_root_is_not_read(tmp_path: Path, what: str) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    outside = tmp_path / "secret"
    outside.mkdir()
    if what == "csv":
        (outside / "x.csv").write_text(HEADER + "Secret,xclick,/m/0k4j,1,0.1,0.5,0.2,0.6,0,0,0,0,0\n")
        os.symlink(outside / "x.csv", root / "test-annotations-bbox.csv")
    else:
        write_image(outside / "x.jpg", (300, 300))
        os.unlink(root / "validation" / "000a1249af2bc5f0.jpg")
        os.symlink(outside / "x.jpg", root / "validation" / "000a1249af2bc5f0.jpg")
    result = invoke("check", root, "--no-cache", "--output-format", "json")
    report = json.loads(result.stdout)
    codes = {(f["code"], f["file"] or f["image"]) for f in report["findings"]}
    assert "Secret" not in result.output and str(outside) not in result.output
    if what == "csv":
        assert ("F008", "test-annotations-bbox.csv") in codes
    else:
        image = [f["code"] for f in report["findings"] if f["image"] == "validation/000a1249af2bc5f0.jpg"]
        assert set(image) & {"F008", "I001", "I002"}, report["findings"]
        ds = detlint.load(root)
        assert ds.images.width[ds.images.path == "validation/000a1249af2bc5f0.jpg"].tolist() == [0]
