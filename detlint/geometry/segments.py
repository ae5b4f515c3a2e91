"""Segmentations as YOLO segmentation rows (one normalised ring per object) and back, with the
mask IoU of every step that is not exact.

A COCO object with one polygon is copied exactly (normalised, no rasterising: its IoU is 1 by
construction). Several polygons are joined into one ring (:func:`masks.join_rings`); an RLE mask
is traced (:func:`masks.trace`) then joined. Each of those is rasterised once against its source
to measure the IoU the conversion report lists. An object without a mask becomes its box's
rectangle (what ultralytics' ``convert_coco`` writes for one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from detlint.geometry import masks

KIND_BOX, KIND_POLYGON = 0, 1  # Annotations.KIND_BOX / KIND_POLYGON


@dataclass
class Approximation:
    """Rows turned into a ring that is not their source's exact shape, and each one's mask IoU."""

    what: str
    rows: list[int] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)

    def add(self, row: int, value: float) -> None:
        self.rows.append(row)
        self.ious.append(value)

    def worst(self) -> tuple[float, float, int]:
        """(mean IoU, worst IoU, row of the worst)."""
        values = np.asarray(self.ious, np.float64)
        k = int(np.argmin(values))
        return float(values.mean()), float(values[k]), self.rows[k]


@dataclass
class SegmentRows:
    """The normalised rings of some rows: ``values`` all numbers one row after another, ``lengths``
    how many numbers each row has; what was approximated, rectangles written, parts dropped."""

    values: np.ndarray
    lengths: np.ndarray
    approximations: list[Approximation]
    rectangles: int = 0
    dropped_parts: int = 0


def _flat(parts: list) -> np.ndarray:
    return np.fromiter(chain.from_iterable(parts), np.float64, sum(map(len, parts)))


def _rectangle(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box.tolist()
    return np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64)


def yolo_rings(segmentation: np.ndarray, kind: np.ndarray, iscrowd: np.ndarray, boxes: np.ndarray,
               width: np.ndarray, height: np.ndarray) -> SegmentRows:
    """The YOLO-seg ring of every row given: columns taken at the rows to write, ``boxes`` in
    pixels of the ``width`` x ``height`` image (1 x 1 for rows only known normalised)."""
    n = len(segmentation)
    seg = segmentation.tolist()
    rows, flat, exact_lengths = _exact(seg, kind, width, height)
    traced = Approximation("RLE mask traced to one polygon")
    crowd = Approximation("crowd RLE mask traced to one polygon")
    joined = Approximation("polygons of one object joined into one ring")
    out = SegmentRows(np.zeros(0), np.zeros(n, np.int64), [traced, crowd, joined])
    done = np.zeros(n, bool)
    done[rows] = True
    others = {k: _approximate(seg[k], int(height[k]), int(width[k]), boxes[k], k,
                              crowd if iscrowd[k] == 1 else traced, joined, out)
              for k in np.flatnonzero(~done).tolist()}
    out.lengths[rows] = exact_lengths
    for k, piece in others.items():
        out.lengths[k] = len(piece)
    offsets = np.cumsum(out.lengths) - out.lengths
    out.values = np.empty(int(out.lengths.sum()), np.float64)
    out.values[np.repeat(offsets[rows], exact_lengths) + _ramp(exact_lengths)] = flat
    for k, piece in others.items():
        out.values[offsets[k]:offsets[k] + len(piece)] = piece
    out.approximations = [a for a in out.approximations if a.rows]
    return out


def _ramp(lengths: np.ndarray) -> np.ndarray:
    """0..len-1 for each length, concatenated."""
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _exact(seg: list, kind: np.ndarray, width: np.ndarray, height: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """The rows copied exactly, their normalised numbers one row after another, and how many
    each has: a kind-0 row with one polygon (divided by the image size in one pass over all the
    numbers, no rasterising) and a YOLO row (kind 1, already normalised), each of 3+ points."""
    box, ring = (kind == KIND_BOX).tolist(), (kind == KIND_POLYGON).tolist()
    rows, polygons = [], []
    for k, s in enumerate(seg):
        if type(s) is not list:
            continue
        if box[k] and len(s) == 1 and type(s[0]) is list and len(s[0]) >= 6 and not len(s[0]) % 2:
            rows.append(k)
            polygons.append(s[0])
        elif ring[k] and len(s) >= 6 and not len(s) % 2:
            rows.append(k)
            polygons.append(s)
    try:
        flat = _flat(polygons)
    except (TypeError, ValueError, OverflowError):  # a value that is not a number: row by row
        kept = [j for j, p in enumerate(polygons) if _numeric(p)]
        rows, polygons = [rows[j] for j in kept], [polygons[j] for j in kept]
        flat = _flat(polygons)
    index = np.asarray(rows, np.int64)
    lengths = np.fromiter(map(len, polygons), np.int64, len(polygons))
    scale = np.where(kind[index, None] == KIND_POLYGON, 1.0, np.column_stack([width[index], height[index]]))
    values = (flat.reshape(-1, 2) / np.repeat(scale.astype(np.float64), lengths // 2, axis=0)).ravel()
    return index, values, lengths


def _numeric(polygon: list) -> bool:
    try:
        return bool(np.isfinite(_flat([polygon])).all())
    except (TypeError, ValueError, OverflowError):
        return False


def _approximate(segmentation: object, height: int, width: int, box: np.ndarray, row: int,
                 trace_to: Approximation, joined: Approximation, out: SegmentRows) -> np.ndarray:
    """The normalised ring of a multi-polygon or RLE object (its IoU recorded), or the box's
    rectangle for an object without a usable mask."""
    rings, own = masks.rings_of(segmentation, height, width)
    if own and masks.is_polygon_list(segmentation):
        out.dropped_parts += len(segmentation) - len(rings)
    if not rings:
        out.rectangles += 1
        return _rectangle(box) / np.array([width, height] * 4, np.float64)
    ring = masks.join_rings(rings)
    source = masks.to_rle(segmentation, height, width)
    written = masks.to_rle([ring.ravel().tolist()], height, width)
    if source is not None and written is not None and (not own or len(rings) > 1):
        (joined if own else trace_to).add(row, masks.iou(source, written))
    return (ring / (width, height)).ravel()


def rings_in_pixels(rings: list[list[float]], width: np.ndarray, height: np.ndarray,
                    decimals: int = 3) -> tuple[list[list[float]], np.ndarray]:
    """Normalised YOLO rings (each of 3+ points, numbers only) as flat pixel lists rounded to
    ``decimals``, and each one's shoelace area: one pass over all their numbers."""
    lengths = np.fromiter(map(len, rings), np.int64, len(rings))
    if not len(rings):
        return [], np.zeros(0)
    scale = np.repeat(np.column_stack([width, height]).astype(np.float64), lengths // 2, axis=0)
    points = np.round(_flat(rings).reshape(-1, 2) * scale, decimals)
    x, y = points[:, 0], points[:, 1]
    starts = (np.cumsum(lengths) - lengths) // 2
    following = np.arange(len(x)) + 1
    following[starts + lengths // 2 - 1] = starts  # each ring closes on its first point
    areas = np.abs(np.add.reduceat(x * y[following] - x[following] * y, starts)) / 2
    flat = points.ravel().tolist()
    bounds = np.cumsum(lengths).tolist()
    return [flat[a:b] for a, b in zip([0, *bounds[:-1]], bounds)], areas
