"""How well detections agree with the ground truth: the evidence P003 (class mapping) and P008
(box convention) decide by, over a whole file rather than one row.

A sample of the detections (the most confident first: a model's confident boxes are the ones
that should sit on objects) is paired with every ground-truth box of its image; a pair counts
when the IoU reaches ``HIT_IOU``. A reading of the file (a class mapping, a box convention) is
then judged by the share of sampled detections that find a same-class box under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detlint.model import Dataset, Predictions
from detlint.rules.context import RuleContext

SAMPLE = 20_000  # detections judged: enough for a share within a percent, cheap at any file size
HIT_IOU = 0.5  # COCO's loosest threshold: a detection this close is on the object
MIN_EVIDENCE = 20  # sampled detections with any overlapping box below which nothing is decided


@dataclass
class Pairs:
    """Sampled detection positions paired with ground-truth rows of the same image."""

    sample: np.ndarray  # detection rows judged
    det: np.ndarray  # position in ``sample`` of each pair
    gt: np.ndarray  # annotation row of each pair


def sample_rows(preds: Predictions, ctx: RuleContext) -> np.ndarray:
    """Up to ``SAMPLE`` detections with a matched image and a finite box, most confident first
    (ties in file order); once per run."""
    det = preds.detections
    return ctx.memoized(preds, "sample", (det.image, det.boxes, preds.scores), lambda: _sample(preds))


def _sample(preds: Predictions) -> np.ndarray:
    det = preds.detections
    ok = np.flatnonzero((det.image >= 0) & np.isfinite(det.boxes).all(axis=1) & det.has_box & ~det.normalized)
    scores = -np.nan_to_num(preds.scores[ok], nan=-np.inf)
    if len(ok) > SAMPLE:  # the best SAMPLE without sorting them all; ties at the cut in file order
        cut = np.partition(scores, SAMPLE - 1)[SAMPLE - 1]
        better = np.flatnonzero(scores < cut)
        tied = np.flatnonzero(scores == cut)[:SAMPLE - len(better)]
        keep = np.sort(np.concatenate([better, tied]))
        ok, scores = ok[keep], scores[keep]
    return ok[np.argsort(scores, kind="stable")]


def image_pairs(ds: Dataset, preds: Predictions, rows: np.ndarray, ctx: RuleContext) -> Pairs:
    """Every (detection, ground-truth box of its image) pair for the detections ``rows``."""
    ann = ds.annotations
    order = ctx.memoized(ds, "boxes-by-image", (ann.image, ann.has_box, ann.iscrowd), lambda: _by_image(ds))
    gt_images = ann.image[order]
    images = preds.detections.image[rows]
    start = np.searchsorted(gt_images, images, "left")
    end = np.searchsorted(gt_images, images, "right")
    counts = end - start
    det = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    gt = order[np.repeat(start, counts) + offsets]
    return Pairs(rows, det, gt)


def _by_image(ds: Dataset) -> np.ndarray:
    """The label boxes a detection may be compared with, ordered by image."""
    ann = ds.annotations
    gt_rows = np.flatnonzero((ann.image >= 0) & ann.has_box & (ann.iscrowd != 1) & ~ann.normalized)
    return gt_rows[np.argsort(ann.image[gt_rows], kind="stable")]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xyxy boxes (0 where either has no area)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def hit_share(ds: Dataset, pairs: Pairs, det_boxes: np.ndarray, det_category: np.ndarray) -> tuple[float, int]:
    """(share of sampled detections with a same-class box at IoU >= HIT_IOU, how many have any
    box at that IoU whatever its class): ``det_boxes``/``det_category`` per sampled detection."""
    if not len(pairs.det):
        return 0.0, 0
    overlaps = iou(det_boxes[pairs.det], ds.annotations.boxes[pairs.gt]) >= HIT_IOU
    near = np.zeros(len(pairs.sample), bool)
    near[pairs.det[overlaps]] = True
    same = overlaps & (ds.annotations.category[pairs.gt] == det_category[pairs.det])
    hit = np.zeros(len(pairs.sample), bool)
    hit[pairs.det[same]] = True
    return float(hit.mean()) if len(hit) else 0.0, int(near.sum())


def any_overlap(ds: Dataset, pairs: Pairs, det_boxes: np.ndarray) -> tuple[float, int]:
    """(share of sampled detections with any box at IoU >= HIT_IOU, sampled detections whose
    image has any box at all)."""
    if not len(pairs.det):
        return 0.0, 0
    overlaps = iou(det_boxes[pairs.det], ds.annotations.boxes[pairs.gt]) >= HIT_IOU
    near = np.zeros(len(pairs.sample), bool)
    near[pairs.det[overlaps]] = True
    has_gt = np.zeros(len(pairs.sample), bool)
    has_gt[pairs.det] = True
    judged = int(has_gt.sum())
    return (float(near[has_gt].mean()) if judged else 0.0), judged
