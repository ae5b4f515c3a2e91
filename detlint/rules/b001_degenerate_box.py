"""degenerate-box (B001): a box with zero or negative width or height.

Why it matters: torchvision's detection models raise "All bounding boxes should have positive
height and width" on such a target, and losses that divide by the box size turn NaN. It usually
comes from a click without a drag in the labelling tool, or from swapped corners (x2 < x1).

Example: COCO ``"bbox": [120, 40, 0, 35]`` (width 0); YOLO ``0 0.5 0.5 0.0 0.1``.

Fix (safe): drop the annotation; it has no area to learn from.
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


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    boxes = ds.annotations.boxes
    fix = Fix("safe", "drop the annotation")
    for row in np.flatnonzero(degenerate_mask(ds, ctx)).tolist():
        w, h = boxes[row, 2] - boxes[row, 0], boxes[row, 3] - boxes[row, 1]
        side = "width" if w <= 0 else "height"
        yield at_annotation(ds, row, CODE, f"box {box_text(boxes[row])} has {side} "
                            f"{w if side == 'width' else h:.3g}: torchvision raises 'All bounding boxes "
                            "should have positive height and width' and losses turn NaN", fix)


fix = DropRows()  # drop the annotation
