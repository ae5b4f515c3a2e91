"""duplicate-detection (P010): two detections of one class on one image overlap almost
completely (IoU at or above ``duplicate-iou``, default 0.95).

Why it matters: non-maximum suppression should have merged them. In evaluation the second one
finds its object already matched and counts as a false positive at its score, lowering the
precision; in pseudo-labelling it becomes a duplicate label (B006). Usually the export ran
without NMS, with NMS per batch instead of per image, or concatenated two runs.

Reported at the later detection, naming the one it duplicates. Found without comparing all
pairs (the search B006 uses), so a file of a million detections is checked in seconds.

Fix: apply NMS per image and class before exporting.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._duplicates import Sorted, iou, nearest_copies
from detlint.rules._helpers import RuleContext
from detlint.rules._options import DUPLICATE_IOU, Options
from detlint.rules._predictions import at_detections, detection_key
from detlint.rules.b006_duplicate_box import group_x1_order

CODE = "P010"
NAME = "duplicate-detection"
SEVERITY = "warning"
FIX = None
OPTIONS = Options(DUPLICATE_IOU)
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None or len(preds) < 2:
        return []
    threshold = float(ctx.get(OPTIONS, "duplicate-iou"))
    det = preds.detections
    finite = np.isfinite(det.boxes).all(axis=1) & det.has_box
    candidates = np.flatnonzero(finite & (det.image >= 0) & (det.category >= 0))
    boxes = det.boxes[candidates]
    group = det.image[candidates].astype(np.int64) * (len(ds.categories) + 2) + det.category[candidates]
    order = group_x1_order(group, boxes[:, 0])
    s = Sorted(candidates[order].astype(np.int64), boxes[order], group[order], threshold)
    found = nearest_copies(s)
    copies = np.flatnonzero(found >= 0)
    originals = found[copies]
    values = iou(s.boxes[originals], s.boxes[copies])
    rows, of = s.rows[copies], s.rows[originals]
    by_row = np.argsort(rows, kind="stable")
    rows, of, values = rows[by_row], of[by_row], values[by_row]
    where = "line" if preds.pointer_prefix is None else "detection"
    messages = [f"duplicates {where} {detection_key(preds, a)} (IoU {v:.3f}, same class and image): NMS left "
                "both, and the second counts as a false positive" for a, v in zip(of.tolist(), values.tolist())]
    return at_detections(ds, preds, rows.tolist(), CODE, messages,
                         key="bbox" if preds.pointer_prefix is not None else None)
