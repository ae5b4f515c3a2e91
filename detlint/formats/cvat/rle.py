"""CVAT's mask run lengths and COCO RLE.

CVAT writes a ``<mask>`` as ``rle="a, b, c, ..."`` plus ``left top width height``: the lengths of
alternating runs of background and foreground (background first, so a mask starting with a
foreground pixel begins with ``0``) over the mask's ``width x height`` box in row-major order.
COCO keeps a mask as an RLE dict on the whole image, column-major; pycocotools does that side.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def parse_counts(text: str) -> np.ndarray | None:
    """The run lengths of an ``rle`` attribute; None when it holds anything but integers >= 0."""
    try:
        counts = np.array(text.replace(",", " ").split(), np.int64)
    except ValueError:
        return None
    return counts if (counts >= 0).all() else None


def crop_from_counts(counts: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ``height x width`` 0/1 mask the runs describe (they must sum to ``width * height``)."""
    values = (np.arange(len(counts)) % 2).astype(np.uint8)
    return np.repeat(values, counts).reshape(height, width)


def to_coco(crop: np.ndarray, left: int, top: int, image_width: int, image_height: int) -> dict[str, Any]:
    """The mask ``crop`` placed at ``(left, top)`` on a ``image_width x image_height`` image (the
    part past the image edges cut off) as a COCO RLE dict with string counts."""
    from pycocotools import mask as mask_utils  # imported on use: only masks need it

    full = np.zeros((image_height, image_width), np.uint8, order="F")
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + crop.shape[1], image_width), min(top + crop.shape[0], image_height)
    if x1 > x0 and y1 > y0:
        full[y0:y1, x0:x1] = crop[y0 - top:y1 - top, x0 - left:x1 - left]
    rle = mask_utils.encode(full)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_area(segmentation: Any, image_width: int, image_height: int) -> float:
    """The pixel area pycocotools gives a COCO segmentation (polygons or RLE), as COCO's ``area``."""
    from pycocotools import mask as mask_utils

    return float(mask_utils.area(_coco_rle(segmentation, image_width, image_height)))


def _coco_rle(segmentation: Any, image_width: int, image_height: int) -> dict:
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, image_height, image_width))
    height, width = (int(v) for v in segmentation["size"])
    if isinstance(segmentation["counts"], list):  # uncompressed RLE (COCO iscrowd)
        return mask_utils.frPyObjects(segmentation, height, width)
    counts = segmentation["counts"]
    return {"size": [height, width], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


Runs = tuple[list[int], int, int, int, int]  # CVAT runs, left, top, width, height


def from_coco(segmentation: dict, hint: tuple[int, int, int, int] | None = None) -> Runs | None:
    """CVAT ``(runs, left, top, width, height)`` of a COCO RLE dict; the box ``hint`` (left, top,
    right, bottom, exclusive) is used when it holds every foreground pixel, else the tight box.
    None for an empty or unreadable mask."""
    from pycocotools import mask as mask_utils

    try:
        height, width = (int(v) for v in segmentation["size"])
        full = mask_utils.decode(_coco_rle(segmentation, width, height))
    except (KeyError, TypeError, ValueError):
        return None
    rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
    if not len(rows):
        return None
    left, top, right, bottom = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    if hint is not None and hint[0] <= left and hint[1] <= top and right <= hint[2] and bottom <= hint[3] \
            and hint[0] >= 0 and hint[1] >= 0 and hint[2] <= width and hint[3] <= height:
        left, top, right, bottom = hint
    flat = np.ascontiguousarray(full[top:bottom, left:right]).ravel()
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [len(flat)]])).tolist()
    if flat[0]:
        runs.insert(0, 0)  # CVAT's runs start with background
    return runs, left, top, right - left, bottom - top
