"""prediction-out-of-image (P006): a detection's box extends past its image, or lies outside it.

Why it matters: detectors clip their boxes to the image, so a box past the edge says the
coordinates are not what the evaluator assumes: predictions made on resized or letterboxed
inputs and not scaled back, normalised values where pixels belong (or the reverse), or another
image's size. COCOeval does not complain; it just finds no match, and the mAP drops.

Tolerance: ``out-of-image-tolerance`` px (the one B002 uses). Not reported when P008 finds that
the file's boxes follow another convention: then every box is misread, and P008 says so once.

Fix: scale the boxes back to the original image size before exporting.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, box_text
from detlint.rules._options import OUT_OF_IMAGE_TOLERANCE, Options
from detlint.rules._predictions import at_detections, image_sizes

CODE = "P006"
NAME = "prediction-out-of-image"
SEVERITY = "warning"
FIX = None
OPTIONS = Options(OUT_OF_IMAGE_TOLERANCE)
NEEDS = "predictions"
EDGES = ("left", "top", "right", "bottom")


def overshoot(ds: Dataset, preds: object) -> np.ndarray:
    """float64[N, 4]: how far each detection passes the left/top/right/bottom edge (NaN: size unknown)."""
    det = preds.detections
    w, h = image_sizes(ds, preds)
    w[det.normalized], h[det.normalized] = 1.0, 1.0
    b = det.boxes
    return np.column_stack([-b[:, 0], -b[:, 1], b[:, 2] - w, b[:, 3] - h])


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None or not len(preds):
        return []
    from detlint.rules.p008_box_convention_mismatch import verdict

    if verdict(ds, ctx) is not None:
        return []  # every box is misread: P008 says so once for the file
    det = preds.detections
    tolerance = float(ctx.get(OPTIONS, "out-of-image-tolerance"))
    over = overshoot(ds, preds)
    limit = np.where(det.normalized, 1e-3, tolerance)[:, None]
    positive = (det.boxes[:, 2] > det.boxes[:, 0]) & (det.boxes[:, 3] > det.boxes[:, 1])
    past = (over > limit) & (det.has_box & positive & np.isfinite(det.boxes).all(axis=1))[:, None]
    rows = np.flatnonzero(past.any(axis=1))
    messages = []
    for row, box, edges in zip(rows.tolist(), det.boxes[rows].tolist(), over[rows].tolist()):
        edge = int(np.argmax([v if p else -np.inf for v, p in zip(edges, past[row].tolist())]))
        size = ds.images.width if edge in (0, 2) else ds.images.height
        outside = over[row, edge] >= (box[2] - box[0] if edge in (0, 2) else box[3] - box[1])
        where = "lies entirely outside" if outside else f"extends {edges[edge]:.4g} px past"
        messages.append(f"predicted box {box_text(np.array(box))} {where} the {EDGES[edge]} edge "
                        f"({'width' if edge in (0, 2) else 'height'} {int(size[det.image[row]])}): boxes on "
                        "resized or letterboxed inputs not scaled back?")
    return at_detections(ds, preds, rows.tolist(), CODE, messages,
                         key="bbox" if preds.pointer_prefix is not None else None)
