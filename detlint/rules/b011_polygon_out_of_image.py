"""polygon-out-of-image (B011): a polygon vertex lies past the image edge beyond a tolerance.

Why it matters: the mask a trainer rasterises is cut at the image edge, so it no longer matches
the object's box, and augmentation libraries that check coordinates (albumentations) raise.
An exporter that wrote the polygon in another image's size, or a YOLO ring normalised by the
wrong size, shows here first.

Both pixel polygons (COCO lists) and YOLO normalised rings (scaled by the image size when it is
known) are checked, with the box rule's ``out-of-image-tolerance`` (default 0.5 px; 1e-3 for a
ring whose image size is unknown). A row whose box is already past the edge is B002's (or F007's,
B003's) to report: a YOLO ring's box is its own extent, so B011 names the polygons whose box
stays inside.

Example: ``"bbox": [0, 0, 50, 40], "segmentation": [[0, 0, 50, 0, 50, 40, 0, 90]]`` on a
64 x 48 image: a vertex 42 px below the bottom edge.

Fix: clip the polygon in the labelling tool, or check the image size it was drawn on.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations, image_sizes, polygon_parts
from detlint.rules.b002_box_out_of_image import OPTIONS as BOX_OPTIONS
from detlint.rules.b002_box_out_of_image import overshoot

CODE = "B011"
NAME = "polygon-out-of-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}

EDGES = ("left", "top", "right", "bottom")


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    parts = polygon_parts(ds, ctx)
    if not len(parts):
        return iter(())
    tolerance = float(ctx.get(BOX_OPTIONS, "out-of-image-tolerance"))
    ann = ds.annotations
    w, h = image_sizes(ds, ctx)
    points, part_of = parts.points((parts.lengths % 2 == 0) & (parts.lengths > 0))
    owner = parts.row[part_of]
    # a YOLO ring is normalised: in pixels where its row is (the size is known)
    ring = parts.normalized[part_of] & ~ann.normalized[owner]
    scale = np.where(ring[:, None], np.column_stack([w[owner], h[owner]]), 1.0)
    x, y = points[:, 0] * scale[:, 0], points[:, 1] * scale[:, 1]
    with np.errstate(invalid="ignore"):
        over = np.column_stack([-x, -y, x - w[owner], y - h[owner]])
        limit = np.where(ann.normalized[owner], 1e-3, tolerance)[:, None]
        box_out = (overshoot(ds, ctx) > np.where(ann.normalized, 1e-3, tolerance)[:, None]).any(axis=1)
        past = (over > limit).any(axis=1) & ~box_out[owner]
    if not past.any():
        return iter(())
    worst = np.where(past[:, None], over, -np.inf)
    order = np.lexsort((-worst.max(axis=1), owner))
    rows, first = np.unique(owner[order][past[order]], return_index=True)
    picked = order[past[order]][first]
    edges = np.argmax(worst[picked], axis=1).tolist()
    units = np.where(ann.normalized[rows], "", " px").tolist()
    messages = [f"polygon vertex ({x[k]:.4g}, {y[k]:.4g}) lies {worst[k, e]:.4g}{unit} past the "
                f"{EDGES[e]} edge of the image ({w[r]:g} x {h[r]:g}): the mask is cut there"
                for k, e, r, unit in zip(picked.tolist(), edges, rows.tolist(), units)]
    return iter(at_annotations(ds, rows.tolist(), CODE, messages, None, "segmentation",
                               [{"row": r} for r in rows.tolist()]))
