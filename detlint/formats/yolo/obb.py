"""YOLO-OBB (ultralytics ``task=obb``): rows ``class x1 y1 x2 y2 x3 y3 x4 y4``, normalised.

Such a row is token for token a 4-point segmentation polygon. ultralytics does not tell them
apart by the file either: its ``YOLODataset`` reads both as "segments" in ``verify_image_label``
and only the task of the model (``YOLO("yolo11n-obb.pt")``, ``yolo obb train``) decides that
they are converted to ``xywhr`` with ``cv2.minAreaRect`` (``use_obb = task == "obb"``). detlint
decides by the dataset description instead: ``task: obb`` in the ``data.yaml`` (ultralytics
reads the key as the default task for its CLI; detlint writes it on every OBB export), a
description named as ultralytics names its DOTA sets (``DOTAv1.yaml``, ``DOTAv1.5.yaml``,
``dota8.yaml``: written by ``convert_dota_to_yolo_obb``, without a ``task`` key), or
``ReadOptions.yolo_task = "obb"``. Then every 8-number row is an oriented box (kind 3); other
rows keep their meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.geometry.obb import rect_corners
from detlint.model import Annotations, Dataset, Images

OBB_META = {"order": "as-written", "angle": "none (corners; ultralytics refits x y w h r with cv2.minAreaRect)"}


def is_obb(meta: dict[str, Any], options: ReadOptions) -> bool:
    """Whether the dataset's 8-number rows are oriented boxes (see the module docstring)."""
    yaml = meta.get("yaml")
    task = options.yolo_task or (yaml.get("task") if isinstance(yaml, dict) else None)
    if task is None and isinstance(yaml, dict):  # ultralytics' own DOTA descriptions
        task = "obb" if str(meta.get("yaml_file", "")).rpartition("/")[2].lower().startswith("dota") else None
    return str(task).lower() == "obb"


def oriented(ann: Annotations, images: Images) -> Annotations:
    """``ann`` with its 4-point polygon rows as oriented boxes: corners in pixels where the image
    size is known (normalised where not, as the boxes are), ``boxes`` already their enclosing box."""
    rows = np.flatnonzero(ann.kind == Annotations.KIND_POLYGON)
    rows = rows[np.fromiter((len(ann.segmentation[i]) == 8 for i in rows.tolist()), bool, len(rows))]
    if not len(rows):
        return ann
    points = np.array([ann.segmentation[i] for i in rows.tolist()], np.float64).reshape(-1, 8)
    image = ann.image[rows]
    scale = np.where(ann.normalized[rows, None], 1.0,
                     np.tile(np.stack([images.width[image], images.height[image]], 1).astype(np.float64), 4))
    pixels = (points * scale).tolist()
    ann.kind[rows] = Annotations.KIND_OBB
    for i, row in enumerate(rows.tolist()):
        ann.segmentation[row] = pixels[i]
    return ann


def has_obb(ds: Dataset) -> bool:
    return bool((ds.annotations.kind == Annotations.KIND_OBB).any())


def obb_lines(ds: Dataset, index: np.ndarray, options: WriteOptions) -> bytes:
    """The label lines of rows ``index`` as ``class x1 y1 ... x4 y4`` (normalised, shortest exact
    decimals): oriented boxes keep their corners and order, axis-aligned boxes become their four
    corners clockwise from the top-left (exact), polygons the corners of their enclosing box."""
    ann = ds.annotations
    image = ann.image[index]
    size = np.stack([ds.images.width[image], ds.images.height[image]], 1).astype(np.float64)
    size = np.where(ann.normalized[index, None], 1.0, size)
    box = ann.boxes[index] / np.tile(size, 2)
    corners = rect_corners(box[:, 0], box[:, 1], box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    kind = ann.kind[index]
    for i in np.flatnonzero(kind == Annotations.KIND_OBB).tolist():
        corners[i] = np.asarray(ann.segmentation[index[i]], np.float64) / np.tile(size[i], 4)
    headers = sum(isinstance(e, dict) and bool(e.get("dota_header")) for e in ds.images.extra.tolist())
    options.lose("image header lines (DOTA imagesource:, gsd:)", headers, "a YOLO label file has no header")
    options.lose("polygon written as the 4 corners of its enclosing box (an OBB label file holds 4 corners a row)",
                 int((kind == Annotations.KIND_POLYGON).sum()))
    values = corners.tolist()
    classes = ann.category[index].tolist()
    lines = [f"{c} {' '.join(map(repr, v))}\n" for c, v in zip(classes, values)]
    return "".join(lines).encode()
