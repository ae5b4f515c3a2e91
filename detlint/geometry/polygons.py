"""Every polygon of a segmentation column as flat arrays, for checks over all of them at once.

Kind-0 rows hold COCO polygon lists in pixels (``[[x1, y1, ...], ...]``; an RLE dict is no
polygon), kind-1 rows one normalised YOLO ring (a flat list). A part is one ring.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, compress, repeat

import numpy as np

KIND_BOX, KIND_POLYGON = 0, 1  # Annotations.KIND_BOX / KIND_POLYGON


@dataclass
class Parts:
    """One entry per ring: its annotation ``row``, its position ``part`` in the row's list,
    ``lengths`` (numbers it holds), ``normalized`` (a YOLO ring), and ``coords``: all numbers
    one ring after another (NaN for a value that is not a number)."""

    row: np.ndarray
    part: np.ndarray
    lengths: np.ndarray
    normalized: np.ndarray
    coords: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths

    def __len__(self) -> int:
        return len(self.row)

    def points(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(K, 2)`` points of the parts ``which`` (each of an even length) and the part
        each point belongs to."""
        lengths = self.lengths[which]
        take = np.repeat(self.starts[which], lengths) + _ramp(lengths)
        return self.coords[take].reshape(-1, 2), np.repeat(np.flatnonzero(which), lengths // 2)


def _numbers(parts: list, lengths: np.ndarray) -> np.ndarray:
    """The numbers of all parts in one C-level pass; part by part (non-numbers as NaN) when a
    value is not a number."""
    try:
        return np.fromiter(chain.from_iterable(parts), np.float64, int(lengths.sum()))
    except (TypeError, ValueError, OverflowError):
        return np.concatenate([_part_numbers(p) for p in parts]) if parts else np.zeros(0)


def _part_numbers(part: list) -> np.ndarray:
    return np.array([float(v) if type(v) in (int, float) and abs(v) < 1e300 else np.nan for v in part], np.float64)


def parts_of(segmentation: np.ndarray, kind: np.ndarray) -> Parts:
    """The rings of every kind-0 polygon list and every kind-1 row (module docstring)."""
    n = len(segmentation)
    is_list = np.fromiter(map(isinstance, segmentation, repeat(list)), bool, n)
    rows0 = np.flatnonzero(is_list & (kind == KIND_BOX))
    lists0 = segmentation[rows0].tolist()
    # a box-only COCO file holds "segmentation": [] for every box: those have no part to check
    filled = np.fromiter(map(len, lists0), np.int64, len(lists0)) > 0
    rows0 = rows0[filled]
    lists0 = list(compress(lists0, filled.tolist()))
    part_lists = [all(map(isinstance, s, repeat(list))) for s in lists0]
    rows0 = rows0[np.asarray(part_lists, bool)] if len(rows0) else rows0
    lists0 = list(compress(lists0, part_lists))
    counts0 = np.fromiter(map(len, lists0), np.int64, len(lists0))
    rows1 = np.flatnonzero(is_list & (kind == KIND_POLYGON))
    parts = list(chain.from_iterable(lists0)) + segmentation[rows1].tolist()
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    owners = np.concatenate([np.repeat(rows0, counts0), rows1]).astype(np.int64)
    first = np.cumsum(counts0) - counts0
    position = np.concatenate([np.arange(int(counts0.sum())) - np.repeat(first, counts0),
                               np.zeros(len(rows1), np.int64)]).astype(np.int64)
    normalized = np.concatenate([np.zeros(int(counts0.sum()), bool), np.ones(len(rows1), bool)])
    return Parts(owners, position, lengths, normalized, _numbers(parts, lengths))


def self_intersecting(parts: Parts) -> np.ndarray:
    """bool per part: the ring crosses itself (shapely, in bulk). Rings of 3 points
    cannot; a ring that comes back to a vertex it passed (the zero-width bridge by which
    ultralytics' converter joins parts and holes into one YOLO row) touches itself on purpose
    and is not counted."""
    from detlint.geometry.masks import _shapely

    shapely = _shapely()
    out = np.zeros(len(parts), bool)
    usable = (parts.lengths >= 8) & (parts.lengths % 2 == 0)
    if not usable.any():
        return out
    points, part_of = parts.points(usable)
    ring_of = np.searchsorted(np.flatnonzero(usable), part_of)
    finite = np.isfinite(points).all(axis=1)
    bad_ring = np.zeros(int(usable.sum()), bool)
    bad_ring[ring_of[~finite]] = True
    keep = ~bad_ring[ring_of]
    kept_rings = np.flatnonzero(~bad_ring)
    rings = shapely.linearrings(points[keep], indices=np.searchsorted(kept_rings, ring_of[keep]))
    # is_simple on the rings (0.5 s at 860k) finds what is_valid on polygons (1.5 s) would;
    # only the few that are not simple are explained
    simple = shapely.is_simple(rings)
    candidates = kept_rings[~simple]
    crossing = np.array([_crosses(points[ring_of == k]) for k in candidates.tolist()], bool)
    where = np.flatnonzero(usable)
    out[where[candidates[crossing]]] = True
    return out


def _ramp(lengths: np.ndarray) -> np.ndarray:
    """0..len-1 for each length, concatenated."""
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _crosses(points: np.ndarray) -> bool:
    """An invalid ring that crosses itself, not one that only revisits a vertex (a bridge)."""
    from detlint.geometry.masks import _shapely

    shapely = _shapely()
    if len(np.unique(points, axis=0)) < len(points) - (points[0] == points[-1]).all():
        return False
    reason = shapely.is_valid_reason(shapely.Polygon(points))
    return "Self-intersection" in reason
