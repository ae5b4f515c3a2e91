"""Matching two versions of a dataset: images by path then by content, boxes by class and IoU.

Everything here is columns in, index arrays out (no findings, no files read): the matcher of
:mod:`detlint.diffing` turns the pairs into changes.

Boxes are matched in two stages so that the common case costs one sort:

1. *exact*: rows of a matched image pair with the same class and the same box (quantised to
   ``QUANTUM`` px) pair up by a lexicographic sort of integer keys, the k-th copy in the old with
   the k-th copy in the new. At 860k boxes with 100 changed files this settles all but a few
   hundred rows.
2. *IoU*: the rest, within each image pair, greedily by IoU (highest first, each box used once;
   the rounds of mutual best matches below give exactly that greedy result for distinct IoUs),
   first same-class pairs at ``IoU >= threshold`` (moved or resized), then pairs of other classes
   at the same threshold (relabelled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Hasher = Callable[[np.ndarray], dict[int, str]]
QUANTUM = 1e-3  # px: coordinates closer than this are the same (YOLO's 6 decimals of a 1000 px side)


@dataclass
class ImagePairs:
    """Rows of matched images (``old[k]`` is ``new[k]``), how each was matched, and the rest."""

    old: np.ndarray  # int64 image rows in the old dataset
    new: np.ndarray  # int64 image rows in the new dataset
    by_content: np.ndarray  # bool: matched by content hash (the path changed)
    removed: np.ndarray  # old image rows without a partner
    added: np.ndarray  # new image rows without a partner


def image_keys(paths: np.ndarray, file_names: np.ndarray) -> list[str]:
    """The relative path that names each image: where its file was found, else its declared name."""
    return [str(p or f) for p, f in zip(paths.tolist(), file_names.tolist())]


def match_by_key(old_keys: list[str], new_keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(old rows, new rows) of equal keys; a key repeated on one side pairs its first row only."""
    first_new: dict[str, int] = {}
    for row, key in enumerate(new_keys):
        if key:
            first_new.setdefault(key, row)
    seen: set[str] = set()
    old_rows, new_rows = [], []
    for row, key in enumerate(old_keys):
        partner = first_new.get(key)
        if partner is not None and key not in seen:
            seen.add(key)
            old_rows.append(row)
            new_rows.append(partner)
    return np.asarray(old_rows, np.int64), np.asarray(new_rows, np.int64)


def match_images(old_keys: list[str], new_keys: list[str], hash_old: Hasher, hash_new: Hasher) -> ImagePairs:
    """Images by relative path, then the unmatched ones by content hash (``hash_*``: the rows the
    path left unmatched -> row: hash; only those are read)."""
    old_rows, new_rows = match_by_key(old_keys, new_keys)
    left_old = _without(len(old_keys), old_rows)
    left_new = _without(len(new_keys), new_rows)
    old_hash, new_hash = hash_old(left_old), hash_new(left_new)
    hashed_old = [old_hash.get(int(r), "") for r in left_old.tolist()]
    hashed_new = [new_hash.get(int(r), "") for r in left_new.tolist()]
    o, n = match_by_key(hashed_old, hashed_new)
    moved_old, moved_new = left_old[o], left_new[n]
    return ImagePairs(
        old=np.concatenate([old_rows, moved_old]), new=np.concatenate([new_rows, moved_new]),
        by_content=np.concatenate([np.zeros(len(old_rows), bool), np.ones(len(moved_old), bool)]),
        removed=np.setdiff1d(left_old, moved_old), added=np.setdiff1d(left_new, moved_new))  # small arrays


@dataclass
class BoxSide:
    """One version's boxes as the matcher sees them: the annotation rows taking part, the image
    pair each belongs to, its class in the shared class space, and its xyxy box."""

    rows: np.ndarray  # int64 annotation rows
    pair: np.ndarray  # int64 index into ImagePairs.old/new
    label: np.ndarray  # int64 shared class code
    boxes: np.ndarray  # float64[N, 4]


@dataclass
class BoxPairs:
    """Indices into the two BoxSides: exact pairs, IoU pairs of one class (moved), IoU pairs of
    two classes (relabelled), and the rest of each side."""

    exact: tuple[np.ndarray, np.ndarray]
    moved: tuple[np.ndarray, np.ndarray, np.ndarray]  # old, new, IoU
    relabelled: tuple[np.ndarray, np.ndarray, np.ndarray]
    removed: np.ndarray
    added: np.ndarray


def match_boxes(old: BoxSide, new: BoxSide, threshold: float) -> BoxPairs:
    eo, en = _exact(old, new)
    left_o = _without(len(old.rows), eo)
    left_n = _without(len(new.rows), en)
    same = _greedy(old, new, left_o, left_n, threshold, same_class=True)
    left_o = np.setdiff1d(left_o, same[0])  # small: the rows no exact match took
    left_n = np.setdiff1d(left_n, same[1])
    other = _greedy(old, new, left_o, left_n, threshold, same_class=False)
    return BoxPairs(exact=(eo, en), moved=same, relabelled=other,
                    removed=np.setdiff1d(left_o, other[0]), added=np.setdiff1d(left_n, other[1]))


def _keys(side: BoxSide) -> np.ndarray:
    """int64 rows (pair, class, quantised box): equal rows are the same box. Non-finite
    coordinates become one sentinel, so two NaN boxes of one class still match."""
    with np.errstate(invalid="ignore", over="ignore"):
        quantised = np.round(side.boxes / QUANTUM)
    quantised = np.where(np.isfinite(quantised) & (np.abs(quantised) < 2**62), quantised, 2**62)
    return np.column_stack([side.pair, side.label, quantised.astype(np.int64)])


def _without(n: int, used: np.ndarray) -> np.ndarray:
    """``arange(n)`` less ``used`` (a mask, not ``setdiff1d``: that sorts, 0.3 s a call at 860k rows)."""
    keep = np.ones(n, bool)
    keep[used] = False
    return np.flatnonzero(keep)


def _exact(old: BoxSide, new: BoxSide) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of equal boxes. An image pair whose boxes are the same, row for row in file order
    (nearly every image of a pull request's diff), pairs them by position in one comparison of the
    key columns; only the other image pairs' rows are sorted (``_exact_sorted``)."""
    if not len(old.rows) or not len(new.rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    old_keys, new_keys = _keys(old), _keys(new)
    n_pairs = int(max(old.pair.max(), new.pair.max())) + 1
    count_o = np.bincount(old.pair, minlength=n_pairs)
    count_n = np.bincount(new.pair, minlength=n_pairs)
    order_o = np.argsort(old.pair, kind="stable")  # by pair, file order within one
    order_n = np.argsort(new.pair, kind="stable")
    same_count = count_o == count_n
    in_o = order_o[same_count[old.pair[order_o]]]
    in_n = order_n[same_count[new.pair[order_n]]]  # aligned with in_o, row for row
    differs = (old_keys[in_o] != new_keys[in_n]).any(axis=1)
    bad_pairs = np.bincount(old.pair[in_o], weights=differs, minlength=n_pairs) > 0
    aligned = same_count & ~bad_pairs
    take = aligned[old.pair[in_o]]
    fast_o, fast_n = in_o[take], in_n[take]
    rest_o = np.flatnonzero(~aligned[old.pair])
    rest_n = np.flatnonzero(~aligned[new.pair])
    so, sn = _exact_sorted(old_keys[rest_o], new_keys[rest_n])
    return np.concatenate([fast_o, rest_o[so]]).astype(np.int64), np.concatenate([fast_n, rest_n[sn]]).astype(np.int64)


def _exact_sorted(old_keys: np.ndarray, new_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of equal keys, the k-th copy of a key in the old with its k-th copy in the new."""
    if not len(old_keys) or not len(new_keys):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.vstack([old_keys, new_keys])
    side = np.concatenate([np.zeros(len(old_keys), np.int64), np.ones(len(new_keys), np.int64)])
    order = np.lexsort((side, *keys.T[::-1]))  # by key, the old copies of a key first
    ordered = keys[order]
    starts = np.concatenate([[True], (ordered[1:] != ordered[:-1]).any(axis=1)])
    group = np.cumsum(starts) - 1
    side_sorted = side[order]
    # rank of each row among the rows of its key on its own side
    first_of_side = np.concatenate([[True], (group[1:] != group[:-1]) | (side_sorted[1:] != side_sorted[:-1])])
    run_start = np.maximum.accumulate(np.where(first_of_side, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - run_start
    combined = group * (len(order) + 1) + rank
    is_old = side_sorted == 0
    _, a, b = np.intersect1d(combined[is_old], combined[~is_old], assume_unique=True, return_indices=True)
    old_index = order[is_old][a]
    new_index = order[~is_old][b] - len(old_keys)
    return old_index.astype(np.int64), new_index.astype(np.int64)


def cross_pairs(old_pair: np.ndarray, new_pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``old_pair[i] == new_pair[j]``, without a loop over groups."""
    if not len(old_pair) or not len(new_pair):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order_n = np.argsort(new_pair, kind="stable")
    sorted_n = new_pair[order_n]
    lo = np.searchsorted(sorted_n, old_pair, "left")
    hi = np.searchsorted(sorted_n, old_pair, "right")
    counts = hi - lo
    i = np.repeat(np.arange(len(old_pair)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    j = order_n[np.repeat(lo, counts) + within]
    return i.astype(np.int64), j.astype(np.int64)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two ``[N, 4]`` xyxy arrays (0 where the union is empty or not finite)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
        h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
        inter = w * h
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        result = inter / (area_a + area_b - inter)
    return np.where(np.isfinite(result), result, 0.0)


def _greedy(old: BoxSide, new: BoxSide, left_o: np.ndarray, left_n: np.ndarray, threshold: float,
            same_class: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy one-to-one pairs by IoU among ``left_o`` x ``left_n`` of one image pair."""
    i, j = cross_pairs(old.pair[left_o], new.pair[left_n])
    oi, nj = left_o[i], left_n[j]
    keep = (old.label[oi] == new.label[nj]) if same_class else (old.label[oi] != new.label[nj])
    oi, nj = oi[keep], nj[keep]
    score = iou(old.boxes[oi], new.boxes[nj])
    keep = score >= threshold
    oi, nj, score = oi[keep], nj[keep], score[keep]
    chosen_o, chosen_n, chosen_s = [], [], []
    while len(oi):
        # each old box's best candidate and each new box's best: pairs that are both are taken
        order = np.lexsort((nj, oi, -score))
        oi, nj, score = oi[order], nj[order], score[order]
        _, best_o = np.unique(oi, return_index=True)
        _, best_n = np.unique(nj, return_index=True)
        mutual = np.intersect1d(best_o, best_n)
        chosen_o.append(oi[mutual])
        chosen_n.append(nj[mutual])
        chosen_s.append(score[mutual])
        free = ~np.isin(oi, oi[mutual]) & ~np.isin(nj, nj[mutual])
        oi, nj, score = oi[free], nj[free], score[free]
    if not chosen_o:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(chosen_o), np.concatenate(chosen_n), np.concatenate(chosen_s)
