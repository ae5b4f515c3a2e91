"""obb-out-of-image (B012): a corner of an oriented box lies past the image edge beyond a tolerance.

Why it matters: ultralytics clips every corner to the image in its augmentations
(``Instances.clip``, before ``xyxyxyxy2xywhr`` refits the rectangle), so the object trains as a
smaller, differently turned box than the one drawn. Its label check (``verify_image_label``)
tests only the corners' enclosing box as ``x y w h`` against 1.01, so a corner well past the
edge passes it silently (checked against ultralytics 8.4 in ``tests/test_obb.py``); only when
the centre or size itself passes 1.01 is the whole image dropped as corrupt. The DOTA devkit's
image splitter cuts such an object at the tile edge too.

A corner exactly on the edge (x == W) is inside. For oriented boxes this rule replaces B002 (the
enclosing box passes the edge exactly when a corner does, and B002 would report it again); a box
wholly outside the image stays B003's, YOLO rows in pixels F007's.

Options: ``obb-out-of-image-tolerance`` (default 0.5 px; 0.001 in the unit square for rows whose
image size is unknown) is the overshoot accepted before firing.

Example: DOTA ``70 50 110 50 110 75 70 75 harbor 0`` in a 100 px wide image: 10 px past the right edge.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats.protocol import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations, image_sizes
from detlint.rules._obb import corners_text, obb_corners
from detlint.rules._options import Option, Options

CODE = "B012"
NAME = "obb-out-of-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
REQUIRES = (Trait.ORIENTED_BOXES,)
OPTIONS = Options(Option("obb-out-of-image-tolerance", 0.5, "number",
                          "Overshoot of an oriented box's corner past the image edge, in px, accepted "
                          "before B012 fires.", minimum=0))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    from detlint.rules.b003_box_outside_image import outside_mask
    from detlint.rules.f007_unnormalized_coordinates import unnormalized_mask

    rows, corners = obb_corners(ds, ctx)
    # wholly outside is B003's, pixel values in a normalised format F007's: one report each
    keep = ~(outside_mask(ds, ctx) | unnormalized_mask(ds))[rows]
    rows, corners = rows[keep], corners[keep]
    if not len(rows):
        return
    tolerance = float(ctx.get(OPTIONS, "obb-out-of-image-tolerance"))
    w, h = image_sizes(ds, ctx)
    w, h = w[rows], h[rows]
    xs, ys = corners[:, 0::2], corners[:, 1::2]
    over = np.column_stack([(-xs).max(1), (-ys).max(1), (xs - w[:, None]).max(1), (ys - h[:, None]).max(1)])
    limit = np.where(ds.annotations.normalized[rows], 1e-3, tolerance)
    with np.errstate(invalid="ignore"):
        past = over > limit[:, None]
    hits = np.flatnonzero(past.any(axis=1))
    messages = []
    for i in hits.tolist():
        edge = int(np.argmax(np.where(past[i], over[i], -np.inf)))
        unit = "" if ds.annotations.normalized[rows[i]] else " px"
        messages.append(f"oriented box {corners_text(corners[i])} has a corner {over[i, edge]:.4g}{unit} past the "
                        f"{('left', 'top', 'right', 'bottom')[edge]} edge: ultralytics clips the corners and "
                        "trains a different box")
    yield from at_annotations(ds, rows[hits].tolist(), CODE, messages, None, "bbox",
                              [{"row": int(r)} for r in rows[hits].tolist()])
