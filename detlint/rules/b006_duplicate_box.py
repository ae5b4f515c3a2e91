"""duplicate-box (B006): two boxes of the same class on the same image overlap almost exactly.

Why it matters: a duplicated label (double click, merged exports, two annotators) doubles the
weight of that object and teaches the detector to keep duplicate predictions, which NMS then
has to remove; evaluation counts the second copy as a missed object.

Options: ``duplicate-iou`` (default 0.95): IoU at or above which two boxes are duplicates.

Example: ``[10, 10, 50, 50]`` and ``[10, 10, 50, 50.5]``, both "car", in one image.

COCO crowd regions (``iscrowd: 1``) are left out: they overlap the objects they contain.

Fix: drop the later copy; safe for an exact copy, unsafe for a near copy (it might be two
objects).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, annotation_key, at_annotation, box_text, finite_box_mask
from detlint.rules._options import Option, Options

CODE = "B006"
NAME = "duplicate-box"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
OPTIONS = Options(Option("duplicate-iou", 0.95, "number",
                          "IoU at or above which two boxes of one class and image are duplicates (B006).",
                          exclusive_minimum=0, maximum=1))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a + area_b - inter)


def duplicate_pairs(ds: Dataset, threshold: float, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, iou) row pairs; ``second`` is the later copy.

    Boxes are sorted by (image, class, x1); two boxes with IoU >= threshold overlap, so only
    neighbours whose x1 lies within the first box's width need comparing: the loop runs over
    offsets, not boxes, and stops as soon as no pair at that offset can overlap.
    """
    ann = ds.annotations
    # crowd regions (COCO iscrowd=1) overlap the objects they contain by design
    candidates = np.flatnonzero(finite_box_mask(ds, ctx) & (ann.image >= 0) & (ann.iscrowd != 1))
    boxes = ann.boxes[candidates]
    order = np.lexsort((boxes[:, 0], ann.category[candidates], ann.image[candidates]))
    rows, boxes = candidates[order], boxes[order]
    group = ann.image[rows].astype(np.int64) * (len(ds.categories) + 2) + ann.category[rows]
    width = boxes[:, 2] - boxes[:, 0]
    firsts, seconds, ious = [], [], []
    for offset in range(1, len(rows)):
        same = group[offset:] == group[:-offset]
        near = same & (boxes[offset:, 0] - boxes[:-offset, 0] <= width[:-offset])
        if not near.any():
            break
        i = np.flatnonzero(near)
        iou = _iou(boxes[i], boxes[i + offset])
        hit = iou >= threshold
        a, b = rows[i[hit]], rows[i[hit] + offset]
        firsts.append(np.minimum(a, b))
        seconds.append(np.maximum(a, b))
        ious.append(iou[hit])
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(ious)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    threshold = float(ctx.get(OPTIONS, "duplicate-iou"))
    first, second, iou = duplicate_pairs(ds, threshold, ctx)
    boxes = ds.annotations.boxes
    reported: set[int] = set()
    for a, b, value in sorted(zip(first.tolist(), second.tolist(), iou.tolist()), key=lambda t: t[1]):
        if b in reported:
            continue
        reported.add(b)
        exact = bool(np.array_equal(boxes[a], boxes[b]))
        fix = Fix("safe" if exact else "unsafe", "drop the later copy")
        what = "an exact copy of" if exact else f"a near copy (IoU {value:.3f}) of"
        yield at_annotation(ds, b, CODE, f"box {box_text(boxes[b])} is {what} annotation "
                            f"{annotation_key(ds, a)} (same image, same class): the object counts twice in "
                            "the loss, and evaluation counts the copy as a missed object", fix,
                            data={"row": b, "duplicate_of": a})


fix = DropRows()  # drop the copy
