"""too-many-detections (P009): an image has more detections of one class than COCOeval scores.

Why it matters: COCOeval keeps, for each image and class, only the ``maxDets`` (100) detections
with the highest scores and ignores the rest without a word (``evaluateImg`` sorts by score and
cuts). A model exported without its own per-image cap, or with a very low score threshold, is
then scored on part of what it found; the rest cannot raise its recall.

One finding per image and class over the cap, at the first detection COCOeval ignores (the
``maxDets + 1``-th by score, ties in file order as COCOeval's stable sort keeps them).
Option: ``max-dets`` (COCOeval's ``params.maxDets[-1]``).

Fix: keep the best ``max-dets`` per image (``max_det`` in ultralytics, ``detections_per_img`` in
torchvision), or evaluate with a larger ``maxDets``.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset, Predictions
from detlint.rules._helpers import RuleContext, image_name
from detlint.rules._options import MAX_DETS, Options
from detlint.rules._predictions import at_detections

CODE = "P009"
NAME = "too-many-detections"
SEVERITY = "warning"
FIX = None
OPTIONS = Options(MAX_DETS)
NEEDS = "predictions"


def ranks(preds: Predictions, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, rank) of the matched detections in (image, class) groups of more than ``cap``:
    each one's place by score within its group (0 = best; ties in file order, as COCOeval's
    mergesort), rows in that order. Groups within the cap are left out before sorting."""
    det = preds.detections
    rows = np.flatnonzero((det.image >= 0) & (det.category >= 0))
    group = det.image[rows].astype(np.int64) * (int(det.category.max(initial=0)) + 1) + det.category[rows]
    _, where, sizes = np.unique(group, return_inverse=True, return_counts=True)
    crowded = sizes[where] > cap
    rows, group = rows[crowded], group[crowded]
    score = np.nan_to_num(preds.scores[rows], nan=-np.inf)
    order = np.lexsort((rows, -score, group))
    rows, group = rows[order], group[order]
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[start, len(group)])
    rank = np.arange(len(group)) - np.repeat(start, sizes)
    return rows, rank


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None or not len(preds):
        return []
    cap = int(ctx.get(OPTIONS, "max-dets"))
    rows, rank = ranks(preds, cap)
    first_ignored = rows[rank == cap]
    if not len(first_ignored):
        return []
    det = preds.detections
    keys = det.image.astype(np.int64) * (int(det.category.max(initial=0)) + 1) + det.category
    counts = dict(zip(*np.unique(keys[rows], return_counts=True)))
    messages = []
    for row in first_ignored.tolist():
        total = int(counts[keys[row]])
        messages.append(f"image {image_name(ds, int(det.image[row]))!r} has {total} detections of class "
                        f"{ds.categories.names[int(det.category[row])]!r}: COCOeval (maxDets {cap}) scores the "
                        f"{cap} best of each class per image and ignores {total - cap}, from this one "
                        f"(score {preds.scores[row]:.4g}) on")
    return at_detections(ds, preds, first_ignored.tolist(), CODE, messages)
