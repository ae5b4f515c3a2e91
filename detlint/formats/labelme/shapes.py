"""labelme shapes as model rows: what each ``shape_type`` becomes, and the ``group_id`` merge.

- ``rectangle``: its two points, in any corner order, are the box (``raw`` keeps the four
  numbers as written: ``x_a y_a x_b y_b``). More points than two: their enclosing box.
- ``polygon``: kind 0, ``segmentation = [[x1, y1, x2, y2, ...]]`` in pixels, box = its
  bounding box. A polygon of fewer than 3 points is kept as it is (a degenerate box is B001).
- ``circle``: centre and a point on the circle; box = the circle's box, ``raw`` the four numbers
  as written. Other formats get the box (the circle stays in ``extra``).
- ``mask`` (labelme >= 5.3): a base64 PNG of the region whose top-left is the first point,
  decoded into an uncompressed COCO RLE over the declared image size; box = the set pixels'
  box. Without a declared size or with an undecodable PNG the shape keeps its rectangle box.
- ``point``, ``points``, ``line``, ``linestrip``, unknown types: no detection geometry (kind 2,
  ``has_box`` False), the points kept in ``extra`` for the round trip.

``group_id``: polygons of one file with the same label and the same non-null ``group_id`` are
one object with several polygons (as labelme's own ``labelme2coco`` example joins them into
one mask); the row is located at the first of them and remembers the others (``extra``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detlint.formats.labelme.parse import Parsed, Shape

BOX_TYPES = frozenset({"rectangle", "polygon", "circle", "mask"})
KIND_BOX, KIND_NONE = 0, 2
GROUPED = "group_shapes"  # extra key: the other shape indices joined into this row


@dataclass
class Rows:
    """Per-row Python lists of one file's objects (turned into columns once for all files)."""

    labels: list[str] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    raw: list[list[float]] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    has_box: list[bool] = field(default_factory=list)
    segmentation: list[Any] = field(default_factory=list)
    extra: list[dict | None] = field(default_factory=list)
    item: list[int] = field(default_factory=list)


NAN4 = [float("nan")] * 4


def file_rows(parsed: Parsed, rows: Rows) -> int:
    """Append the objects of one parsed file to ``rows``; how many."""
    groups: dict[tuple[str, Any], int] = {}  # (label, group_id) -> row of the merged polygon
    start = len(rows.labels)
    for shape in parsed.shapes:
        key = (shape.label, _hashable(shape.group_id))
        if shape.shape_type == "polygon" and shape.group_id is not None and shape.points is not None:
            at = groups.get(key)
            if at is not None:
                _join(rows, at, shape)
                continue
            groups[key] = len(rows.labels)
        _append(rows, shape, parsed)
    return len(rows.labels) - start


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (int, str, float)) or value is None else repr(value)


def _append(rows: Rows, shape: Shape, parsed: Parsed) -> None:
    extra = dict(shape.extra)
    box, raw, kind, segmentation = _geometry(shape, parsed, extra)
    rows.labels.append(shape.label)
    rows.boxes.append(box)
    rows.raw.append(raw)
    rows.kind.append(kind)
    rows.has_box.append(kind == KIND_BOX)
    rows.segmentation.append(segmentation)
    rows.extra.append(extra or None)
    rows.item.append(shape.index)


def _geometry(shape: Shape, parsed: Parsed, extra: dict) -> tuple[list[float], list[float], int, Any]:
    points, kind = shape.points, shape.shape_type
    if points is None or not len(points) or kind not in BOX_TYPES:
        if kind not in ("rectangle", "polygon"):
            extra["shape_type"] = kind
        if points is not None:
            extra["points"] = points.tolist()
        return [0.0] * 4, NAN4, KIND_NONE, None
    box = [*points.min(axis=0).tolist(), *points.max(axis=0).tolist()]
    if kind == "rectangle":
        raw = points[:2].ravel().tolist() if len(points) >= 2 else box
        return box, raw, KIND_BOX, None
    if kind == "polygon":
        return box, box, KIND_BOX, [points.ravel().tolist()]
    extra["shape_type"] = kind
    if kind == "circle":
        return _circle(points, extra)
    return _mask(points, box, parsed, extra)


def _circle(points: np.ndarray, extra: dict) -> tuple[list[float], list[float], int, Any]:
    if len(points) < 2:
        extra["points"] = points.tolist()
        cx, cy = points[0].tolist()
        return [cx, cy, cx, cy], [cx, cy, cx, cy], KIND_BOX, None
    (cx, cy), (px, py) = points[0].tolist(), points[1].tolist()
    r = float(np.hypot(px - cx, py - cy))
    return [cx - r, cy - r, cx + r, cy + r], [cx, cy, px, py], KIND_BOX, None


def _mask(points: np.ndarray, box: list[float], parsed: Parsed,
          extra: dict) -> tuple[list[float], list[float], int, Any]:
    """The mask shape as an uncompressed RLE over the image; its rectangle box when it cannot be."""
    extra["points"] = points.tolist()
    decoded = decode_mask(extra.get("mask"))
    if decoded is None or not parsed.width or not parsed.height:
        return box, box, KIND_BOX, None
    full = np.zeros((parsed.height, parsed.width), bool)
    x0, y0 = int(points[0][0]), int(points[0][1])
    if x0 < 0 or y0 < 0 or x0 >= parsed.width or y0 >= parsed.height:
        return box, box, KIND_BOX, None
    part = decoded[:parsed.height - y0, :parsed.width - x0]
    full[y0:y0 + part.shape[0], x0:x0 + part.shape[1]] = part
    ys, xs = np.nonzero(full)
    if not len(xs):
        return box, box, KIND_BOX, None
    pixels = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    return pixels, box, KIND_BOX, rle_of(full)


def decode_mask(text: Any) -> np.ndarray | None:
    """The bool array of a base64 PNG (labelme's ``mask``), or None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    import cv2  # the seg extra: only a mask shape needs it

    try:
        data = np.frombuffer(base64.b64decode(text, validate=True), np.uint8)
    except (binascii.Error, ValueError):
        return None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if len(data) else None
    if image is None:
        return None
    return (image if image.ndim == 2 else image[..., 0]) > 0


def rle_of(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE of a bool ``mask`` (column-major runs, starting with zeros)."""
    flat = mask.ravel(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [len(flat)]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def _join(rows: Rows, at: int, shape: Shape) -> None:
    """Add one more polygon of a ``group_id`` to the object at row ``at``."""
    points = shape.points
    if points is None or not len(points):
        return
    rows.segmentation[at].append(points.ravel().tolist())
    old = rows.boxes[at]
    low, high = points.min(axis=0).tolist(), points.max(axis=0).tolist()
    rows.boxes[at] = [min(old[0], low[0]), min(old[1], low[1]), max(old[2], high[0]), max(old[3], high[1])]
    rows.raw[at] = rows.boxes[at]
    extra = rows.extra[at] if rows.extra[at] is not None else {}
    extra.setdefault(GROUPED, []).append(shape.index)
    rows.extra[at] = extra
