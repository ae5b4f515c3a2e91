"""box-out-of-image (B002): a box extends past the image edge by more than a tolerance.

Why it matters: loaders disagree on what to do with it. Some clip silently (the box then no
longer matches the object), albumentations raises, ultralytics clips YOLO boxes that pass the
edge (values above 1 are F007: it drops the whole image).
A box ending exactly at the edge (x2 == W) is inside: coordinates are continuous, so the right
edge of the last pixel column is W.

Options: ``out-of-image-tolerance`` (default 0.5 px) is the overshoot accepted before firing.
VOC boxes whose only overshoot is the 1-pixel shift of a 0-based writer (``xmin=0``) or of an
exclusive end (``xmax=W+1``) are reported as F010 instead, YOLO rows in pixels as F007, Label
Studio percent values past 0-100 as F015, boxes entirely outside the image as B003, and oriented
boxes (4 corners) as B012.

Example: ``[600, 10, 700.5, 90]`` in a 640 px wide image extends 60.5 px past the right edge.

Fix (unsafe): clip the box to the image; it changes the box, so review a sample first.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._fixes import annotation_rows, clip_boxes
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask, image_sizes
from detlint.rules._options import OUT_OF_IMAGE_TOLERANCE, Options

CODE = "B002"
NAME = "box-out-of-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "unsafe"
FIX_PRIORITY = 40  # fixes run in this order; drops run last
OPTIONS = Options(OUT_OF_IMAGE_TOLERANCE)

EDGES = ("left", "top", "right", "bottom")


def overshoot(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    """float64[N, 4]: how far each box passes the left/top/right/bottom edge (<= 0 inside)."""
    x1, y1, x2, y2 = box_columns(ds)
    w, h = image_sizes(ds, ctx)
    return np.column_stack([-x1, -y1, x2 - w, y2 - h])


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    from detlint.rules.b003_box_outside_image import outside_mask
    from detlint.rules.f007_unnormalized_coordinates import unnormalized_mask
    from detlint.rules.f010_voc_convention_mismatch import convention_shift
    from detlint.rules.f015_percent_out_of_range import percent_mask

    tolerance = float(ctx.get(OPTIONS, "out-of-image-tolerance"))
    ann = ds.annotations
    over = overshoot(ds, ctx)
    with np.errstate(invalid="ignore"):
        over = over - convention_shift(ds, ctx)  # a 0-based VOC writer's 1 px is F010's business
        # normalised rows (YOLO without an image size) get a tolerance in their own units
        limit = np.where(ann.normalized, 1e-3, tolerance)[:, None]
        # rows in pixels where fractions belong are F007's business
        # oriented boxes: B012 reports the corners themselves (their enclosing box passes the edge
        # exactly when a corner does, and clipping that box would not clip the corners)
        reported = outside_mask(ds, ctx) | unnormalized_mask(ds) | percent_mask(ds, ctx)
        reported |= ann.kind == ann.KIND_OBB
        past = (over > limit) & finite_box_mask(ds, ctx)[:, None] & ~reported[:, None]
    w, h = image_sizes(ds, ctx)
    fix = Fix("unsafe", "clip to the image")
    for row in np.flatnonzero(past.any(axis=1)).tolist():
        edge = int(np.argmax(np.where(past[row], over[row], -np.inf)))
        size = f"width {w[row]:g}" if edge in (0, 2) else f"height {h[row]:g}"
        unit = "" if ann.normalized[row] else " px"
        yield at_annotation(ds, row, CODE, f"box {box_text(ann.boxes[row])} extends {over[row, edge]:.4g}"
                            f"{unit} past the {EDGES[edge]} edge ({size}): albumentations raises on it, other "
                            "loaders clip it silently", fix,
                            data={"row": row})


def fix(ds: Dataset, findings: list[Finding]) -> Dataset:
    """Clip each box to its image (unsafe: the true extent may lie outside)."""
    rows = annotation_rows(findings)
    return clip_boxes(ds, rows) if rows else ds
