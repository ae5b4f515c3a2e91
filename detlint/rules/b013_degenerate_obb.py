"""degenerate-obb (B013): an oriented box with (near) zero area, or whose corner order crosses itself.

Why it matters: a quadrilateral of zero area (all corners on a line, two corners equal) has no
orientation: ultralytics' ``cv2.minAreaRect`` gives it a zero side, and the rotated IoU of its
loss and of the DOTA evaluation is 0 or NaN for it. A "bow-tie" (two corners swapped, so the
outline crosses itself, as in ``x1 y1 x3 y3 x2 y2 x4 y4``) is a different polygon from the one
drawn: polygon IoU (DOTA devkit ``polyiou``, shapely) computes its area as the difference of its
two lobes. ultralytics itself takes the min-area rectangle of the corners' convex hull, so it
trains on the intended box; the labels are still wrong for every tool that reads the polygon.

Corners on one horizontal or vertical line give an enclosing box of zero width or height:
B001 reports those, not this rule.

Options: ``min-obb-area`` (default 1 px², 1e-6 of the unit square for rows of unknown image
size): a convex hull area at or below it is degenerate.

Example: DOTA ``20 20 60 60 60 20 20 60 plane 0`` (corners 2 and 3 swapped).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats.protocol import Trait
from detlint.geometry.obb import hull_area, self_crossing
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations
from detlint.rules._obb import corners_text, obb_corners
from detlint.rules._options import Option, Options

CODE = "B013"
NAME = "degenerate-obb"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
REQUIRES = (Trait.ORIENTED_BOXES,)
OPTIONS = Options(Option("min-obb-area", 1.0, "number",
                          "Convex hull area, in px², at or below which an oriented box is degenerate (B013).",
                          minimum=0))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    from detlint.rules.b001_degenerate_box import degenerate_mask

    rows, corners = obb_corners(ds, ctx)
    keep = ~degenerate_mask(ds, ctx)[rows]  # corners on one horizontal or vertical line: B001 reports the box
    rows, corners = rows[keep], corners[keep]
    if not len(rows):
        return
    minimum = float(ctx.get(OPTIONS, "min-obb-area"))
    area = hull_area(corners)
    limit = np.where(ds.annotations.normalized[rows], 1e-6, minimum)
    flat = area <= limit
    crossing = ~flat & self_crossing(corners)
    hits = np.flatnonzero(flat | crossing)
    messages = [f"oriented box {corners_text(corners[i])} " + (
        f"has (near) zero area ({area[i]:.3g}): no orientation, a zero side for cv2.minAreaRect" if flat[i] else
        "crosses itself (a bow-tie: two corners swapped); polygon IoU and area are wrong for it")
        for i in hits.tolist()]
    yield from at_annotations(ds, rows[hits].tolist(), CODE, messages, None, "bbox",
                              [{"row": int(r)} for r in rows[hits].tolist()])
