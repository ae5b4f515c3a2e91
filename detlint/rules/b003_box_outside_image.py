"""box-outside-image (B003): a box lies entirely outside its image.

Why it matters: there is nothing in the image to learn from it; clipping leaves a zero-area box,
which then crashes torchvision (see B001). Typical causes: labels of another image, coordinates
normalised against the wrong size, or an EXIF rotation that the labelling tool applied and the
trainer does not.

Example: ``[700, 20, 760, 80]`` in a 640 x 480 image.

Fix (unsafe): drop the annotation. Every cause above but the first is a real object in the
wrong frame (a declared size smaller than the image, see I003; a rotation): dropping it loses
the object, so the drop waits for ``--unsafe-fixes``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask, image_sizes

CODE = "B003"
NAME = "box-outside-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "unsafe"
OPTIONS: dict = {}


def outside_mask(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    x1, y1, x2, y2 = box_columns(ds)
    w, h = image_sizes(ds, ctx)
    with np.errstate(invalid="ignore"):
        away = (x1 >= w) | (y1 >= h) | (x2 <= 0) | (y2 <= 0)
    degenerate = (x2 <= x1) | (y2 <= y1)
    return finite_box_mask(ds, ctx) & away & ~degenerate


def check_mask(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    """The rows this rule reports: outside, and not YOLO pixel values (F007 explains those)."""
    from detlint.rules.f007_unnormalized_coordinates import unnormalized_mask

    return outside_mask(ds, ctx) & ~unnormalized_mask(ds)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    w, h = image_sizes(ds, ctx)
    fix = Fix("unsafe", "drop the annotation (a misplaced real object is lost)")
    for row in np.flatnonzero(check_mask(ds, ctx)).tolist():
        yield at_annotation(ds, row, CODE, f"box {box_text(ann.boxes[row])} lies entirely outside the "
                            f"{w[row]:g} x {h[row]:g} image: clipping leaves a zero-area box (torchvision "
                            "raises), and there is nothing in the image to learn from it", fix)


fix = DropRows()  # drop the annotation
