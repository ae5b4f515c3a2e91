"""duplicate-box (B006): two boxes of the same class on the same image overlap almost exactly.

Why it matters: a duplicated label (double click, merged exports, two annotators) doubles the
weight of that object and teaches the detector to keep duplicate predictions, which NMS then
has to remove; evaluation counts the second copy as a missed object.

Options: ``duplicate-iou`` (default 0.95): IoU at or above which two boxes are duplicates.

Example: ``[10, 10, 50, 50]`` and ``[10, 10, 50, 50.5]``, both "car", in one image.

COCO crowd regions (``iscrowd: 1``) are left out: they overlap the objects they contain.

Fix: drop the later copy; safe for an exact copy (same box and same mask: the earlier one keeps
the object), unsafe for a near copy (it might be two objects) and for the same box with a
different mask.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._duplicates import Sorted, iou, nearest_copies
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, annotation_keys, at_annotations, finite_box_mask
from detlint.rules._options import DUPLICATE_IOU, Options

CODE = "B006"
NAME = "duplicate-box"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
OPTIONS = Options(DUPLICATE_IOU)


def duplicate_pairs(ds: Dataset, threshold: float, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(copy, original, iou) rows, one per later copy, by copy row: ``original`` is the earlier
    row it duplicates that lies nearest in the (image, class, x1) order (see ``_duplicates``
    for how that is found without comparing all pairs of an image)."""
    ann = ds.annotations
    # crowd regions (COCO iscrowd=1) overlap the objects they contain by design
    candidates = np.flatnonzero(finite_box_mask(ds, ctx) & (ann.image >= 0) & (ann.iscrowd != 1))
    boxes = ann.boxes[candidates]
    group = ann.image[candidates].astype(np.int64) * (len(ds.categories) + 2) + ann.category[candidates]
    order = group_x1_order(group, boxes[:, 0])
    rows = candidates[order]
    s = Sorted(rows.astype(np.int64), boxes[order], group[order], threshold)
    found = nearest_copies(s)
    copies = np.flatnonzero(found >= 0)
    originals = found[copies]
    iou_values = iou(s.boxes[originals], s.boxes[copies])
    by_row = np.argsort(s.rows[copies], kind="stable")
    return s.rows[copies][by_row], s.rows[originals][by_row], iou_values[by_row]


def group_x1_order(group: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """The (group, x1, position) order: ``np.lexsort((x1, group))``, in half its time on big
    columns (x1 replaced by its stable rank, so that one key holds both and no two are equal)."""
    n = len(x1)
    if not n or int(group.max()) >= (1 << 62) // n:  # the packed key would overflow
        return np.lexsort((x1, group))
    rank = np.empty(n, np.int64)
    rank[np.argsort(x1, kind="stable")] = np.arange(n)
    return np.argsort(group * n + rank)


def _same_masks(ds: Dataset, copies: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """Whether each pair has the same segmentation (two masks in one box are two objects:
    dropping one would lose it). Compared as JSON-like values; the pairs are few."""
    seg = ds.annotations.segmentation
    return np.array([_plain(seg[a]) == _plain(seg[b]) for a, b in zip(copies.tolist(), originals.tolist())],
                    bool).reshape(len(copies))


def _plain(value: object) -> object:
    return value.tolist() if isinstance(value, np.ndarray) else value


_SAFE, _UNSAFE = Fix("safe", "drop the later copy"), Fix("unsafe", "drop the later copy")
_MESSAGE = ("box [%.1f, %.1f, %.1f, %.1f] is %s annotation %s (same image, same class): the object counts twice "
            "in the loss, and evaluation counts the copy as a missed object")  # box_text's rounding, in one format


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    threshold = float(ctx.get(OPTIONS, "duplicate-iou"))
    copies, originals, ious = duplicate_pairs(ds, threshold, ctx)
    boxes = ds.annotations.boxes
    exacts = (boxes[copies] == boxes[originals]).all(axis=1)
    same_masks = np.ones(len(copies), bool)
    same_masks[exacts] = _same_masks(ds, copies[exacts], originals[exacts])
    # a rule that may fire on every box: each message is one format of Python values (the boxes
    # are finite: candidates only), no per-finding numpy scalar or lookup
    whats = [("an exact copy of" if exact else f"a near copy (IoU {value:.3f}) of") if same_mask
             else "the same box, with another mask, as"
             for value, exact, same_mask in zip(ious.tolist(), exacts.tolist(), same_masks.tolist())]
    messages = [_MESSAGE % (*box, what, key)
                for box, what, key in zip(boxes[copies].tolist(), whats, annotation_keys(ds, originals))]
    fixes = [_SAFE if safe else _UNSAFE for safe in (exacts & same_masks).tolist()]
    rows, duplicate_of = copies.tolist(), originals.tolist()
    data = [{"row": b, "duplicate_of": a} for b, a in zip(rows, duplicate_of)]
    return at_annotations(ds, rows, CODE, messages, fixes, "bbox", data)


fix = DropRows()  # drop the copy
