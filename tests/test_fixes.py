"""``detlint check --fix`` / ``--unsafe-fixes`` / ``--diff`` on small defective datasets of each
format, built here in ``tmp_path``: fixed codes are gone on re-check, unsafe fixes wait for
``--unsafe-fixes``, every line a fix did not touch keeps its bytes, images are never written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detlint.checking import CheckRequest, run_check
from detlint.cli import main
from detlint.edits import merge_serialised
from detlint.engine import run_rules
from detlint.fixes import apply_fixes
from detlint.formats import load
from detlint.rules._fixes import (
    clip_boxes,
    drop_annotations,
    fill_image_size,
    merge_classes,
    recompute_area,
    renumber_ids,
)

FIXED_SAFE = {"B001"}  # a zero-size box: nothing to keep
DROPPED_UNSAFE = {"B003", "B004"}  # real objects misplaced or mistyped: only with --unsafe-fixes


# ------------------------------------------------------------------------------------ helpers


def make_image(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path)


def image_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.suffix.lower() in (".jpg", ".png")}


def codes(root: Path) -> list[str]:
    return [f.code for f in run_rules(load(root))]


def check(root: Path, **options) -> tuple[str, int]:
    return run_check(CheckRequest(paths=[root], use_cache=False, output_format="json", **options))


def fixed_codes(root: Path, **options) -> list[str]:
    """Run a fixing check; return the codes of the re-check that ``check`` reports afterwards."""
    text, _ = check(root, **options)
    return [f["code"] for f in json.loads(text)["findings"]]


# ------------------------------------------------------------------------------------ YOLO

YOLO_LINES = [
    "0 0.500000 0.500000 0.200000 0.200000\n",  # fine
    "0 0.5 0.5 0.0 0.1\n",  # B001: zero width
    "1 0.95 0.5 0.2 0.2\n",  # B002: right edge at 1.05 (105 px of 100)
    "1  0.30 0.30   0.1 0.1\n",  # fine, odd spacing: must survive byte for byte
    "0 0.5 nan 0.2 0.2\n",  # B004
    "1 1.009 0.5 0.01 0.1\n",  # B003: x from 1.004 to 1.014 (within F007's tolerance)
    "0 0.25 0.75 0.1 0.1",  # fine, no final newline
]


@pytest.fixture
def yolo_root(tmp_path: Path) -> Path:
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [cat, dog]\n")
    make_image(root / "images" / "train" / "a.jpg", 100, 80)
    make_image(root / "images" / "train" / "b.jpg", 100, 80)
    (root / "labels" / "train" / "a.txt").write_text("".join(YOLO_LINES), newline="")
    (root / "labels" / "train" / "b.txt").write_text("1 0.5 0.5 0.5 0.5\r\n", newline="")
    return root


def test_yolo_safe_fix_drops_only_the_broken_lines(yolo_root: Path) -> None:
    label = yolo_root / "labels" / "train" / "a.txt"
    other = (yolo_root / "labels" / "train" / "b.txt").read_bytes()
    images = image_hashes(yolo_root)
    assert FIXED_SAFE | DROPPED_UNSAFE | {"B002"} <= set(codes(yolo_root))
    remaining = fixed_codes(yolo_root, fix=True)
    assert not FIXED_SAFE & set(remaining)
    assert DROPPED_UNSAFE | {"B002"} <= set(remaining)  # unsafe: needs --unsafe-fixes
    expected = [YOLO_LINES[i] for i in (0, 2, 3, 4, 5, 6)]
    assert label.read_text() == "".join(expected)
    assert (yolo_root / "labels" / "train" / "b.txt").read_bytes() == other
    assert image_hashes(yolo_root) == images


def test_yolo_unsafe_fix_clips_the_box(yolo_root: Path) -> None:
    images = image_hashes(yolo_root)
    remaining = fixed_codes(yolo_root, fix=True, unsafe_fixes=True)
    assert not (FIXED_SAFE | DROPPED_UNSAFE | {"B002"}) & set(remaining)
    lines = (yolo_root / "labels" / "train" / "a.txt").read_text().splitlines(keepends=True)
    # x from 0.85 to 1.0 after clipping: cx 0.925, w 0.15; the class token stays as written
    assert lines == [YOLO_LINES[0], "1 0.925000 0.500000 0.150000 0.200000\n", YOLO_LINES[3], YOLO_LINES[6]]
    assert image_hashes(yolo_root) == images


def test_yolo_without_fix_nothing_changes(yolo_root: Path) -> None:
    before = {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()}
    check(yolo_root)
    assert {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()} == before


def test_yolo_diff_writes_nothing_and_prints_a_diff(yolo_root: Path) -> None:
    before = {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["check", str(yolo_root), "--diff", "--unsafe-fixes", "--no-cache"])
    assert result.exit_code == 1, result.output  # as ruff: it would change something
    assert {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()} == before
    out = result.output
    assert "--- a/labels/train/a.txt\n+++ b/labels/train/a.txt\n" in out
    assert "-0 0.5 0.5 0.0 0.1\n" in out and "-1 1.009 0.5 0.01 0.1\n" in out
    assert "+1 0.925000 0.500000 0.150000 0.200000\n" in out
    assert " 1  0.30 0.30   0.1 0.1\n" in out  # context lines are shown as they are


# ------------------------------------------------------------------------------------ VOC


def voc_object(name: str, box: tuple[str, str, str, str]) -> str:
    xmin, ymin, xmax, ymax = box
    return (f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose></pose>\n\t\t<difficult>0</difficult>\n"
            f"\t\t<bndbox>\n\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n"
            f"\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<ymax>{ymax}</ymax>\n\t\t</bndbox>\n\t</object>\n")


VOC_HEAD = ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotation verified='yes'>\n"
            "\t<!-- labelled by hand -->\n\t<folder>imgs</folder>\n\t<filename>a.jpg</filename>\n"
            "\t<size>\n\t\t<width>100</width>\n\t\t<height>80</height>\n\t\t<depth>3</depth>\n\t</size>\n"
            "\t<segmented></segmented>\n")
VOC_OBJECTS = [
    voc_object("cat", ("10", "10", "50", "40")),  # fine
    voc_object("dog", ("30", "20", "20", "40")),  # B001: xmax before xmin
    voc_object("cat", ("60", "10", "110", "40")),  # B002: 10 px past the right edge
    voc_object("dog", ("5", "5", "abc", "30")),  # B004
    voc_object("cat", ("150", "100", "170", "120")),  # B003
    voc_object("dog", ("30", "30", "45.5", "60")),  # fine
]
VOC_TAIL = "\t<extra>kept &amp; untouched</extra>\n</annotation>\n"


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    root = tmp_path / "voc"
    root.mkdir()
    make_image(root / "a.jpg", 100, 80)
    make_image(root / "b.jpg", 64, 48)
    (root / "a.xml").write_text(VOC_HEAD + "".join(VOC_OBJECTS) + VOC_TAIL)
    (root / "b.xml").write_text("<annotation>\n  <filename>b.jpg</filename>\n  <size>\n    <width>0</width>\n"
                                "    <height>0</height>\n  </size>\n" + voc_object("cat", ("2", "2", "9", "9")).replace(
                                    "\t", "  ") + "</annotation>\n")
    return root


def test_voc_safe_fix_removes_no_real_object_and_keeps_everything_else(voc_root: Path) -> None:
    images = image_hashes(voc_root)
    assert FIXED_SAFE | DROPPED_UNSAFE | {"B002", "F011"} <= set(codes(voc_root))
    remaining = fixed_codes(voc_root, fix=True)
    assert "F011" not in remaining
    # swapped corners (B001), a typo (B004) and a box outside (B003) are real objects: kept
    assert FIXED_SAFE | DROPPED_UNSAFE | {"B002"} <= set(remaining)
    assert (voc_root / "a.xml").read_text() == VOC_HEAD + "".join(VOC_OBJECTS) + VOC_TAIL
    # F011: the size comes from the image header; only those two lines change
    assert (voc_root / "b.xml").read_text().splitlines()[3:5] == ["    <width>64</width>", "    <height>48</height>"]
    assert image_hashes(voc_root) == images


def test_voc_unsafe_fix_clips_in_the_file_convention(voc_root: Path) -> None:
    remaining = fixed_codes(voc_root, fix=True, unsafe_fixes=True)
    assert not (FIXED_SAFE | DROPPED_UNSAFE | {"B002"}) & set(remaining)
    clipped = VOC_OBJECTS[2].replace("<xmax>110</xmax>", "<xmax>100</xmax>")
    kept = [VOC_OBJECTS[0], clipped, VOC_OBJECTS[5]]
    assert (voc_root / "a.xml").read_text() == VOC_HEAD + "".join(kept) + VOC_TAIL


def test_voc_crlf_and_diff(voc_root: Path) -> None:
    crlf = (VOC_HEAD + "".join(VOC_OBJECTS) + VOC_TAIL).replace("\n", "\r\n").encode()
    (voc_root / "a.xml").write_bytes(crlf)
    text, status = check(voc_root, diff=True, unsafe_fixes=True)
    assert status == 1  # it would change something
    assert (voc_root / "a.xml").read_bytes() == crlf
    assert "--- a/a.xml" in text and "-\t\t<name>dog</name>" in text
    check(voc_root, fix=True, unsafe_fixes=True, select=["B001", "B003", "B004"])
    expected = (VOC_HEAD + "".join(VOC_OBJECTS[i] for i in (0, 2, 5)) + VOC_TAIL).replace("\n", "\r\n")
    assert (voc_root / "a.xml").read_bytes() == expected.encode()


def test_voc_missing_size_is_added(voc_root: Path) -> None:
    (voc_root / "b.xml").write_text("<annotation>\n\t<filename>b.jpg</filename>\n"
                                    + voc_object("cat", ("2", "2", "9", "9")) + "</annotation>\n")
    check(voc_root, fix=True, select=["F011"])
    text = (voc_root / "b.xml").read_text()
    added = "\t<size>\n\t\t<width>64</width>\n\t\t<height>48</height>\n\t</size>\n"
    assert f"\t<filename>b.jpg</filename>\n{added}\t<object>" in text
    assert "F011" not in codes(voc_root)


# ------------------------------------------------------------------------------------ COCO


def coco_document() -> dict:
    return {
        "info": {"description": "fixture", "year": 2024},
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 100, "height": 80, "license": 1},
            {"id": 2, "file_name": "b.jpg", "width": 0, "height": 0},  # F011
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 20], "area": 0, "iscrowd": 0},  # B001
            {"id": 3, "image_id": 1, "category_id": 2, "bbox": [60.5, 10, 50, 20], "area": 1000,
             "iscrowd": 0},  # B002 (right edge 110.5 of 100)
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [5, None, 10, 10], "area": 100,
             "iscrowd": 0},  # B004
            {"id": 5, "image_id": 1, "category_id": 2, "bbox": [200, 200, 10, 10], "area": 100,
             "iscrowd": 0},  # B003
            {"id": 6, "image_id": 1, "category_id": 2, "bbox": [20, 30, 10, 10], "area": 8000,
             "iscrowd": 0, "note": "é"},  # B009
            {"id": 7, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"},
                       {"id": 2, "name": "dog", "supercategory": "animal"}],
    }


@pytest.fixture
def coco_root(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    make_image(root / "images" / "a.jpg", 100, 80)
    make_image(root / "images" / "b.jpg", 64, 48)
    (root / "annotations.json").write_text(json.dumps(coco_document(), indent=2, ensure_ascii=False) + "\n")
    return root


KEPT_SAFE = [1, 3, 4, 5, 6, 7]  # the safe fixes drop the zero-width box (2) only


def annotation_ids(root: Path) -> list[int]:
    return [a["id"] for a in json.loads((root / "annotations.json").read_text())["annotations"]]


def test_coco_safe_fix(coco_root: Path) -> None:
    images = image_hashes(coco_root)
    original = (coco_root / "annotations.json").read_text()
    assert FIXED_SAFE | DROPPED_UNSAFE | {"B002", "B009", "F011"} <= set(codes(coco_root))
    remaining = fixed_codes(coco_root, fix=True)
    assert not (FIXED_SAFE | {"B009", "F011"}) & set(remaining)
    assert DROPPED_UNSAFE | {"B002"} <= set(remaining)
    assert annotation_ids(coco_root) == KEPT_SAFE
    document = json.loads((coco_root / "annotations.json").read_text())
    assert document["annotations"][4]["area"] == 100  # B009: the box area
    assert document["annotations"][4]["note"] == "é"
    assert (document["images"][1]["width"], document["images"][1]["height"]) == (64, 48)
    expected = coco_document()
    expected["annotations"] = [a for a in expected["annotations"] if a["id"] in KEPT_SAFE]
    expected["annotations"][4]["area"] = 100
    expected["images"][1].update(width=64, height=48)
    # the same text json.dump would write: every line the fixes did not touch is unchanged
    assert (coco_root / "annotations.json").read_text() == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert original != (coco_root / "annotations.json").read_text()
    assert image_hashes(coco_root) == images


def test_coco_unsafe_fix_clips_and_updates_the_box_area(coco_root: Path) -> None:
    remaining = fixed_codes(coco_root, fix=True, unsafe_fixes=True)
    assert not (FIXED_SAFE | DROPPED_UNSAFE | {"B002", "B009", "F011"}) & set(remaining)
    clipped = json.loads((coco_root / "annotations.json").read_text())["annotations"][1]
    assert clipped["bbox"] == [60.5, 10, 39.5, 20]
    assert clipped["area"] == 790  # it was the box's area, so it follows the clipped box


def test_coco_keeps_four_space_indent_and_key_order(coco_root: Path) -> None:
    document = coco_document()
    (coco_root / "annotations.json").write_text(json.dumps(document, indent=4))
    check(coco_root, fix=True)
    text = (coco_root / "annotations.json").read_text()
    expected = coco_document()
    expected["annotations"] = [a for a in expected["annotations"] if a["id"] in KEPT_SAFE]
    expected["annotations"][4]["area"] = 100
    expected["images"][1].update(width=64, height=48)
    assert text == json.dumps(expected, indent=4)


def test_coco_one_line_json_and_its_diff(coco_root: Path) -> None:
    (coco_root / "annotations.json").write_bytes(json.dumps(coco_document(), separators=(",", ":")).encode())
    text, _ = check(coco_root, diff=True)
    assert "annotations[1]: dropped" in text and "images[1].width: 0 -> 64" in text
    check(coco_root, fix=True)
    data = (coco_root / "annotations.json").read_bytes()
    assert b"\n" not in data and annotation_ids(coco_root) == KEPT_SAFE


def test_coco_ids_renumbered_only_with_unsafe_fixes(coco_root: Path) -> None:
    document = coco_document()
    document["images"][0]["id"] = 0  # F005
    for annotation in document["annotations"][:6]:
        annotation["image_id"] = 0
    document["annotations"][6]["id"] = 1  # F003: duplicate of annotation 1
    (coco_root / "annotations.json").write_text(json.dumps(document, indent=2))
    check(coco_root, fix=True)
    assert {"F003", "F005"} <= set(codes(coco_root))
    check(coco_root, fix=True, unsafe_fixes=True)
    assert not {"F003", "F005"} & set(codes(coco_root))
    fixed = json.loads((coco_root / "annotations.json").read_text())
    new_image_id = fixed["images"][0]["id"]
    assert new_image_id == 3  # one past the largest image id of the file
    # the duplicate (the later entry) gets one past the largest annotation id of the file
    assert [(a["id"], a["image_id"]) for a in fixed["annotations"]] == [(1, 3), (3, 3), (6, 3), (7, 2)]


def test_coco_class_variants_merge(coco_root: Path) -> None:
    document = coco_document()
    document["categories"].append({"id": 3, "name": "Dog_", "supercategory": "animal"})
    document["annotations"][0]["category_id"] = 3
    (coco_root / "annotations.json").write_text(json.dumps(document, indent=2))
    assert "C004" in codes(coco_root)
    check(coco_root, fix=True, unsafe_fixes=True, select=["C004"])
    fixed = json.loads((coco_root / "annotations.json").read_text())
    assert [c["name"] for c in fixed["categories"]] == ["cat", "dog"]
    assert fixed["annotations"][0]["category_id"] == 2
    assert "C004" not in codes(coco_root)


# ------------------------------------------------------------------------------------ pure functions


def test_fix_functions_never_mutate_their_input(coco_root: Path) -> None:
    ds = load(coco_root)
    boxes, areas, widths = ds.annotations.boxes.copy(), ds.annotations.area.copy(), ds.images.width.copy()
    ids, names = ds.annotations.id.copy(), list(ds.categories.names)
    dropped = drop_annotations(ds, [1, 3])
    assert len(dropped.annotations) == len(ds.annotations) - 2
    clipped = clip_boxes(ds, [2])
    assert clipped.annotations.boxes[2].tolist() == [60.5, 10.0, 100.0, 30.0]
    assert clipped.annotations.raw[2].tolist() == [60.5, 10.0, 39.5, 20.0]
    assert recompute_area(ds, [5], [100.0]).annotations.area[5] == 100
    assert fill_image_size(ds, [1]).images.width[1] == 64
    assert renumber_ids(ds, annotation_rows=[0]).annotations.id[0] == 8
    assert merge_classes(ds, {"dog": "cat"}).categories.names == ["cat"]
    np.testing.assert_array_equal(ds.annotations.boxes, boxes)
    np.testing.assert_array_equal(ds.annotations.area, areas)
    np.testing.assert_array_equal(ds.images.width, widths)
    np.testing.assert_array_equal(ds.annotations.id, ids)
    assert ds.categories.names == names


def test_apply_fixes_reports_counts_and_files_without_writing(coco_root: Path) -> None:
    ds = load(coco_root)
    before = (coco_root / "annotations.json").read_bytes()
    outcome = apply_fixes(ds, run_rules(ds), unsafe=False, write=False)
    assert outcome.changed and outcome.files == ["annotations.json"]
    assert outcome.applied == {"F011": 1, "B009": 1, "B001": 1}
    assert (coco_root / "annotations.json").read_bytes() == before
    assert outcome.diff.startswith("--- a/annotations.json\n+++ b/annotations.json\n@@ ")


def test_merge_serialised_keeps_untouched_original_lines() -> None:
    original = "<a x='1'>\n  <b></b>\n  <c>1</c>\n  <d>2</d>\n</a>\n"
    base = "<a x=\"1\">\n  <b/>\n  <c>1</c>\n  <d>2</d>\n</a>"
    edited = "<a x=\"1\">\n  <b/>\n  <c>5</c>\n</a>"
    lines, edits = merge_serialised(original, base, edited)
    from detlint.edits import apply_edits as _apply_edits

    assert _apply_edits(lines, edits) == "<a x='1'>\n  <b></b>\n  <c>5</c>\n</a>\n"


def test_voc_class_variants_merge_renames_objects(voc_root: Path) -> None:
    text = (voc_root / "b.xml").read_text().replace("<name>cat</name>", "<name>cat_</name>")
    (voc_root / "b.xml").write_text(text)
    assert "C004" in codes(voc_root)
    check(voc_root, fix=True, select=["C004"])
    assert "cat_" in (voc_root / "b.xml").read_text()  # unsafe: not without --unsafe-fixes
    check(voc_root, fix=True, unsafe_fixes=True, select=["C004"])
    assert (voc_root / "b.xml").read_text() == text.replace("<name>cat_</name>", "<name>cat</name>")
    assert "C004" not in codes(voc_root)


def test_yolo_polygon_is_clipped_point_by_point(yolo_root: Path) -> None:
    label = yolo_root / "labels" / "train" / "b.txt"
    label.write_text("0 0.1 0.1 1.009 0.2 0.5 0.9\r\n1 0.5 0.5 0.5 0.5\r\n", newline="")
    check(yolo_root, fix=True, unsafe_fixes=True, select=["B002"])
    assert label.read_bytes() == (b"0 0.100000 0.100000 1.000000 0.200000 0.500000 0.900000\r\n"
                                  b"1 0.5 0.5 0.5 0.5\r\n")


def test_yolo_dropping_the_last_unterminated_line_keeps_the_file_unterminated(yolo_root: Path) -> None:
    label = yolo_root / "labels" / "train" / "b.txt"
    label.write_text("1 0.5 0.5 0.5 0.5\n0 0.5 0.5 0.0 0.1", newline="")
    check(yolo_root, fix=True, select=["B001"])
    assert label.read_text() == "1 0.5 0.5 0.5 0.5"


def test_yolo_class_variants_are_left_alone(yolo_root: Path) -> None:
    (yolo_root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat, Cat_]\n")
    outcome = apply_fixes(load(yolo_root), [f for f in run_rules(load(yolo_root)) if f.code == "C004"],
                          unsafe=True, write=False)
    assert not outcome.changed and outcome.applied == {}
