"""Transitional: COCO's raw-from-boxes, moved into its package."""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset

COORD_DECIMALS = 6


def coco(ds: Dataset, index: np.ndarray) -> np.ndarray:
    """COCO ``x y w h``, rounded as the writer rounds."""
    boxes = ds.annotations.boxes[index]
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    return np.round(xywh, COORD_DECIMALS)
