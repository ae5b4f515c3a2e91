"""A safe fix never loses a real object (#15 item 9): an annotation whose one value is
unreadable, mistyped or out of frame is still an object, so dropping it waits for
``--unsafe-fixes``. Safe drops remain only where no object is lost: a zero-size box with no
mask, the later of two identical labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_image

from detlint.checking import CheckRequest, run_check


def _check(root: Path, **options) -> list[dict]:
    text, _ = run_check(CheckRequest(paths=[root], use_cache=False, output_format="json", **options))
    return json.loads(text)["findings"]


def _applicability(findings: list[dict], code: str) -> list[str]:
    return [f["fix"]["applicability"] for f in findings if f["code"] == code]


def _voc(root: Path, objects: list[tuple[str, tuple[str, str, str, str]]], size: tuple[int, int] = (100, 80)) -> Path:
    root.mkdir(parents=True)
    write_image(root / "a.jpg", size)
    body = "".join(f"  <object>\n    <name>{name}</name>\n    <bndbox>\n      <xmin>{b[0]}</xmin>\n"
                   f"      <ymin>{b[1]}</ymin>\n      <xmax>{b[2]}</xmax>\n      <ymax>{b[3]}</ymax>\n"
                   "    </bndbox>\n  </object>\n" for name, b in objects)
    (root / "a.xml").write_text(f"<annotation>\n  <filename>a.jpg</filename>\n  <size>\n    <width>{size[0]}</width>\n"
                                f"    <height>{size[1]}</height>\n  </size>\n{body}</annotation>\n")
    return root


def test_a_typo_in_one_voc_coordinate_does_not_remove_the_object(tmp_path: Path) -> None:
    root = _voc(tmp_path / "voc", [("cat", ("10", "10", "abc", "40")), ("dog", ("20", "20", "60", "60"))])
    before = (root / "a.xml").read_bytes()
    assert _applicability(_check(root), "B004") == ["unsafe"]
    remaining = _check(root, fix=True)
    assert (root / "a.xml").read_bytes() == before  # the typo is for a human to correct
    assert [f["code"] for f in remaining] == ["B004"]
    _check(root, fix=True, unsafe_fixes=True)
    assert b"abc" not in (root / "a.xml").read_bytes()


def test_swapped_corners_are_an_object_a_click_without_drag_is_not(tmp_path: Path) -> None:
    root = _voc(tmp_path / "voc", [("cat", ("50", "10", "20", "40")),  # swapped x: a real object
                                   ("dog", ("30", "30", "29", "60"))])  # 1-based xmax = xmin - 1: zero width
    assert sorted(_applicability(_check(root), "B001")) == ["safe", "unsafe"]
    _check(root, fix=True)
    text = (root / "a.xml").read_text()
    assert "<name>cat</name>" in text and "<name>dog</name>" not in text


def _coco(root: Path, annotations: list[dict], declared: tuple[int, int] = (100, 80),
          real: tuple[int, int] = (100, 80)) -> Path:
    write_image(root / "images" / "a.jpg", real)
    for number, annotation in enumerate(annotations, start=1):
        annotation.setdefault("id", number)
        annotation.setdefault("image_id", 1)
        annotation.setdefault("category_id", 1)
        annotation.setdefault("iscrowd", 0)
    document = {"images": [{"id": 1, "file_name": "a.jpg", "width": declared[0], "height": declared[1]}],
                "annotations": annotations, "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations.json").write_text(json.dumps(document, indent=2))
    return root


def _ids(root: Path) -> list[int]:
    return [a["id"] for a in json.loads((root / "annotations.json").read_text())["annotations"]]


def test_a_flat_box_beside_a_real_mask_is_kept(tmp_path: Path) -> None:
    polygon = [[10, 10, 40, 10, 40, 30, 10, 30]]
    root = _coco(tmp_path / "coco", [{"bbox": [10, 10, 0, 20], "segmentation": polygon, "area": 600},
                                     {"bbox": [50, 10, 0, 20], "area": 0}])
    assert _applicability(_check(root), "B001") == ["unsafe", "safe"]
    _check(root, fix=True)
    assert _ids(root) == [1]


def test_a_box_outside_a_too_small_declared_size_is_not_dropped(tmp_path: Path) -> None:
    """The declared size is wrong (I003): the box lies in the real image, and the safe fix takes
    the real size instead of deleting the object."""
    root = _coco(tmp_path / "coco", [{"bbox": [120, 90, 30, 30], "area": 900}], declared=(100, 80), real=(200, 160))
    found = _check(root)
    assert _applicability(found, "B003") == ["unsafe"] and _applicability(found, "I003") == ["safe"]
    remaining = _check(root, fix=True)
    assert _ids(root) == [1] and remaining == []


@pytest.mark.parametrize("field", ["category_id", "image_id"])
def test_a_dangling_reference_is_a_real_object_with_a_wrong_reference(tmp_path: Path, field: str) -> None:
    root = _coco(tmp_path / "coco", [{"bbox": [10, 10, 20, 20], "area": 400},
                                     {"bbox": [30, 30, 20, 20], "area": 400, field: 7}])
    assert _applicability(_check(root), "F004") == ["unsafe"]
    _check(root, fix=True)
    assert _ids(root) == [1, 2]
    _check(root, fix=True, unsafe_fixes=True)
    assert _ids(root) == [1]


def test_an_exact_copy_is_dropped_but_not_the_same_box_with_another_mask(tmp_path: Path) -> None:
    one = [[10, 10, 40, 10, 40, 30, 10, 30]]
    other = [[10, 10, 40, 30, 10, 30]]
    root = _coco(tmp_path / "coco", [{"bbox": [10, 10, 30, 20], "segmentation": one, "area": 600},
                                     {"bbox": [10, 10, 30, 20], "segmentation": one, "area": 600},
                                     {"bbox": [10, 10, 30, 20], "segmentation": other, "area": 300}])
    findings = [f for f in _check(root) if f["code"] == "B006"]
    assert [(f["annotation"], f["fix"]["applicability"]) for f in findings] == [("2", "safe"), ("3", "unsafe")]
    _check(root, fix=True)
    assert _ids(root) == [1, 3]
