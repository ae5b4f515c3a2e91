"""obb-corner-order (B014): an oriented box's corners run counter-clockwise on screen.

What the conventions say: DOTA lists the corners clockwise (its devkit and paper: "arranged in a
clockwise order", the first corner marking the object's head), and ultralytics documents YOLO-OBB
rows in the same clockwise order. What ultralytics does: it never uses the order. Training
(``xyxyxyxy2xywhr``) fits ``cv2.minAreaRect`` to the four points, which sorts them through their
convex hull, and returns a canonical ``x y w h r`` (``w`` the longer side, ``r`` in
``[-pi/4, 3pi/4)``), so a counter-clockwise row trains exactly like its clockwise twin. The
consequence is therefore for other readers: tools that take the first corner or the winding as
the heading (DOTA-style head-aware detectors, oriented-box visualisers, signed-area code) read a
mirrored or turned box. Hence an ``info``, not a warning.

Self-crossing rows are B013's, not this rule's.

Example: DOTA ``10 40 10 70 40 70 40 40 small-vehicle 0`` (down, right, up: counter-clockwise).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats.protocol import Trait
from detlint.geometry.obb import self_crossing, signed_area
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations
from detlint.rules._obb import corners_text, obb_corners

CODE = "B014"
NAME = "obb-corner-order"
SEVERITY = "info"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
REQUIRES = (Trait.ORIENTED_BOXES,)
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    rows, corners = obb_corners(ds, ctx)
    if not len(rows):
        return
    hits = np.flatnonzero((signed_area(corners) < 0) & ~self_crossing(corners))
    messages = [f"oriented box {corners_text(corners[i])} runs counter-clockwise: ultralytics trains the same box "
                "(it refits the corners), but tools that read the first corner or the winding as the heading "
                "see it mirrored" for i in hits.tolist()]
    yield from at_annotations(ds, rows[hits].tolist(), CODE, messages, None, "bbox",
                              [{"row": int(r)} for r in rows[hits].tolist()])
