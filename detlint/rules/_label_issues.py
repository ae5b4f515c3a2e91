"""What the label-issue rules (L001-L003) share: one ObjectLab ranking per run and dataset, and
locating its issues at the ground truth.

The labels are the dataset's pixel boxes (axis-aligned, or an oriented box's enclosing box) of a
known class, COCO crowd regions left out (they cover many objects: every prediction inside one
would look swapped or badly located). The predictions are the detections linked to one of the
dataset's images and classes with a finite score and box, less those lying mostly (half their
area) inside a crowd region of their image: the objects of a crowd are deliberately unlabelled,
so they are not overlooked (COCO's evaluation ignores such detections too).
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
    usable = _usable_boxes(ann, n_images, n_classes)
    gt = np.flatnonzero(usable & (ann.iscrowd != 1))
    pr = np.flatnonzero(_usable_boxes(det, n_images, n_classes) & linked(preds) & np.isfinite(preds.scores))
    pr = pr[~_inside_crowds(ann.boxes[usable & (ann.iscrowd == 1)], ann.image[usable & (ann.iscrowd == 1)],
                            det.boxes[pr], det.image[pr])]
    issues = rank_label_issues(ann.image[gt], ann.boxes[gt], ann.category[gt], det.image[pr], det.boxes[pr],
                               det.category[pr], preds.scores[pr], n_images, n_classes, k)
    return [Located(i, int(gt[i.gt_row]) if i.gt_row >= 0 else -1, int(pr[i.pred_row]) if i.pred_row >= 0 else -1)
            for i in issues]


def _inside_crowds(crowd_boxes: np.ndarray, crowd_image: np.ndarray, boxes: np.ndarray,
                   image: np.ndarray) -> np.ndarray:
    """Which boxes lie at least half inside a crowd region of their image. One pass per crowd
    region over its image's boxes (found by a sort): crowds are few (1% of COCO's labels)."""
    inside = np.zeros(len(boxes), bool)
    if not len(crowd_boxes) or not len(boxes):
        return inside
    order = np.argsort(image, kind="stable")
    sorted_image = image[order]
    starts = np.searchsorted(sorted_image, crowd_image, "left")
    ends = np.searchsorted(sorted_image, crowd_image, "right")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for crowd, start, end in zip(crowd_boxes, starts.tolist(), ends.tolist()):
        rows = order[start:end]
        b = boxes[rows]
        iw = np.clip(np.minimum(b[:, 2], crowd[2]) - np.maximum(b[:, 0], crowd[0]), 0, None)
        ih = np.clip(np.minimum(b[:, 3], crowd[3]) - np.maximum(b[:, 1], crowd[1]), 0, None)
        inside[rows] |= iw * ih >= 0.5 * area[rows]
    return inside


def first_annotations(ds: Dataset) -> np.ndarray:
    """Per image row, its first annotation row (-1: none)."""
    image = ds.annotations.image
    first = np.full(len(ds.images), -1, np.int64)
    valid = np.flatnonzero((image >= 0) & (image < len(ds.images)))
    images, at = np.unique(image[valid], return_index=True)
    first[images] = valid[at]
    return first


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


def at_image_labels(ds: Dataset, found: Located, code: str, message: str, first: np.ndarray) -> Finding:
    """A finding about an image, in the file that holds its labels: at one of its annotations
    (the first, from ``first_annotations``) when it has any, else at the image's own entry (as
    I005 does)."""
    row = int(first[found.issue.image])
    if row >= 0:
        finding = at_annotation(ds, row, code, message, field_name=None, data=data_of(found))
        finding.annotation = None  # the finding is about the image, not that annotation
        return finding
    return at_image(ds, found.issue.image, code, message, data=data_of(found))
