"""degenerate-box (B001): a box with zero or negative width or height.

Why it matters: torchvision's detection models raise "All bounding boxes should have positive
height and width" on such a target, and losses that divide by the box size turn NaN. It usually
comes from a click without a drag in the labelling tool, or from swapped corners (x2 < x1).

Example: COCO ``"bbox": [120, 40, 0, 35]`` (width 0); YOLO ``0 0.5 0.5 0.0 0.1``.

Fix: drop the annotation. Safe for a box of zero width or height with no mask of its own (a
click without a drag: there is no object extent to keep). Unsafe for a negative size (corners
swapped, or a typo in one coordinate) and for a COCO box beside a segmentation: those are real
objects, which dropping would turn into missing labels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask

CODE = "B001"
NAME = "degenerate-box"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
OPTIONS: dict = {}


def degenerate_mask(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    x1, y1, x2, y2 = box_columns(ds)
    return finite_box_mask(ds, ctx) & ((x2 <= x1) | (y2 <= y1))


def _real_object_mask(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    """Which degenerate ``rows`` still describe a real object: a negative side (swapped corners,
    a mistyped coordinate) or a mask beside the box (a YOLO polygon row's box is its points'
    extent, so a flat one has no area either)."""
    ann = ds.annotations
    boxes = ann.boxes[rows]
    negative = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    masked = np.fromiter(map(bool, ann.segmentation[rows]), bool, len(rows)) & (ann.kind[rows] != ann.KIND_POLYGON)
    return negative | masked


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    boxes = ds.annotations.boxes
    safe = Fix("safe", "drop the annotation")
    unsafe = Fix("unsafe", "drop the annotation (a real object with swapped or mistyped corners is lost)")
    found = np.flatnonzero(degenerate_mask(ds, ctx))
    for row, real in zip(found.tolist(), _real_object_mask(ds, found).tolist()):
        w, h = boxes[row, 2] - boxes[row, 0], boxes[row, 3] - boxes[row, 1]
        side = "width" if w <= 0 else "height"
        yield at_annotation(ds, row, CODE, f"box {box_text(boxes[row])} has {side} "
                            f"{w if side == 'width' else h:.3g}: torchvision raises 'All bounding boxes "
                            "should have positive height and width' and losses turn NaN", unsafe if real else safe)


fix = DropRows()  # drop the annotation
