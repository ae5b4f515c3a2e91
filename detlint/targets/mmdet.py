"""MMDetection ``CocoDataset``: what ``load_data_list``/``parse_data_info`` skip or raise on and
which images ``filter_data`` leaves out, with the training config's ``filter_cfg=dict(
filter_empty_gt=True, min_size=32)`` that the COCO configs use.

Read in mmdet 3.3.0 (the PyPI wheel): ``mmdet/datasets/coco.py`` (``CocoDataset.load_data_list``,
``parse_data_info``, ``filter_data``, ``ANN_ID_UNIQUE``) and ``mmdet/datasets/base_det_dataset.py``
(``BaseDetDataset.full_init``: load every image of the JSON, then ``filter_data``).
"""

from __future__ import annotations

import numpy as np

from detlint.formats import format_of
from detlint.formats.protocol import Trait
from detlint.model import Dataset
from detlint.rules import r020_mmdet_image_below_min_size as r020
from detlint.targets._common import box_rows, crowd, repeated_id, sized, unknown_category
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "mmdet"
TITLE = "MMDetection"
SOURCE = ("mmdet 3.3.0 (PyPI wheel): mmdet/datasets/coco.py CocoDataset.load_data_list, parse_data_info, "
          "filter_data; mmdet/datasets/base_det_dataset.py BaseDetDataset.full_init; "
          "configs/_base_/datasets/coco_detection.py filter_cfg")


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    _repeated_ids(ds, out)
    overlaps = _skipped_boxes(ds, out)
    if format_of(ds).has(Trait.DECLARED_AREAS):  # other formats reach CocoDataset converted, area written
        _missing_area(ds, overlaps, out)
    _crowd_ignored(ds, out)
    _filtered_images(ds, int(ctx.options.get("mmdet-min-size", r020.OPTIONS["mmdet-min-size"])), out)
    return out


def _repeated_ids(ds: Dataset, out: Outcome) -> None:
    """``load_data_list``: ``assert len(set(total_ann_ids)) == len(total_ann_ids), "Annotation ids
    in '...' are not unique!"`` (``ANN_ID_UNIQUE = True``), over the annotations of listed images."""
    row = repeated_id(ds)
    if row is not None:
        out.raises.append(Raised(f"AssertionError: Annotation ids in '{ds.file_of(int(ds.annotations.src_file[row]))}'"
                                 " are not unique!", image_row=int(ds.annotations.image[row]), annotation_row=row))


def _skipped_boxes(ds: Dataset, out: Outcome) -> np.ndarray:
    """``parse_data_info``, in this order: ``if inter_w * inter_h == 0: continue`` (no overlap with
    the declared image size); ``if ann['area'] <= 0 or w < 1 or h < 1: continue``; ``if
    ann['category_id'] not in self.cat_ids: continue``. The box silently never trains. Returns the
    rows that pass the overlap test (the only ones whose ``area`` is read)."""
    ann = ds.annotations
    rows = box_rows(ds)
    x, y, w, h = ann.raw.T
    img = np.maximum(ann.image, 0)
    width, height = ds.images.width[img], ds.images.height[img]
    with np.errstate(invalid="ignore"):
        inter = (np.maximum(0, np.minimum(x + w, width) - np.maximum(x, 0))
                 * np.maximum(0, np.minimum(y + h, height) - np.maximum(y, 0)))
        apart = sized(ds) & ~(inter != 0)
        checks = ((apart, "parse_data_info skips it: it does not overlap the image"),
                  (ann.area <= 0, "parse_data_info skips it: area <= 0"),
                  ((w < 1) | (h < 1), "parse_data_info skips it: width or height < 1 px"),
                  (unknown_category(ds), "parse_data_info skips it: category_id not in the categories"))
    for mask, why in checks:
        out.drop_boxes(np.flatnonzero(rows & mask), why)
    return rows & ~apart


def _missing_area(ds: Dataset, overlaps: np.ndarray, out: Outcome) -> None:
    """``parse_data_info`` reads ``ann['area']`` after the overlap test: an overlapping box
    without an ``area`` raises ``KeyError: 'area'`` and the dataset does not load."""
    rows = np.flatnonzero(overlaps & np.isnan(ds.annotations.area))
    if len(rows):
        out.raises.append(Raised("KeyError: 'area'", image_row=int(ds.annotations.image[rows[0]]),
                                 annotation_row=int(rows[0])))


def _crowd_ignored(ds: Dataset, out: Outcome) -> None:
    """``parse_data_info``: ``instance['ignore_flag'] = 1`` for ``iscrowd``: kept as an ignore
    region, never a positive."""
    rows = np.flatnonzero(box_rows(ds) & crowd(ds))
    out.rewrite_boxes([r for r in rows.tolist() if r not in out.dropped_boxes],
                      "kept as an ignore region (ignore_flag=1), never a positive")


def _filtered_images(ds: Dataset, min_size: int, out: Outcome) -> None:
    """``filter_data``: with ``filter_empty_gt`` an image is dropped unless ``cat_img_map`` lists
    it, i.e. unless one raw annotation (crowd or skipped ones included) has a known category;
    then every image with ``min(width, height) < min_size`` (declared sizes) is dropped (R020)."""
    ann = ds.annotations
    known = np.zeros(len(ds.images), bool)
    known[ann.image[(ann.image >= 0) & (ann.category >= 0)]] = True
    listed = ds.images.path.astype(str) != ""
    out.drop_images(np.flatnonzero(listed & ~known), "filter_empty_gt: no annotation of a known category")
    small = r020.below_min_size(ds, min_size)
    sides = np.minimum(ds.images.width[small], ds.images.height[small]).tolist()
    out.drop_images(small, [f"filter_data: short side {side} px < min_size {min_size}" for side in sides])
