"""Perceptual hashes and the search for near pairs among them: pure numpy, no files.

:func:`perceptual_hash` is a 64-bit DCT hash of an image's luminance; :func:`hash_pairs` finds
every pair of hashes within a Hamming distance, blockwise for few hashes and by shared bands
otherwise (two hashes within distance k agree on at least one of k+1 bands).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# DCT-II basis for a 32x32 pHash: coefficients = D @ pixels @ D.T.
_DCT_SIZE = 32
_DCT = np.cos(np.pi * np.outer(np.arange(_DCT_SIZE), 2 * np.arange(_DCT_SIZE) + 1) / (2 * _DCT_SIZE))
_FLAT_STD = 1.0  # grey levels: below this the image has no structure to hash
_WIDE_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N"})


def perceptual_hash(im: Any) -> int | None:
    """64-bit DCT perceptual hash (pHash) of a decoded image, as an unsigned int.

    The image is box-averaged to 32x32 grey, transformed with a 2D DCT; bit k says whether the
    k-th of the 8x8 lowest frequencies is above their median. Resizing, re-encoding and small
    crops change few bits; different content changes about half of them. None for a flat image
    (one colour): its bits would be rounding noise, equal for every flat image of any colour.
    """
    from PIL import Image

    if im.mode in _WIDE_MODES:
        grey = Image.fromarray(np.asarray(im, dtype=np.float32), "F")
    else:
        try:
            grey = im.convert("L")
        except (ValueError, OSError):
            grey = im.convert("RGB").convert("L")
    small = np.asarray(grey.resize((_DCT_SIZE, _DCT_SIZE), Image.Resampling.BOX), dtype=np.float64)
    if grey.mode == "F":  # wide range: judge flatness on an 8-bit scale
        small = small * (255.0 / max(1.0, float(np.abs(small).max())))
    if small.std() < _FLAT_STD:
        return None
    low = (_DCT @ small @ _DCT.T)[:8, :8].ravel()
    bits = low > np.median(low[1:])  # the DC term says only "brightness"; leave it out of the median
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.int64)
    as_bytes = values.astype(np.uint64).view(np.uint8).reshape(-1, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=1)


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
_BRUTE_FORCE_MAX = 3000  # below this many distinct hashes a blockwise all-pairs scan is cheaper
_GROUP_CAP = 64  # copies of one hash paired with each other: enough to find each row's earliest match


def hash_pairs(values: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a < b) of distinct uint64 ``values`` within ``max_distance`` bits.

    Multi-index hashing: the 64 bits are 4 bands of 16. Two hashes within d bits agree within
    d // 4 bits on at least one band (pigeonhole), so candidates are looked up per band by
    flipping at most d // 4 bits of the band (a sorted array + searchsorted), then verified.
    """
    m = len(values)
    if m < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if m <= _BRUTE_FORCE_MAX or max_distance >= 16:
        return _brute_force_pairs(values, max_distance)
    radius = max_distance // 4
    masks = np.flatnonzero(popcount64(np.arange(1 << 16, dtype=np.uint64)) <= radius)
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []
    for band in range(4):
        keys = ((values >> np.uint64(16 * band)) & np.uint64(0xFFFF)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        for mask in masks.tolist():
            query = keys ^ mask
            lo = np.searchsorted(sorted_keys, query, "left")
            hi = np.searchsorted(sorted_keys, query, "right")
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            a = np.repeat(np.arange(m), counts)
            starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
            b = order[starts + np.arange(total)]
            keep = a < b
            found_a.append(a[keep])
            found_b.append(b[keep])
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = np.concatenate(found_a)
    b = np.concatenate(found_b)
    pair_id = np.unique(a * m + b)
    a, b = pair_id // m, pair_id % m
    close = popcount64(values[a] ^ values[b]) <= max_distance
    return a[close], b[close]


def _brute_force_pairs(values: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    m = len(values)
    block = max(1, 4_000_000 // m)
    found_a, found_b = [], []
    for start in range(0, m, block):
        rows = np.arange(start, min(m, start + block))
        distance = popcount64((values[rows, None] ^ values[None, :]).ravel()).reshape(len(rows), m)
        a, b = np.nonzero((distance <= max_distance) & (np.arange(m)[None, :] > rows[:, None]))
        found_a.append(rows[a])
        found_b.append(b)
    return np.concatenate(found_a), np.concatenate(found_b)


def near_row_pairs(report: Any, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) over image rows, i < j, sorted by j then i; see ImageReport.near_pairs."""
    rows = np.flatnonzero(report.has_phash)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if len(rows) < 2:
        return empty
    distinct, group = np.unique(report.phash[rows], return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    members = rows[order]  # rows grouped by hash value, each group in row order
    sizes = np.bincount(group, minlength=len(distinct))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))

    same_i, same_j = _same_hash_pairs(members, starts, sizes)
    u, v = hash_pairs(distinct, max_distance)
    near_i, near_j = _expand_groups(members, starts, np.minimum(sizes, _GROUP_CAP), u, v)
    first = np.concatenate([same_i, near_i])
    second = np.concatenate([same_j, near_j])
    lo, hi = np.minimum(first, second), np.maximum(first, second)
    keep = report.paths[lo] != report.paths[hi]
    keep &= np.array([a is None or a != b for a, b in zip(report.sha[lo].tolist(), report.sha[hi].tolist())],
                     dtype=bool)
    lo, hi = lo[keep], hi[keep]
    if not len(lo):
        return empty
    order = np.lexsort((lo, hi))
    lo, hi = lo[order], hi[order]
    return lo, hi, popcount64(report.phash[lo] ^ report.phash[hi])


def _same_hash_pairs(members: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows with identical hashes (each row paired with up to _GROUP_CAP earlier ones)."""
    found_i, found_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    twos = np.flatnonzero(sizes == 2)
    found_i.append(members[starts[twos]])
    found_j.append(members[starts[twos] + 1])
    for g in np.flatnonzero(sizes > 2).tolist():
        group = members[starts[g]:starts[g] + sizes[g]]
        a, b = np.triu_indices(len(group), k=1)
        keep = a < _GROUP_CAP
        found_i.append(group[a[keep]])
        found_j.append(group[b[keep]])
    return np.concatenate(found_i), np.concatenate(found_j)


def _expand_groups(members: np.ndarray, starts: np.ndarray, sizes: np.ndarray, u: np.ndarray,
                   v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All row pairs between hash groups u[k] and v[k] (groups capped at their first rows)."""
    if not len(u):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = sizes[u] * sizes[v]
    pair = np.repeat(np.arange(len(u)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    width = sizes[v][pair]
    return members[starts[u][pair] + offset // width], members[starts[v][pair] + offset % width]


def first_pair_per_row(j: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indices of the selected pairs that are the first (earliest i) for their row j.

    Pairs come sorted by j, then i, so the first selected pair of each j is its earliest match.
    """
    selected = np.flatnonzero(mask)
    if not len(selected):
        return selected
    _, first = np.unique(j[selected], return_index=True)
    return selected[first]
