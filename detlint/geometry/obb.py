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
