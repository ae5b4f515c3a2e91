"""Near-duplicate boxes (B006) without comparing all pairs.

The answer, for each box ``b``: the box ``a`` it duplicates (same group, row ``a < b``,
IoU >= threshold) that lies nearest to ``b`` in the order by (group, x1, row), the left one
first at equal distance; none when there is no such ``a``. (That is what comparing every pair
and keeping, for each later copy, the pair found at the smallest offset gave.)

Two passes find it in near-linear time, also when one image holds every box:

1. a sweep over offsets 1..``SWEEP_OFFSETS`` in that order, for the boxes not yet answered and
   still in reach (x1 close enough to be a duplicate at all). On ordinary data every box is
   answered or out of reach here.
2. the rest (many boxes sharing an x1, clusters of copies) go to a grid: boxes are bucketed by
   size class (log width, log height) and by a cell of x1, y1 scaled to that class, so that a
   duplicate is always in one of the 81 neighbouring buckets; each bucket is scanned outward
   from the box in the (group, x1, row) order, in rounds of doubling length, and a scan stops at
   its first duplicate or once it is farther than the best one found in any bucket.

Every bound below is a necessary condition of IoU >= t (derived for positive boxes): with
``dx1`` the x1 difference, ``dx1 <= (1 - t) * w`` of the box with the smaller x1, and widths
(heights) within a factor ``t``. Zero or negative boxes never reach IoU > 0 and are skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SWEEP_OFFSETS = 32  # offsets the sweep always takes
SWEEP_WINDOW = 16  # past them, offsets per check of whether the sweep still pays
SWEEP_PAYS = 0.03  # share of the open boxes a window must answer for the sweep to go on
SWEEP_BUDGET = 512  # most sweep steps per box, whatever it answers
QUERY_CHUNK = 16_384  # grid queries per batch: bounds the memory of the scan items
MAX_ROUND = 4096  # longest run a scan item takes in one round
_MARGIN = 1.01  # widens the grid so that float rounding never moves a duplicate out of reach
_NONE = np.iinfo(np.int64).max


@dataclass
class Sorted:
    """Boxes in (group, x1, row) order: the positions every search works on."""

    rows: np.ndarray  # int64: the annotation row at each position
    boxes: np.ndarray  # float64[N, 4] xyxy
    group: np.ndarray  # int64: same value = same image and class
    threshold: float

    def __post_init__(self) -> None:
        self.x1, self.y1 = self.boxes[:, 0], self.boxes[:, 1]
        self.w, self.h = self.boxes[:, 2] - self.x1, self.boxes[:, 3] - self.y1
        self.positive = (self.w > 0) & (self.h > 0)
        # contiguous columns: the searches gather single values, which a [N, 4] row layout slows
        self.columns = tuple(np.ascontiguousarray(self.boxes[:, k]) for k in range(4))
        self.area = (self.columns[2] - self.columns[0]) * (self.columns[3] - self.columns[1])
        # grid geometry: a threshold of 1 (exact copies only) still needs cells of some size
        self.t = min(self.threshold, 1 - 1e-6)

    def qualifies(self, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Whether the box at position ``a`` is an earlier copy of the one at ``b``."""
        ok = (self.group[a] == self.group[b]) & (self.rows[a] < self.rows[b])
        pairs = np.flatnonzero(ok)  # the IoU (most of the cost) only where it can matter
        ok[pairs] = self.iou_at(a[pairs], b[pairs]) >= self.threshold
        return ok

    def qualifies_same_group(self, b: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``qualifies`` for pairs already known to share a group."""
        ok = self.rows[a] < self.rows[b]
        pairs = np.flatnonzero(ok)
        ok[pairs] = self.iou_at(a[pairs], b[pairs]) >= self.threshold
        return ok

    def iou_at(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``iou`` of the boxes at positions ``a`` and ``b``, from the contiguous columns (the
        same values: only a zero's sign may differ)."""
        x1, y1, x2, y2 = self.columns
        iw = np.maximum(np.minimum(x2[a], x2[b]) - np.maximum(x1[a], x1[b]), 0)
        ih = np.maximum(np.minimum(y2[a], y2[b]) - np.maximum(y1[a], y1[b]), 0)
        inter = iw * ih
        with np.errstate(invalid="ignore", divide="ignore"):
            return inter / (self.area[a] + self.area[b] - inter)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a + area_b - inter)


def nearest_copies(s: Sorted) -> np.ndarray:
    """int64 per position: the position of the copy it duplicates, or -1."""
    found = np.full(len(s.rows), -1, np.int64)
    rest = _sweep(s, found)
    if len(rest):
        _grid_search(s, rest, found)
    return found


# ----------------------------------------------------------------------------- pass 1: sweep

def _sweep(s: Sorted, found: np.ndarray) -> np.ndarray:
    """Answer what the offsets swept answer; the positions still open and in reach.

    Offsets 1..SWEEP_OFFSETS always; past them the sweep goes on while it pays (a window of
    SWEEP_WINDOW offsets answers at least SWEEP_PAYS of the open boxes: a grid query costs
    about as much as 1 / SWEEP_PAYS sweep steps) and stops once it has done SWEEP_BUDGET steps
    per box, so that boxes in reach of each other but never duplicates (one column of boxes)
    stay linear."""
    n = len(s.rows)
    slack = (1 - s.t) * s.w * _MARGIN
    reach = (slack / s.t, slack)  # left: a has the smaller x1 (and w_a <= w_b / t); right: b has
    first, last = _group_bounds(s.group)
    x1 = np.ascontiguousarray(s.x1)
    active = np.flatnonzero(s.positive)
    alive = [np.ones(len(active), bool), np.ones(len(active), bool)]  # left, right
    budget, window_open = SWEEP_BUDGET * n, len(active)
    for d in itertools.count(1):
        if not len(active) or budget <= 0:
            break
        if d > SWEEP_OFFSETS and d % SWEEP_WINDOW == 1:
            if window_open - len(active) < SWEEP_PAYS * window_open:
                break  # the last window answered too few: the grid is cheaper for the rest
            window_open = len(active)
        budget -= 2 * len(active)
        hit = np.zeros(len(active), bool)
        for side, other in ((0, active - d), (1, active + d)):
            # positions of one group are contiguous: inside it means the same image and class
            within = other >= first[active] if side == 0 else other <= last[active]
            other = np.clip(other, 0, n - 1)
            alive[side] &= within & (np.abs(x1[other] - x1[active]) <= reach[side][active])
            ask = np.flatnonzero(alive[side] & ~hit)
            new = ask[s.qualifies_same_group(active[ask], other[ask])]
            found[active[new]] = other[new]
            hit[new] = True
        keep = ~hit & (alive[0] | alive[1])
        active, alive = active[keep], [alive[0][keep], alive[1][keep]]
    return active


def _group_bounds(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per position, the first and last position of its group (groups are contiguous)."""
    n = len(group)
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]])) if n else np.zeros(0, np.int64)
    sizes = np.diff(np.append(starts, n))
    first = np.repeat(starts, sizes)
    return first, first + np.repeat(sizes, sizes) - 1


# ------------------------------------------------------------------------------ pass 2: grid

@dataclass
class _Grid:
    keys: np.ndarray  # sorted distinct bucket keys
    members: np.ndarray  # positions, by (bucket, position)
    start: np.ndarray  # first index into members of each bucket
    end: np.ndarray


def _size_class(s: Sorted, extent: np.ndarray) -> np.ndarray:
    # a duplicate's width is within a factor t: classes of log width one factor (plus margin)
    # wide put it in the same or a neighbouring class
    return np.floor(np.log(extent) / (np.log(1 / s.t) * _MARGIN)).astype(np.int64)


def _cell(s: Sorted, offset: np.ndarray, size_class: np.ndarray) -> np.ndarray:
    """Cell index of a coordinate in the grid of a size class: one cell is the largest x1 (y1)
    difference a duplicate may have with a box of that class or the next one up."""
    size = (1 - s.t) * np.exp((size_class + 2) * np.log(1 / s.t) * _MARGIN) * _MARGIN
    return np.floor(np.clip(offset / size, -2.0**62, 2.0**62)).astype(np.int64)


def _bucket_key(group: np.ndarray, *parts: np.ndarray) -> np.ndarray:
    """One uint64 per bucket (a hash: a collision only merges two buckets, which costs time,
    never a result, since every candidate is checked)."""
    key = group.astype(np.uint64)
    for part in parts:
        key = (key ^ part.astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
        key ^= key >> np.uint64(29)
    return key


def _build_grid(s: Sorted, members: np.ndarray, kw: np.ndarray, kh: np.ndarray) -> _Grid:
    keys = _bucket_key(s.group[members], kw[members], kh[members], _cell(s, s.x1[members], kw[members]),
                       _cell(s, s.y1[members], kh[members]))
    distinct, bucket = np.unique(keys, return_inverse=True)
    order = np.lexsort((members, bucket))
    bounds = np.searchsorted(bucket[order], np.arange(len(distinct) + 1))
    return _Grid(distinct, members[order], bounds[:-1], bounds[1:])


def _grid_search(s: Sorted, queries: np.ndarray, found: np.ndarray) -> None:
    """Answer ``queries`` (positions) by the grid; fills ``found``."""
    kw, kh = np.zeros(len(s.rows), np.int64), np.zeros(len(s.rows), np.int64)
    members = np.flatnonzero(s.positive & np.isin(s.group, s.group[queries]))
    kw[members], kh[members] = _size_class(s, s.w[members]), _size_class(s, s.h[members])
    grid = _build_grid(s, members, kw, kh)
    classes = np.unique(_bucket_key(s.group[members], kw[members], kh[members]))
    for start in range(0, len(queries), QUERY_CHUNK):
        chunk = queries[start:start + QUERY_CHUNK]
        best = np.full(len(s.rows), _NONE, np.int64)
        # the box's own bucket first: its copies are usually there, and the best distance found
        # ends the scans of the other buckets early
        _scan(s, grid, best, *_scan_items(s, grid, chunk, kw, kh, (0, 0, 0, 0)))
        items = []
        for dw, dh in itertools.product((-1, 0, 1), repeat=2):
            near = chunk[_found(classes, _bucket_key(s.group[chunk], kw[chunk] + dw, kh[chunk] + dh))]
            items += [_scan_items(s, grid, near, kw, kh, (dw, dh, dx, dy))
                      for dx, dy in itertools.product((-1, 0, 1), repeat=2) if (dw, dh, dx, dy) != (0, 0, 0, 0)]
        _scan(s, grid, best, *(np.concatenate(column) for column in zip(*items)))
        best = best[chunk]
        answered = best != _NONE
        q, key = chunk[answered], best[answered]
        found[q] = np.where(key % 2 == 0, q - key // 2, q + key // 2)


def _scan_items(s: Sorted, grid: _Grid, queries: np.ndarray, kw: np.ndarray, kh: np.ndarray,
                shift: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The two scans (left, right of the query) in one neighbouring bucket of each query:
    (query, next member index, bound, direction)."""
    qw, qh = kw[queries] + shift[0], kh[queries] + shift[1]
    keys = _bucket_key(s.group[queries], qw, qh, _cell(s, s.x1[queries], qw) + shift[2],
                       _cell(s, s.y1[queries], qh) + shift[3])
    hit = _found(grid.keys, keys)
    at = np.searchsorted(grid.keys, keys[hit])
    q, bucket = queries[hit], at
    lo, hi = grid.start[bucket], grid.end[bucket]
    # first member at or after the query's own position (members are sorted within a bucket)
    split = lo + _searchsorted_within(grid.members, lo, hi, q)
    self_here = (split < hi) & (grid.members[np.minimum(split, len(grid.members) - 1)] == q)
    right = split + self_here
    query = np.concatenate([q, q])
    nxt = np.concatenate([split - 1, right])
    bound = np.concatenate([lo - 1, hi])  # exclusive
    direction = np.concatenate([np.full(len(q), -1), np.full(len(q), 1)])
    return query, nxt, bound, direction


def _found(distinct: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of ``keys`` present in the sorted ``distinct``."""
    at = np.minimum(np.searchsorted(distinct, keys), len(distinct) - 1)
    return distinct[at] == keys


def _searchsorted_within(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per query, ``searchsorted(values[lo:hi], x)``, by a vectorised binary search."""
    left, right = lo.copy(), hi.copy()
    while True:
        open_ = left < right
        if not open_.any():
            return left - lo
        mid = (left + right) // 2
        less = open_ & (values[np.minimum(mid, len(values) - 1)] < x)
        left = np.where(less, mid + 1, left)
        right = np.where(open_ & ~less, mid, right)


def _scan(s: Sorted, grid: _Grid, best: np.ndarray, query: np.ndarray, nxt: np.ndarray, bound: np.ndarray,
          direction: np.ndarray) -> None:
    """Lower ``best`` (per position: 2 * distance of its nearest copy, +1 for the right side;
    _NONE where none) by these scans."""
    run = 1
    while len(query):
        available = (bound - nxt) * direction
        side = (direction > 0).astype(np.int64)
        distance = np.abs(grid.members[np.clip(nxt, 0, len(grid.members) - 1)] - query)
        live = (available > 0) & (2 * distance + side <= best[query])
        query, nxt, bound, direction, available, side = (a[live] for a in (query, nxt, bound, direction,
                                                                           available, side))
        take = np.minimum(available, run)
        item = np.repeat(np.arange(len(query)), take)
        step = np.arange(len(item)) - np.repeat(np.cumsum(take) - take, take)
        candidate = grid.members[nxt[item] + direction[item] * step]
        ok = s.qualifies(query[item], candidate)
        first = np.unique(item[ok], return_index=True)[1]
        hit_item, hit_at = item[ok][first], candidate[ok][first]
        np.minimum.at(best, query[hit_item], 2 * np.abs(hit_at - query[hit_item]) + side[hit_item])
        open_ = np.ones(len(query), bool)
        open_[hit_item] = False  # a scan's first duplicate is its nearest
        nxt = nxt + direction * take
        query, nxt, bound, direction = query[open_], nxt[open_], bound[open_], direction[open_]
        run = min(2 * run, MAX_ROUND)
