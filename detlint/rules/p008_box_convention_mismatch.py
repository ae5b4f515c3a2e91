"""box-convention-mismatch (P008): a predictions file's boxes follow another convention than
the format's: ``x1 y1 x2 y2`` in a COCO results file, whose ``bbox`` is ``x y width height``, or
corners or top-left boxes in YOLO rows, which are ``cx cy w h``.

Why it matters: nothing raises. Every box is read at the wrong place and size, COCOeval finds
almost no matches, and the mAP is near 0; the usual first suspect is the model, not the export.

How it decides, over the whole file (never one row): each reading of the four numbers
(the format's own and the alternatives) is judged by

- the ground truth: the share of the most confident detections (up to 20,000) that overlap a
  ground-truth box of their image at IoU 0.5 (at least 20 detections on images with boxes);
- without ground truth to compare: the share of boxes past the image edge or without area.

An alternative wins when it overlaps at least twice as many and at least 30% (or, without
ground truth, when at least 20% of boxes are impossible as written and under 2% when read the
other way). The message gives the figures of both readings.

Fix: convert the boxes before exporting (COCO: ``[x1, y1, x2 - x1, y2 - y1]``).
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset, Predictions
from detlint.rules._agreement import MIN_EVIDENCE, Pairs, any_overlap, image_pairs, sample_rows
from detlint.rules._helpers import RuleContext
from detlint.rules._options import OUT_OF_IMAGE_TOLERANCE, Options
from detlint.rules._predictions import at_file, image_sizes

CODE = "P008"
NAME = "box-convention-mismatch"
SEVERITY = "error"
FIX = None
OPTIONS = Options(OUT_OF_IMAGE_TOLERANCE)  # the edge a box may pass before it counts as impossible
NEEDS = "predictions"

# the four numbers -> xyxy in the units of ``scale`` (image size, or 1 for pixels)
_READINGS = {
    "x y width height": lambda r: np.column_stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]]),
    "x1 y1 x2 y2": lambda r: r.copy(),
    "cx cy width height": lambda r: np.column_stack([r[:, 0] - r[:, 2] / 2, r[:, 1] - r[:, 3] / 2,
                                                     r[:, 0] + r[:, 2] / 2, r[:, 1] + r[:, 3] / 2]),
}
SHAPE_ROWS = 100_000
_DECLARED = {"xywh": "x y width height", "cxcywh-normalized": "cx cy width height"}


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    found = verdict(ds, ctx)
    if preds is None or found is None:
        return []
    name, text = found
    return [at_file(preds, CODE, text, data={"convention": name})]


def verdict(ds: Dataset, ctx: RuleContext) -> tuple[str, str] | None:
    """(the reading that fits, the message) when another reading fits the file better, else None
    (once per run: P006 asks too)."""
    preds = ctx.predictions
    if preds is None or len(preds) < MIN_EVIDENCE:
        return None
    return ctx.memoized(ds, CODE, (preds.detections.raw,), lambda: _decide(ds, preds, ctx))


def _decide(ds: Dataset, preds: Predictions, ctx: RuleContext) -> tuple[str, str] | None:
    declared = _DECLARED.get(preds.meta.get("convention", "xywh"))
    if declared is None:
        return None
    tolerance = float(ctx.get(OPTIONS, "out-of-image-tolerance"))
    sample = sample_rows(preds, ctx)
    pairs = image_pairs(ds, preds, sample, ctx)
    figures = {name: _figures(ds, preds, name, tolerance, sample, pairs) for name in _READINGS}
    own = figures[declared]
    for name, (overlap, judged, impossible) in figures.items():
        if name == declared:
            continue
        by_truth = judged >= MIN_EVIDENCE and overlap >= max(0.3, 2 * own[0])
        by_shape = judged < MIN_EVIDENCE and own[2] >= 0.2 and impossible < 0.02
        if by_truth or by_shape:
            return name, (f"the boxes look like [{name}], not [{declared}] as {preds.title} write them: "
                          f"{_said(declared, own)}; {_said(name, figures[name])}")
    return None


def _said(name: str, figures: tuple[float, int, float]) -> str:
    overlap, judged, impossible = figures
    text = f"read as {name}, {impossible:.0%} of the boxes pass the image edge or have no area"
    if judged >= MIN_EVIDENCE:
        text += f" and {overlap:.0%} of the most confident detections overlap a ground-truth box"
    return text


def _figures(ds: Dataset, preds: Predictions, reading: str, tolerance: float, sample: np.ndarray,
             pairs: Pairs) -> tuple[float, int, float]:
    """(overlap share, detections judged, share of impossible boxes) under ``reading``."""
    det = preds.detections
    w, h = image_sizes(ds, preds)
    # the impossible share from every k-th row (at most SHAPE_ROWS): a share, cheap at any size
    rows = np.arange(0, len(det), max(1, len(det) // SHAPE_ROWS))
    normalized = preds.meta.get("convention") != "xywh"
    with np.errstate(invalid="ignore", over="ignore"):
        sampled = _READINGS[reading](det.raw[sample])
        boxes = _READINGS[reading](det.raw[rows])
        if normalized:
            boxes = boxes * np.column_stack([w[rows], h[rows], w[rows], h[rows]])
            sampled = sampled * np.column_stack([w[sample], h[sample], w[sample], h[sample]])
        w, h = w[rows], h[rows]
        known = np.isfinite(boxes).all(axis=1) & det.has_box[rows] & np.isfinite(w) & np.isfinite(h)
        bad = ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]) | (boxes[:, 0] < -tolerance)
               | (boxes[:, 1] < -tolerance) | (boxes[:, 2] > w + tolerance) | (boxes[:, 3] > h + tolerance))
    impossible = float(bad[known].mean()) if known.any() else 0.0
    overlap, judged = any_overlap(ds, pairs, np.nan_to_num(sampled))
    return overlap, judged, impossible
