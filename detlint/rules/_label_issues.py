"""What the label-issue rules (L001-L003) share: one ObjectLab ranking per run and dataset, and
locating its issues at the ground truth.

The labels are the dataset's pixel boxes (axis-aligned, or an oriented box's enclosing box) of a
known class, COCO crowd regions left out (they cover many objects: every prediction inside one
would look swapped or badly located). The predictions are the detections linked to one of the
dataset's images and classes with a finite score and box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detlint.findings import Finding
from detlint.labelissues import LabelIssue, rank_label_issues
from detlint.model import Annotations, Dataset, Predictions
from detlint.rules._helpers import RuleContext, at_annotation, at_image, box_text, image_name
from detlint.rules._predictions import linked


@dataclass(frozen=True)
class Located:
    """An issue with its rows in the dataset's annotations and the predictions' detections."""

    issue: LabelIssue
    row: int  # annotation row in ``ds`` (-1: overlooked)
    detection: int  # detection row in ``ctx.predictions`` (-1: none)


def label_issues(ds: Dataset, ctx: RuleContext) -> list[Located]:
    """The ranking of the ``ctx.label_issues`` worst images, computed once per run."""
    preds = ctx.predictions
    if preds is None or ctx.label_issues <= 0:
        return []
    ann, det = ds.annotations, preds.detections
    inputs = (ann.boxes, ann.image, ann.category, ann.iscrowd, ann.kind, det.boxes, det.image, det.category,
              preds.scores)
    return ctx.memoized(ds, "label-issues", inputs, lambda: _compute(ds, preds, ctx.label_issues))


def _usable_boxes(table: Annotations, n_images: int, n_classes: int) -> np.ndarray:
    kind_ok = (table.kind == Annotations.KIND_BOX) | (table.kind == Annotations.KIND_OBB)
    return (table.has_box & kind_ok & ~table.normalized & np.isfinite(table.boxes).all(axis=1)
            & (table.image >= 0) & (table.image < n_images) & (table.category >= 0) & (table.category < n_classes))


def _compute(ds: Dataset, preds: Predictions, k: int) -> list[Located]:
    n_images, n_classes = len(ds.images), len(ds.categories)
    ann, det = ds.annotations, preds.detections
    gt = np.flatnonzero(_usable_boxes(ann, n_images, n_classes) & (ann.iscrowd != 1))
    pr = np.flatnonzero(_usable_boxes(det, n_images, n_classes) & linked(preds) & np.isfinite(preds.scores))
    issues = rank_label_issues(ann.image[gt], ann.boxes[gt], ann.category[gt], det.image[pr], det.boxes[pr],
                               det.category[pr], preds.scores[pr], n_images, n_classes, k)
    return [Located(i, int(gt[i.gt_row]) if i.gt_row >= 0 else -1, int(pr[i.pred_row]) if i.pred_row >= 0 else -1)
            for i in issues]


def of_kind(ds: Dataset, ctx: RuleContext, kind: str) -> list[Located]:
    return [found for found in label_issues(ds, ctx) if found.issue.kind == kind]


def prediction_text(ds: Dataset, preds: Predictions, row: int) -> str:
    """``"cat" (score 0.97) at [x1, y1, x2, y2]``: the prediction a finding blames."""
    det = preds.detections
    name = ds.categories.names[int(det.category[row])]
    return f'"{name}" (score {float(preds.scores[row]):.2f}) at {box_text(det.boxes[row])}'


def data_of(found: Located) -> dict:
    """What reporters need to draw both boxes: the annotation row (absent when overlooked), the
    image row, the detection row and the image's label quality."""
    data: dict = {"image_row": found.issue.image, "label_quality": found.issue.quality}
    if found.row >= 0:
        data["row"] = found.row
    if found.detection >= 0:
        data["detection"] = found.detection
    return data


def quality_text(ds: Dataset, found: Located) -> str:
    name = image_name(ds, found.issue.image) or f"image row {found.issue.image}"
    return f"image {name} (label quality {found.issue.quality:.3f}, ObjectLab box score {found.issue.box_score:.3f})"


def at_label(ds: Dataset, found: Located, code: str, message: str) -> Finding:
    return at_annotation(ds, found.row, code, message, data=data_of(found))


def at_image_labels(ds: Dataset, found: Located, code: str, message: str) -> Finding:
    """A finding about an image, in the file that holds its labels: at one of its annotations
    (the first) when it has any, else at the image's own entry (as I005 does)."""
    rows = np.flatnonzero(ds.annotations.image == found.issue.image)
    if len(rows):
        finding = at_annotation(ds, int(rows[0]), code, message, field_name=None, data=data_of(found))
        finding.annotation = None  # the finding is about the image, not that annotation
        return finding
    return at_image(ds, found.issue.image, code, message, data=data_of(found))
