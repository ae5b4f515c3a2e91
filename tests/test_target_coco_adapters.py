"""The mmdet, detectron2 and RF-DETR adapters on a small real COCO export (Roboflow layout) with one
planted case per rule as their sources state it (mmdet 3.3.0, detectron2 v0.6, rfdetr 1.11.2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

import detlint
from detlint.targets import detectron2, mmdet, rfdetr
from detlint.targets.base import Outcome, TargetContext

SQUARE = [[10, 10, 20, 10, 20, 20, 10, 20]]
ANNOTATIONS = [  # (id, image, category, bbox, extra keys)
    (1, 1, 3, [10, 10, 20, 20], {}),                       # clean
    (2, 1, 3, [70, 10, 10, 10], {}),                       # outside the 64 x 48 image
    (3, 1, 3, [10, 10, 0.5, 20], {}),                      # w < 1
    (4, 1, 5, [10, 10, 20, 20], {"area": 0}),              # area 0
    (5, 1, 3, [10, 10, 20, 20], {"iscrowd": 1}),           # crowd
    (6, 1, 3, [50, 30, 30, 30], {}),                       # past the right/bottom edge: clipped
    (7, 1, 3, [10, 10, 20, 20], {"segmentation": [[1, 2, 3, 4]]}),                  # only an invalid polygon
    (8, 1, 3, [10, 10, 20, 20], {"segmentation": [[1, 2, 3, 4], *SQUARE]}),         # one invalid polygon of two
    (9, 2, 3, [1, 1, 10, 10], {}),                         # image 2 is 20 x 20: below mmdet's min_size 32
    (10, 3, 3, [1, 1, 10, 10], {"iscrowd": 1}),            # image 3 holds only a crowd box
]


def _jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), 90, np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def make_export(root: Path, valid: bool = True) -> Path:
    """A Roboflow COCO export; category ids 3 and 5 (not 1..2: detectron2 remaps them)."""
    sizes = {1: (64, 48), 2: (20, 20), 3: (64, 48), 4: (64, 48)}
    split = root / "train"
    split.mkdir(parents=True)
    for image, size in sizes.items():
        (split / f"{image}.jpg").write_bytes(_jpeg(size))
    annotations = []
    for ident, image, category, bbox, extra in ANNOTATIONS:
        ann = {"id": ident, "image_id": image, "category_id": category, "bbox": bbox, "iscrowd": 0,
               "area": bbox[2] * bbox[3], "segmentation": []}
        ann.update(extra)
        annotations.append(ann)
    doc = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": w, "height": h} for i, (w, h) in sizes.items()],
           "annotations": annotations, "categories": [{"id": 3, "name": "cat"}, {"id": 5, "name": "dog"}]}
    (split / "_annotations.coco.json").write_text(json.dumps(doc))
    if valid:
        (root / "valid").mkdir()
        (root / "valid" / "4.jpg").write_bytes(_jpeg((64, 48)))
        (root / "valid" / "_annotations.coco.json").write_text(json.dumps({**doc, "annotations": [
            annotations[0]], "images": doc["images"][:1]}))
    return root


def _assess(module, root: Path) -> tuple[Outcome, dict[int, int], dict[int, str]]:
    ds = detlint.load(root, progress=False)
    outcome = module.assess(ds, TargetContext(root=root, images_level="header",
                                              findings=detlint.check(ds, images="header")))
    ann_id = {row: int(ds.annotations.id[row]) for row in range(len(ds.annotations))}
    image = {row: str(ds.images.path[row]) for row in range(len(ds.images))}
    return outcome, ann_id, image


def _boxes(table: dict[int, str], ann_id: dict[int, int], ids: set[int] | None = None) -> dict[int, str]:
    return {ann_id[row]: why for row, why in table.items() if ids is None or ann_id[row] in ids}


def test_mmdet_skips_boxes_and_filters_images(tmp_path: Path) -> None:
    outcome, ann_id, image = _assess(mmdet, make_export(tmp_path))
    train = {i for i, *_ in ANNOTATIONS}
    assert _boxes(outcome.dropped_boxes, ann_id, train) == {
        2: "parse_data_info skips it: it does not overlap the image", 3: "parse_data_info skips it: width or height < 1 px",
        4: "parse_data_info skips it: area <= 0"}
    assert set(_boxes(outcome.rewritten_boxes, ann_id, train)) == {5, 10}
    dropped = {image[r]: why for r, why in outcome.dropped_images.items()}
    assert dropped == {"train/2.jpg": "filter_data: short side 20 px < min_size 32",
                       "train/4.jpg": "filter_empty_gt: no annotation of a known category"}
    assert outcome.raises == []


def test_detectron2_remaps_filters_and_drops(tmp_path: Path) -> None:
    outcome, ann_id, image = _assess(detectron2, make_export(tmp_path))
    boxes = _boxes(outcome.dropped_boxes, ann_id, {2, 5, 7, 10})
    assert boxes == {2: "filter_empty_instances: empty after clipping to the image",
                     5: "DatasetMapper leaves crowd annotations out of training",
                     7: "load_coco_json drops the annotation: no valid polygon (>= 6 values, even count)",
                     10: "DatasetMapper leaves crowd annotations out of training"}
    rewrites = _boxes(outcome.rewritten_boxes, ann_id)
    assert rewrites[1] == "category_id 3 becomes 0 (ids not 1..2)"
    assert rewrites[8] == "load_coco_json removes 1 invalid polygon(s)"
    assert {image[r] for r in outcome.dropped_images} == {"train/3.jpg", "train/4.jpg"}
    assert outcome.raises == []


def test_detectron2_size_mismatch_raises(tmp_path: Path) -> None:
    root = make_export(tmp_path)
    (root / "train" / "4.jpg").write_bytes(_jpeg((50, 48)))
    outcome, _, image = _assess(detectron2, root)
    assert [(image[r.image_row], r.message.split(":")[0]) for r in outcome.raises] == [
        ("train/4.jpg", "SizeMismatchError")]


def test_rfdetr_drops_crowd_and_clamps(tmp_path: Path) -> None:
    outcome, ann_id, _ = _assess(rfdetr, make_export(tmp_path))
    assert _boxes(outcome.dropped_boxes, ann_id, {2, 5, 10}) == {
        2: "ConvertCoco: empty after clamping to the image", 5: "ConvertCoco drops crowd annotations",
        10: "ConvertCoco drops crowd annotations"}
    assert _boxes(outcome.rewritten_boxes, ann_id, {6}) == {6: "clamped to the image (ConvertCoco)"}
    assert outcome.raises == []


def test_rfdetr_needs_a_valid_split(tmp_path: Path) -> None:
    outcome, _, _ = _assess(rfdetr, make_export(tmp_path, valid=False))
    assert [r.message for r in outcome.raises] == [
        "FileNotFoundError: valid/_annotations.coco.json (RF-DETR reads the Roboflow layout train/ valid/ test/)"]


def _edit(root: Path, change) -> Path:
    path = root / "train" / "_annotations.coco.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return root


def test_repeated_annotation_ids_make_mmdet_and_detectron2_assert(tmp_path: Path) -> None:
    """Both loaders assert the ids of one JSON are unique; the same id in train/ and valid/ is fine."""
    root = _edit(make_export(tmp_path), lambda doc: doc["annotations"][3].update(id=2))
    for module in (mmdet, detectron2):
        outcome, ann_id, _ = _assess(module, root)
        assert [(r.message, ann_id[r.annotation_row]) for r in outcome.raises] == [
            ("AssertionError: Annotation ids in 'train/_annotations.coco.json' are not unique!", 2)], module.NAME


def test_mmdet_reads_area_only_of_boxes_that_overlap(tmp_path: Path) -> None:
    def no_area(doc: dict) -> None:
        del doc["annotations"][1]["area"]  # ann 2, outside the image: skipped before area is read
    outcome, _, _ = _assess(mmdet, _edit(make_export(tmp_path), no_area))
    assert outcome.raises == []
    outcome, ann_id, _ = _assess(mmdet, _edit(tmp_path, lambda doc: doc["annotations"][0].pop("area")))
    assert [(r.message, ann_id[r.annotation_row]) for r in outcome.raises] == [("KeyError: 'area'", 1)]


def test_detectron2_drops_an_image_left_with_crowd_only_after_polygon_filtering(tmp_path: Path) -> None:
    """``filter_images_with_only_crowd_annotations`` sees what ``load_coco_json`` kept: image 3's
    only non-crowd annotation has no valid polygon, so the image goes too."""
    def plant(doc: dict) -> None:
        doc["annotations"].append({"id": 11, "image_id": 2, "category_id": 3, "bbox": [1, 1, 5, 5], "area": 25,
                                   "iscrowd": 0, "segmentation": [[1, 1, 2, 2]]})
        doc["annotations"][8]["iscrowd"] = 1  # ann 9, image 2's only other annotation
    outcome, _, image = _assess(detectron2, _edit(make_export(tmp_path), plant))
    assert {image[r] for r in outcome.dropped_images} == {"train/2.jpg", "train/3.jpg", "train/4.jpg"}
