"""MMDetection ``CocoDataset``: which boxes ``parse_data_info`` skips and which images
``filter_data`` leaves out, with the training config's ``filter_cfg=dict(filter_empty_gt=True,
min_size=32)`` that the COCO configs use."""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset
from detlint.targets._common import box_rows, crowd, real_images, sized, unknown_category
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "mmdet"
TITLE = "MMDetection"
SOURCE = ("mmdet 3.3.0: mmdet/datasets/coco.py CocoDataset.parse_data_info, filter_data "
          "(read at open-mmlab/mmdetection 01fba5b: _parse_ann_info, _filter_imgs, the same conditions)")
MIN_SIZE = 32  # configs/_base_/datasets/coco_detection.py: filter_cfg=dict(filter_empty_gt=True, min_size=32)


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    _skipped_boxes(ds, out)
    _missing_area(ds, out)
    _crowd_ignored(ds, out)
    _filtered_images(ds, int(ctx.options.get("mmdet-min-size", MIN_SIZE)), out)
    return out


def _skipped_boxes(ds: Dataset, out: Outcome) -> None:
    """``parse_data_info``: ``if inter_w * inter_h == 0: continue`` (no overlap with the image);
    ``if ann['area'] <= 0 or w < 1 or h < 1: continue``; ``if ann['category_id'] not in
    self.cat_ids: continue``. The box is silently left out of training."""
    ann = ds.annotations
    rows = box_rows(ds)
    x, y, w, h = ann.raw.T
    img = np.maximum(ann.image, 0)
    width, height = ds.images.width[img], ds.images.height[img]
    with np.errstate(invalid="ignore"):
        inter = (np.maximum(0, np.minimum(x + w, width) - np.maximum(x, 0))
                 * np.maximum(0, np.minimum(y + h, height) - np.maximum(y, 0)))
        checks = ((sized(ds) & ~(inter != 0), "mmdet skips the box: it does not overlap the image"),
                  (ann.area <= 0, "mmdet skips the box: area <= 0"),
                  ((w < 1) | (h < 1), "mmdet skips the box: width or height < 1 px"),
                  (unknown_category(ds), "mmdet skips the box: category_id not in the categories"))
    for mask, why in checks:
        out.drop_boxes(np.flatnonzero(rows & mask), why)


def _missing_area(ds: Dataset, out: Outcome) -> None:
    """``parse_data_info`` reads ``ann['area']``: an annotation without it raises ``KeyError``."""
    rows = np.flatnonzero(box_rows(ds) & np.isnan(ds.annotations.area))
    if len(rows):
        out.raises.append(Raised("KeyError: 'area'", image_row=int(ds.annotations.image[rows[0]]),
                                 annotation_row=int(rows[0])))


def _crowd_ignored(ds: Dataset, out: Outcome) -> None:
    """``parse_data_info``: ``instance['ignore_flag'] = 1`` for ``iscrowd``: kept as an ignore
    region, never a positive."""
    rows = np.flatnonzero(box_rows(ds) & crowd(ds))
    out.rewrite_boxes([r for r in rows.tolist() if r not in out.dropped_boxes],
                      "mmdet keeps the crowd box as an ignore region (ignore_flag=1)")


def _filtered_images(ds: Dataset, min_size: int, out: Outcome) -> None:
    """``filter_data``: with ``filter_empty_gt`` an image without any annotation of a known
    category is dropped (counted before ``parse_data_info`` skips boxes); every image whose
    ``min(width, height) < min_size`` is dropped."""
    ann = ds.annotations
    known = np.zeros(len(ds.images), bool)
    known[ann.image[(ann.image >= 0) & (ann.category >= 0)]] = True
    rows = real_images(ds)
    for row in rows.tolist():
        side = min(int(ds.images.width[row]), int(ds.images.height[row]))
        if not known[row]:
            out.drop_images([row], "no annotation of a known category (filter_empty_gt)")
        elif side < min_size:
            out.drop_images([row], f"short side {side} px < min_size {min_size} (filter_data)")
