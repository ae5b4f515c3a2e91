"""RF-DETR: what ``rfdetr.datasets.coco`` (``build_roboflow``, ``CocoDetection``, ``ConvertCoco``)
does with a Roboflow COCO export (``train/ valid/ test/_annotations.coco.json``)."""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset
from detlint.targets._common import box_rows, crowd, sized, unknown_category
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "rfdetr"
TITLE = "RF-DETR"
SOURCE = ("rfdetr 1.11.2: rfdetr/datasets/coco.py ConvertCoco.__call__, build_roboflow (split paths), "
          "_train_split_cat2label")
SPLITS = {"train": "train", "val": "valid"}  # build_roboflow: root / "train", root / "valid"


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    _splits(ds, ctx, out)
    _unknown_category(ds, out)
    _crowd(ds, out)
    _clamped(ds, out)
    return out


def _splits(ds: Dataset, ctx: TargetContext, out: Outcome) -> None:
    """``build_roboflow``: training opens ``train/_annotations.coco.json`` and
    ``valid/_annotations.coco.json``; a missing one fails to open (FileNotFoundError)."""
    for folder in SPLITS.values():
        if not (ctx.root / folder / "_annotations.coco.json").is_file():
            out.raises.append(Raised(f"FileNotFoundError: {folder}/_annotations.coco.json (RF-DETR reads the "
                                     "Roboflow layout train/ valid/ test/)"))


def _unknown_category(ds: Dataset, out: Outcome) -> None:
    """``ConvertCoco``: "Unknown category_id N for image_id M encountered in annotations" (KeyError)
    for a category_id the train split's mapping lacks."""
    rows = np.flatnonzero(unknown_category(ds))
    for row in rows[:1].tolist():
        out.raises.append(Raised(f"KeyError: Unknown category_id {int(ds.annotations.class_id[row])} encountered "
                                 "in annotations", image_row=int(ds.annotations.image[row]), annotation_row=row))


def _crowd(ds: Dataset, out: Outcome) -> None:
    """``ConvertCoco``: ``anno = [obj for obj in anno if "iscrowd" not in obj or obj["iscrowd"] == 0]``."""
    out.drop_boxes(np.flatnonzero(box_rows(ds) & crowd(ds)), "ConvertCoco drops crowd annotations")


def _clamped(ds: Dataset, out: Outcome) -> None:
    """``ConvertCoco``: ``boxes[:, 0::2].clamp_(min=0, max=w)`` (and y by h), then ``keep = (y2 > y1)
    & (x2 > x1)``: boxes outside the image or degenerate are dropped, the rest clamped."""
    ann = ds.annotations
    rows = box_rows(ds) & ~crowd(ds) & sized(ds)
    img = np.maximum(ann.image, 0)
    size = np.column_stack([ds.images.width[img], ds.images.height[img]] * 2).astype(float)
    clamped = np.clip(ann.boxes, 0, size)
    with np.errstate(invalid="ignore"):
        keep = (clamped[:, 3] > clamped[:, 1]) & (clamped[:, 2] > clamped[:, 0])
    out.drop_boxes(np.flatnonzero(rows & ~keep), "ConvertCoco: empty after clamping to the image")
    out.rewrite_boxes(np.flatnonzero(rows & keep & np.any(clamped != ann.boxes, axis=1)),
                      "clamped to the image (ConvertCoco)")
