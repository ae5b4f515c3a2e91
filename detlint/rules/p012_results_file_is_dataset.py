"""results-file-is-dataset (P012): the predictions file is a dataset, not detections.

Why it matters: two mix-ups that evaluation does not explain well.

- A COCO *dataset* document (``images``, ``annotations``, ``categories``) given as results, as
  some tools export predictions: pycocotools' ``loadRes`` refuses it ("results in not an array of
  objects"). detlint reads its ``annotations`` as the detections and checks them anyway.
- The ground truth itself given as predictions: no scores, and the boxes are the dataset's own.
  Evaluation would report a perfect mAP that means nothing.

Fix: pass the results list (``json.dump(detections)``), or the model's predictions, not the labels.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import SCORE_OK, Dataset, Predictions
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_file
from detlint.safetext import counted

CODE = "P012"
NAME = "results-file-is-dataset"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"
SAME_BOXES = 0.9  # share of detections equal to a label box that makes a file the labels themselves


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    findings = []
    if preds.meta.get("top") == "dataset":
        findings.append(at_file(preds, CODE, f"a COCO dataset document, not a results list: pycocotools' loadRes "
                                f"raises 'results in not an array of objects'; its {counted(len(preds), 'annotation')} "
                                "were read as the detections"))
    if len(preds) and not (preds.score_state == SCORE_OK).any():  # only then can it be the labels
        share = _labels_share(ds, preds)
        if share >= SAME_BOXES:
            findings.append(at_file(preds, CODE, f"these look like the dataset's own labels: no scores, and "
                                    f"{share:.0%} of the boxes are label boxes of the same image and class; "
                                    "evaluation would score them as perfect"))
    return findings


def _labels_share(ds: Dataset, preds: Predictions) -> float:
    """Share of detections whose (image, class, box) equals a label's (boxes to 1/100 px)."""
    det, ann = preds.detections, ds.annotations
    if not len(ann):
        return 0.0
    labels = set(_keys(ann.image, ann.category, ann.boxes))
    return float(np.mean([key in labels for key in _keys(det.image, det.category, det.boxes)]))


def _keys(image: np.ndarray, category: np.ndarray, boxes: np.ndarray) -> list[tuple]:
    rounded = np.nan_to_num(np.round(boxes * 100)).astype(np.int64)
    return list(zip(image.tolist(), category.tolist(), map(tuple, rounded.tolist())))
