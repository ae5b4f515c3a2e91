"""Masks and polygons: COCO segmentation values (pixel polygons, RLE) as masks, masks as
polygons, and the one-ring polygons a YOLO segmentation row holds.

A segmentation is the model's kind-0 value: a list of flat pixel polygons ``[[x1, y1, ...], ...]``
or an RLE dict ``{"size": [h, w], "counts": ...}`` (``counts`` a compressed string or, uncompressed,
a list of run lengths). Rasterising and IoU go through pycocotools' mask API (the reference COCO
evaluation itself uses); contours are traced by OpenCV (``cv2.findContours``), never by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detlint.errors import UsageError

SEG_EXTRA = "pip install 'detlint[seg]'"
TRACE_SCALE = 2  # masks are traced at twice their size: see _trace


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as error:
        raise UsageError(f"tracing masks needs OpenCV ({error}): {SEG_EXTRA}") from None
    return cv2


def _shapely() -> Any:
    try:
        import shapely
    except ImportError as error:
        raise UsageError(f"checking polygons needs shapely ({error}): {SEG_EXTRA}") from None
    return shapely


def _mask_api() -> Any:
    from pycocotools import mask as mask_api

    return mask_api


def is_polygon_list(segmentation: object) -> bool:
    """A COCO polygon list: ``[[x1, y1, ...], ...]`` (possibly empty)."""
    return isinstance(segmentation, list) and all(isinstance(p, list) for p in segmentation)


def is_rle(segmentation: object) -> bool:
    return isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation


def usable_polygons(polygons: list) -> list[list[float]]:
    """The polygons pycocotools can rasterise: an even count of 6 finite numbers at least (a
    shorter or odd one makes ``frPyObjects`` fail; rule F016 reports them)."""
    return [p for p in polygons if isinstance(p, list) and len(p) >= 6 and not len(p) % 2 and _finite(p)]


def _finite(values: list) -> bool:
    if not all(type(v) in (int, float) for v in values):
        return False
    try:
        return bool(np.isfinite(np.asarray(values, np.float64)).all())
    except OverflowError:  # an integer beyond float range
        return False


def _drawable(polygons: list[list[float]], height: int, width: int) -> list[list[float]]:
    """The polygons near the canvas: a point astronomically far out makes pycocotools' rasteriser
    allocate by the perimeter without bound (rule B009 keeps the same limit)."""
    limit = 4.0 * max(height, width) + 16
    return [p for p in polygons if np.abs(np.asarray(p, np.float64)).max() <= limit]


def to_rle(segmentation: object, height: int, width: int) -> dict | None:
    """One compressed RLE for a polygon list (all parts merged) or an RLE (compressed or not);
    None when there is nothing to rasterise."""
    api = _mask_api()
    if is_rle(segmentation):
        counts = segmentation["counts"]
        h, w = (int(v) for v in segmentation["size"])
        if isinstance(counts, list):
            return api.frPyObjects(segmentation, h, w)
        if isinstance(counts, str):
            return {"size": [h, w], "counts": counts.encode("ascii")}
        return {"size": [h, w], "counts": counts}
    if is_polygon_list(segmentation):
        polygons = _drawable(usable_polygons(segmentation), height, width)
        if polygons and height > 0 and width > 0:
            return api.merge(api.frPyObjects(polygons, int(height), int(width)))
    return None


def decode(segmentation: object, height: int, width: int) -> np.ndarray:
    """The binary mask (``uint8`` H x W, 1 inside) of a segmentation; all zeros when it has none."""
    rle = to_rle(segmentation, height, width)
    if rle is None:
        return np.zeros((max(int(height), 0), max(int(width), 0)), np.uint8)
    return np.ascontiguousarray(_mask_api().decode(rle), dtype=np.uint8)


def encode(mask: np.ndarray) -> dict:
    """A binary mask as a compressed RLE whose ``counts`` is a ``str`` (JSON can hold it)."""
    rle = _mask_api().encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def area(segmentation: object, height: int, width: int) -> float:
    """The mask's pixel count (what COCO's ``area`` is for a segmented object)."""
    rle = to_rle(segmentation, height, width)
    return float(_mask_api().area(rle)) if rle is not None else 0.0


def iou(a: dict, b: dict) -> float:
    """Mask IoU of two RLEs (pycocotools ``iou``, crowd flag off)."""
    return float(_mask_api().iou([a], [b], [0])[0][0])


def trace(mask: np.ndarray) -> list[np.ndarray]:
    """The rings of a binary mask as ``(K, 2)`` pixel-coordinate arrays: each outer boundary
    followed by its holes (``RETR_CCOMP`` gives the two-level hierarchy), parts largest first.

    OpenCV's contours run through the centres of the boundary pixels, which would shave half a
    pixel off every side (and add it to every hole). The mask is traced at ``TRACE_SCALE`` times
    its size instead and mapped back, so an outer ring lies a quarter pixel outside the pixel
    centres of its border and a hole's a quarter pixel inside: rasterised again by centre
    sampling (pycocotools, OpenCV ``fillPoly``) the ring gives back the same pixels.
    """
    cv2 = _cv2()
    binary = np.ascontiguousarray(mask, dtype=np.uint8)
    # the bounds of the set pixels in C (np.nonzero over the whole image was most of the time)
    x0, y0, width, height = cv2.boundingRect(binary)
    if not width or not height:
        return []
    crop = binary[y0:y0 + height, x0:x0 + width]
    big = cv2.copyMakeBorder(cv2.resize(crop, (width * TRACE_SCALE, height * TRACE_SCALE),
                                        interpolation=cv2.INTER_NEAREST), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    rings = [(c.reshape(-1, 2).astype(np.float64) - 1 + 0.5) / TRACE_SCALE + (x0, y0) for c in contours]
    outers = [i for i in range(len(rings)) if links[i][3] < 0 and len(rings[i]) >= 3]
    outers.sort(key=lambda i: -cv2.contourArea(contours[i]))
    ordered: list[np.ndarray] = []
    for i in outers:
        ordered.append(rings[i])
        ordered += [rings[j] for j in range(len(rings)) if links[j][3] == i and len(rings[j]) >= 3]
    return ordered


def _closest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The indices of the closest points of two rings (the bridge between them)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a far-off point: inf, never the closest
        distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
    return int(i), int(j)


def join_rings(rings: list[np.ndarray]) -> np.ndarray:
    """Several rings (parts, holes) as one ring, each joined to the next by a zero-width bridge
    between their closest points: the walk goes out along the bridges to the last ring and back,
    so every bridge is travelled twice and encloses nothing.

    This is the method of ultralytics' ``merge_multi_segment`` (``ultralytics/data/converter.py``,
    called by ``convert_coco(..., use_segments=True)``, ultralytics 8.4.190): closest-point index
    pairs between consecutive rings, a forward pass entering each middle ring at its first bridge
    point and leaving at the second, a backward pass closing the middle rings. Re-implemented
    here, not copied. A hole given as a ring after its outer boundary becomes, with even-odd
    filling, a hole of the one polygon (ultralytics itself traces outer contours only).
    """
    rings = [np.asarray(r, np.float64).reshape(-1, 2) for r in rings]
    if len(rings) == 1:
        return rings[0]
    links: list[list[int]] = [[] for _ in rings]
    for k in range(1, len(rings)):
        i, j = _closest_pair(rings[k - 1], rings[k])
        links[k - 1].append(i)
        links[k].append(j)
    last = len(rings) - 1
    closed: list[np.ndarray] = []
    forward: list[np.ndarray] = []
    for k, ring in enumerate(rings):
        entry = links[k]
        if len(entry) == 2 and entry[0] > entry[1]:
            ring = ring[::-1]
            entry = [len(ring) - 1 - v for v in entry]
        ring = np.roll(ring, -entry[0], axis=0)
        closed.append(np.concatenate([ring, ring[:1]]))
        links[k] = entry
        forward.append(closed[k] if k in (0, last) else closed[k][:entry[1] - entry[0] + 1])
    backward = [closed[k][abs(links[k][1] - links[k][0]):] for k in range(last - 1, 0, -1)]
    return np.concatenate(forward + backward)


def rings_of(segmentation: object, height: int, width: int) -> tuple[list[np.ndarray], bool]:
    """The rings of a segmentation in pixels and whether they are its own (polygons: True; an RLE
    is traced: False)."""
    if is_polygon_list(segmentation):
        return [np.asarray(p, np.float64).reshape(-1, 2) for p in usable_polygons(segmentation)], True
    if is_rle(segmentation):
        return trace(decode(segmentation, height, width)), False
    return [], True


def object_masks(segmentation: list, kind: list, boxes: np.ndarray, normalized: np.ndarray,
                 height: int, width: int) -> np.ndarray:
    """``uint8 (N, H, W)``: one binary mask per row on an ``H x W`` canvas (the decoded image).

    Kind 0: its COCO polygons or RLE (an RLE of another size is cut or padded to the canvas, top
    left aligned); kind 1: the normalised YOLO ring; kind 3: the oriented box's corners (pixels,
    or normalised where ``normalized``); a row without a mask (a plain box) gets its box filled,
    so a mask head trains on every object rather than on an empty target.
    """
    out = np.zeros((len(kind), height, width), np.uint8)
    for k, (value, row_kind) in enumerate(zip(segmentation, kind)):
        polygons = _polygons_in_pixels(value, int(row_kind), bool(normalized[k]), height, width)
        rle = to_rle(polygons, height, width) if polygons is not None else (
            to_rle(value, height, width) if row_kind == 0 and is_rle(value) else None)
        if rle is not None:
            mask = _mask_api().decode(rle)
            h, w = min(mask.shape[0], height), min(mask.shape[1], width)
            out[k, :h, :w] = mask[:h, :w]
        else:
            x1, y1, x2, y2 = np.clip(np.round(boxes[k]), 0, (width, height, width, height)).astype(int).tolist()
            out[k, y1:y2, x1:x2] = 1
    return out


def _polygons_in_pixels(value: object, kind: int, normalized: bool, height: int, width: int) -> list | None:
    """A row's rings as a COCO pixel polygon list, None when it has none (an RLE, a box)."""
    if kind == 0 and is_polygon_list(value) and usable_polygons(value):
        return value
    if kind in (1, 3) and isinstance(value, list) and len(value) >= 6 and not len(value) % 2:
        points = np.asarray(value, np.float64).reshape(-1, 2)
        if kind == 1 or normalized:
            points = points * (width, height)
        return [points.ravel().tolist()]
    return None
