"""Oriented boxes: four corners per row, as the model's kind-3 rows hold them.

Corners are an ``(N, 8)`` float array ``x1 y1 x2 y2 x3 y3 x4 y4`` in image coordinates (y points
down). Angles are in degrees, positive *clockwise on screen* (the way CVAT and Label Studio rotate
a rectangle, since y points down this is the mathematical positive direction in image axes).
"""

from __future__ import annotations

import numpy as np


def rect_corners(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The corners of axis-aligned rectangles with top-left ``(x, y)`` and size ``w x h``, clockwise
    on screen from the top-left: ``(N, 8)``."""
    x, y, w, h = (np.asarray(v, np.float64) for v in (x, y, w, h))
    return np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=-1).reshape(-1, 8)


def rotate(corners: np.ndarray, cx: np.ndarray, cy: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """``corners`` (N, 8) rotated by ``degrees`` (clockwise on screen) about ``(cx, cy)``."""
    points = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    theta = np.deg2rad(np.asarray(degrees, np.float64)).reshape(-1, 1)
    cos, sin = np.cos(theta), np.sin(theta)
    dx = points[:, :, 0] - np.asarray(cx, np.float64).reshape(-1, 1)
    dy = points[:, :, 1] - np.asarray(cy, np.float64).reshape(-1, 1)
    # x' = cx + dx cos - dy sin, y' = cy + dx sin + dy cos: clockwise on screen, as y points down
    out = np.stack([dx * cos - dy * sin + np.asarray(cx, np.float64).reshape(-1, 1),
                    dx * sin + dy * cos + np.asarray(cy, np.float64).reshape(-1, 1)], axis=-1)
    return out.reshape(-1, 8)


def enclosing_boxes(corners: np.ndarray) -> np.ndarray:
    """The smallest axis-aligned ``x1 y1 x2 y2`` box holding each row's corners: ``(N, 4)``."""
    points = np.asarray(corners, np.float64).reshape(-1, 4, 2)
    return np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)


def _points(corners: np.ndarray) -> np.ndarray:
    return np.asarray(corners, np.float64).reshape(-1, 4, 2)


def signed_area(corners: np.ndarray) -> np.ndarray:
    """The shoelace area of each quadrilateral in corner order: positive when the corners run
    clockwise on screen (y down), negative counter-clockwise; a bow-tie's lobes cancel."""
    p = _points(corners)
    x, y = p[:, :, 0], p[:, :, 1]
    return 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)


def is_clockwise(corners: np.ndarray) -> np.ndarray:
    """Whether each row's corners run clockwise on screen (the DOTA convention)."""
    return signed_area(corners) > 0


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, 0] - o[:, 0]) * (b[:, 1] - o[:, 1]) - (a[:, 1] - o[:, 1]) * (b[:, 0] - o[:, 0])


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether segment ab properly crosses segment cd (an interior point of both)."""
    d1, d2 = _cross(c, d, a), _cross(c, d, b)
    d3, d4 = _cross(a, b, c), _cross(a, b, d)
    return (d1 * d2 < 0) & (d3 * d4 < 0)


def self_crossing(corners: np.ndarray) -> np.ndarray:
    """Whether each quadrilateral's outline crosses itself (a bow-tie: two corners swapped, so
    edges 1-2 and 3-4, or 2-3 and 4-1, intersect and its diagonals do not)."""
    p = _points(corners)
    p1, p2, p3, p4 = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    return _segments_cross(p1, p2, p3, p4) | _segments_cross(p2, p3, p4, p1)


def hull_area(corners: np.ndarray) -> np.ndarray:
    """The area of the convex hull of each row's four corners (order-free: a bow-tie's hull is
    the quadrilateral the annotator meant; max over the three cyclic orders of four points)."""
    p = _points(corners)
    orders = ((0, 1, 2, 3), (0, 2, 1, 3), (0, 1, 3, 2))
    return np.max([np.abs(signed_area(p[:, order].reshape(-1, 8))) for order in orders], axis=0)


def min_area_rects(corners: np.ndarray) -> np.ndarray:
    """The smallest rotated rectangle holding each row's corners, as ``(N, 8)`` corners
    clockwise on screen. Exact: one side of it lies along an edge of the hull, and every hull
    edge is one of the six point pairs, so the best of those six directions is the answer
    (the same rectangle as ``cv2.minAreaRect``, without a per-row call)."""
    p = _points(corners)
    best_area = np.full(len(p), np.inf)
    best = np.zeros((len(p), 4, 2))
    for i, j in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)):
        edge = p[:, j] - p[:, i]
        length = np.hypot(edge[:, 0], edge[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(length[:, None] > 0, edge / length[:, None], [1.0, 0.0])
        v = np.stack([-u[:, 1], u[:, 0]], axis=1)
        s = np.einsum("nkd,nd->nk", p, u)
        t = np.einsum("nkd,nd->nk", p, v)
        s0, s1, t0, t1 = s.min(1), s.max(1), t.min(1), t.max(1)
        area = (s1 - s0) * (t1 - t0)
        better = area < best_area * (1 - 1e-12)
        rect = np.stack([a[:, None] * u + b[:, None] * v for a, b in ((s0, t0), (s1, t0), (s1, t1), (s0, t1))], 1)
        best[better], best_area[better] = rect[better], area[better]
    return reorder(best.reshape(-1, 8))


def corners_to_xywhr(corners: np.ndarray) -> np.ndarray:
    """``(N, 5)`` ``cx cy w h r`` of each row's min-area rectangle as ultralytics' ``xyxyxyxy2xywhr``
    gives it: ``w`` the longer side, ``r`` in radians in ``[-pi/4, 3pi/4)`` (y down, so positive
    ``r`` turns clockwise on screen). For a square the angle is one of its equal choices."""
    rect = _points(min_area_rects(corners))
    centre = rect.mean(axis=1)
    side_a, side_b = rect[:, 1] - rect[:, 0], rect[:, 3] - rect[:, 0]
    len_a, len_b = np.hypot(*side_a.T), np.hypot(*side_b.T)
    a_longer = len_a >= len_b
    along = np.where(a_longer[:, None], side_a, side_b)
    theta = np.arctan2(along[:, 1], along[:, 0])
    theta = (theta + np.pi / 4) % np.pi - np.pi / 4
    return np.column_stack([centre, np.maximum(len_a, len_b), np.minimum(len_a, len_b), theta])


def xywhr_to_corners(xywhr: np.ndarray) -> np.ndarray:
    """``(N, 8)`` corners of ``cx cy w h r`` rows in ultralytics' order (``xywhr2xyxyxyxy``)."""
    cx, cy, w, h, r = np.asarray(xywhr, np.float64).reshape(-1, 5).T
    cos, sin = np.cos(r), np.sin(r)
    v1 = np.stack([w / 2 * cos, w / 2 * sin], axis=1)
    v2 = np.stack([-h / 2 * sin, h / 2 * cos], axis=1)
    c = np.stack([cx, cy], axis=1)
    return np.stack([c + v1 + v2, c + v1 - v2, c - v1 - v2, c - v1 + v2], axis=1).reshape(-1, 8)


def regularize_xywhr(xywhr: np.ndarray) -> np.ndarray:
    """ultralytics' ``regularize_rboxes``: angles into ``[0, pi/2)``, ``w``/``h`` swapped where
    the angle moved by a quarter turn."""
    cx, cy, w, h, r = np.asarray(xywhr, np.float64).reshape(-1, 5).T
    swap = r % np.pi >= np.pi / 2
    return np.column_stack([cx, cy, np.where(swap, h, w), np.where(swap, w, h), r % (np.pi / 2)])


def reorder(corners: np.ndarray) -> np.ndarray:
    """The same quadrilaterals with corners clockwise on screen from the top-left one (least
    ``x + y``, then least ``y``): DOTA's order, and what an axis-aligned box writes. A bow-tie
    stays a bow-tie (only the starting corner and the direction change)."""
    p = _points(corners)
    ccw = ~is_clockwise(p.reshape(-1, 8))
    p = np.where(ccw[:, None, None], p[:, ::-1], p)
    key = p[:, :, 0] + p[:, :, 1] + 1e-9 * p[:, :, 1]
    first = np.argmin(key, axis=1)
    index = (first[:, None] + np.arange(4)) % 4
    return np.take_along_axis(p, index[:, :, None], axis=1).reshape(-1, 8)


def in_order(corners: np.ndarray) -> np.ndarray:
    """Whether each row already is in :func:`reorder`'s order (clockwise from the top-left)."""
    c = np.asarray(corners, np.float64).reshape(-1, 8)
    return np.isclose(reorder(c), c, rtol=0, atol=1e-9).all(axis=1)


def growth(corners: np.ndarray) -> np.ndarray:
    """How much larger each row's enclosing axis-aligned box is than its quadrilateral (ratio of
    areas, 1.0 for an axis-aligned box; NaN for a zero-area row)."""
    box = enclosing_boxes(corners)
    outer = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    inner = hull_area(corners)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(inner > 0, outer / inner, np.nan)
