"""degenerate-prediction (P007): a detection's box has no area (width or height <= 0) or a
coordinate that is not finite.

Why it matters: a box without area overlaps nothing (IoU 0), so it can never match and counts
as a false positive at its score; a ``NaN`` or infinite coordinate makes IoU ``NaN``. Either
lowers the mAP without an error. A negative width usually means the boxes were written as
``x1 y1 x2 y2`` where ``x y w h`` belongs and the object is left of its corner; P008 then says so
for the whole file.

Fix: drop such detections, or export ``[x, y, width, height]`` as COCO results require.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_detections

CODE = "P007"
NAME = "degenerate-prediction"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None or not len(preds):
        return []
    det = preds.detections
    raw = det.raw
    finite = np.isfinite(raw).all(axis=1)
    with np.errstate(invalid="ignore"):
        width, height = det.boxes[:, 2] - det.boxes[:, 0], det.boxes[:, 3] - det.boxes[:, 1]
        flat = finite & ((width <= 0) | (height <= 0))
    rows = np.flatnonzero(det.has_box & (~finite | flat))
    messages = []
    for row in rows.tolist():
        values = ", ".join(f"{v:g}" for v in raw[row].tolist())
        if not finite[row]:
            messages.append(f"predicted box [{values}] has a coordinate that is NaN or infinite: its IoU is NaN")
        else:
            side = "width" if width[row] <= 0 else "height"
            size = width[row] if side == "width" else height[row]
            messages.append(f"predicted box [{values}] has {side} {size:g}: it overlaps "
                            "nothing and counts as a false positive")
    return at_detections(ds, preds, rows.tolist(), CODE, messages,
                         key="bbox" if preds.pointer_prefix is not None else None)
