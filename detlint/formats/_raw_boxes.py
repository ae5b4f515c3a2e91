"""Transitional: each format's raw-from-boxes, moved into its package's writeback module."""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset

COORD_DECIMALS = 6


def coco(ds: Dataset, index: np.ndarray) -> np.ndarray:
    """COCO ``x y w h``, rounded as the writer rounds."""
    boxes = ds.annotations.boxes[index]
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    return np.round(xywh, COORD_DECIMALS)


def voc(ds: Dataset, index: np.ndarray) -> np.ndarray:
    """VOC ``xmin ymin xmax ymax`` in the dataset's pixel convention."""
    origin = float(ds.meta.get("voc_origin", 1))
    return ds.annotations.boxes[index] + np.array([origin, origin, 0.0, 0.0])


def yolo(ds: Dataset, index: np.ndarray) -> np.ndarray:
    """YOLO ``cx cy w h`` normalised by the image size."""
    boxes = ds.annotations.boxes[index]
    w, h = ds.image_size_per_annotation()
    norm = boxes / np.stack([w, h, w, h], axis=1)[index]
    return np.column_stack([(norm[:, 0] + norm[:, 2]) / 2, (norm[:, 1] + norm[:, 3]) / 2,
                            norm[:, 2] - norm[:, 0], norm[:, 3] - norm[:, 1]])
