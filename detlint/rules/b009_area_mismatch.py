"""area-mismatch (B009): a COCO ``area`` far from the area of its box or segmentation.

Why it matters: COCOeval buckets objects into small/medium/large by ``area``, and many samplers
and losses weight by it. A wrong area (often the image area, or a value in another unit) puts
the object in the wrong bucket and skews APs and AR without any error.

The expected area is the segmentation's mask area (pycocotools, as COCO computed it) when the
annotation has a polygon or RLE, else the box area w*h. A polygon can never be larger than its box.

Options: ``area-tolerance`` (default 0.1): relative difference accepted (plus 1 px²).

Example: ``"bbox": [491, 1035, 153, 182], "area": 2795520`` (the image area).

Fix (safe): recompute ``area`` from the segmentation or box.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import numpy as np

from detlint.fileio import collector_paused
from detlint.findings import Finding, Fix
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._fixes import recompute_area, rows_and_areas
from detlint.rules._helpers import RuleContext, at_annotations, finite_box_mask, segmentation_kinds
from detlint.rules._options import Option, Options

CODE = "B009"
NAME = "area-mismatch"
SEVERITY = "warning"
REQUIRES = (Trait.DECLARED_AREAS,)
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
FIX_PRIORITY = 30  # fixes run in this order; drops run last
OPTIONS = Options(Option("area-tolerance", 0.1, "number",
                          "Relative difference between stored and computed area accepted (plus 1 px²) by B009.",
                          minimum=0))


MAX_CANVAS_SIDE = 1 << 16  # no real image is larger; pycocotools allocates by polygon perimeter


def _drawable(polygons: list[list], height: int, width: int) -> bool:
    """Polygons pycocotools can rasterise safely: finite numbers near the canvas. An infinite or
    astronomically large point makes its rasteriser allocate without bound (the process dies)."""
    if not (0 < height <= MAX_CANVAS_SIDE and 0 < width <= MAX_CANVAS_SIDE):
        return False
    limit = 4.0 * max(height, width) + 16
    for polygon in polygons:
        if not all(type(v) in (int, float) for v in polygon):
            return False
        points = np.asarray(polygon, dtype=np.float64)
        if not (np.isfinite(points).all() and (np.abs(points) <= limit).all()):
            return False
    return True


def segmentation_area(segmentation: object, height: int, width: int) -> float | None:
    """Mask area of a COCO polygon list or RLE (pycocotools), None when there is none or it
    cannot be computed safely (the caller then compares with the box area)."""
    from pycocotools import mask as mask_utils

    try:
        if isinstance(segmentation, dict):
            counts = segmentation.get("counts")
            if isinstance(counts, list):
                # uncompressed RLE: the area is the sum of the odd runs, no decoding needed
                if not all(type(c) is int and 0 <= c < 1 << 40 for c in counts):
                    return None
                return float(sum(counts[1::2]))
            if isinstance(counts, (str, bytes)) and isinstance(segmentation.get("size"), list):
                return float(mask_utils.area(segmentation))
            return None
        if isinstance(segmentation, list) and segmentation:
            polygons = [p for p in segmentation if isinstance(p, list) and len(p) >= 6]
            if not polygons or not _drawable(polygons, int(height), int(width)):
                return None
            rles = mask_utils.frPyObjects(polygons, int(height), int(width))
            return float(mask_utils.area(mask_utils.merge(rles)))
    except Exception:  # noqa: BLE001 - pycocotools' C code raises anything on malformed input
        return None
    return None


def polygon_areas(segmentations: list) -> np.ndarray:
    """Shoelace area of each COCO polygon list (sum over its parts), in bulk; NaN for a row whose
    coordinates are not all numbers. COCO's own area is the rasterised mask's, which differs
    from this by about half the perimeter: it screens rows, pycocotools settles the close ones."""
    out = np.full(len(segmentations), np.nan)
    parts, owners = [], []
    for k, segmentation in enumerate(segmentations):
        usable = [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
        if len(usable) == len(segmentation):
            parts += usable
            owners += [k] * len(usable)
    if not parts:
        return out
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    try:
        coords = np.fromiter(chain.from_iterable(parts), dtype=np.float64, count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError):  # a non-number or a huge integer: row by row, bad rows stay NaN
        if len(segmentations) > 1:
            return np.concatenate([polygon_areas([s]) for s in segmentations])
        return out
    x, y = coords[0::2], coords[1::2]
    points = lengths // 2
    starts = np.cumsum(points) - points
    following = np.arange(len(x)) + 1
    following[starts + points - 1] = starts  # each part closes on its first vertex
    with np.errstate(invalid="ignore", over="ignore"):
        part_area = np.abs(np.add.reduceat(x * y[following] - x[following] * y, starts)) / 2
        totals = np.bincount(np.asarray(owners), weights=part_area, minlength=len(segmentations))
    seen = np.zeros(len(segmentations), bool)
    seen[owners] = True
    out[seen] = totals[seen]
    return out


def expected_areas(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    """The area each row should have: its mask's (pycocotools) where it has a usable
    segmentation, else its box's. Polygons are rasterised in bulk, one pycocotools call per
    canvas size; RLEs and odd values one by one."""
    ann = ds.annotations
    boxes = ann.boxes[rows]
    expected = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    width, height = _canvases(ds, rows, boxes)
    segmentations = ann.segmentation[rows].tolist()
    bulk = [k for k, s in enumerate(segmentations) if _plain_polygons(s)]
    for k in sorted(set(range(len(rows))) - set(bulk)):
        if segmentations[k]:
            area = segmentation_area(segmentations[k], int(height[k]), int(width[k]))
            if area is not None:
                expected[k] = area
    for (h, w), members in _by_canvas(bulk, height, width).items():
        _rasterised_areas([segmentations[k] for k in members], members, h, w, expected)
    return expected


def _canvases(ds: Dataset, rows: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, H) to rasterise each row on: its image's size, else its box's extent."""
    image = ds.annotations.image[rows]
    linked = image >= 0
    width = np.zeros(len(rows), np.int64)
    height = np.zeros(len(rows), np.int64)
    width[linked] = ds.images.width[image[linked]]
    height[linked] = ds.images.height[image[linked]]
    unknown = (width <= 0) | (height <= 0)
    if unknown.any():  # a polygon needs a canvas: its box's extent serves
        with np.errstate(invalid="ignore"):
            extent = np.nan_to_num(np.minimum(np.ceil(boxes[unknown, 2:4]) + 1, MAX_CANVAS_SIDE + 1), nan=0)
        width[unknown], height[unknown] = extent[:, 0].astype(np.int64), extent[:, 1].astype(np.int64)
    return width, height


def _plain_polygons(segmentation: object) -> bool:
    """A non-empty list of number lists, each a polygon of 3+ points (the bulk path's input)."""
    return type(segmentation) is list and bool(segmentation) and all(
        type(p) is list and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation)


def _part_drawable(part: list, limit: float) -> bool:
    try:
        points = np.asarray(part, dtype=np.float64)
    except OverflowError:
        return False
    return bool(np.isfinite(points).all() and (np.abs(points) <= limit).all())


def _by_canvas(members: list[int], height: np.ndarray, width: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """``members`` grouped by their (H, W) canvas, each group in order."""
    rows = np.asarray(members, np.int64)
    if not len(rows):
        return {}
    # one int key per canvas: a 1-D unique is several times faster than unique(axis=0)
    keys = height[rows] * (MAX_CANVAS_SIDE + 2) + width[rows]
    canvases, which = np.unique(keys, return_inverse=True)
    order = np.argsort(which.ravel(), kind="stable")
    bounds = np.searchsorted(which.ravel()[order], np.arange(len(canvases) + 1))
    return {divmod(key, MAX_CANVAS_SIDE + 2): rows[order[bounds[i]:bounds[i + 1]]].tolist()
            for i, key in enumerate(canvases.tolist())}


def _rasterised_areas(segmentations: list[list], members: list[int], h: int, w: int,
                      expected: np.ndarray) -> None:
    """Mask areas of the polygon rows ``members`` on one h x w canvas, into ``expected``;
    rows pycocotools cannot rasterise safely (non-numbers, far outside the canvas) keep theirs."""
    from pycocotools import mask as mask_utils

    if not (0 < h <= MAX_CANVAS_SIDE and 0 < w <= MAX_CANVAS_SIDE):
        return
    parts = [p for s in segmentations for p in s]
    owners = np.repeat(np.arange(len(segmentations)), [len(s) for s in segmentations])
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    if set(map(type, chain.from_iterable(parts))) <= {int, float}:  # one C-level pass: the usual case
        numeric = np.ones(len(parts), bool)
    else:
        numeric = np.fromiter((all(type(v) in (int, float) for v in p) for p in parts), bool, len(parts))
    drawable = numeric.copy()
    limit = 4.0 * max(h, w) + 16
    if numeric.any():
        kept = [p for p, ok in zip(parts, numeric.tolist()) if ok]
        try:
            coords = np.fromiter(chain.from_iterable(kept), np.float64, int(lengths[numeric].sum()))
        except OverflowError:  # an integer beyond float range: part by part
            drawable[numeric] = [_part_drawable(p, limit) for p in kept]
        else:
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(coords) & (np.abs(coords) <= limit))
            starts = np.cumsum(lengths[numeric]) - lengths[numeric]
            drawable[numeric] = np.add.reduceat(bad, starts) == 0 if len(coords) else True
    usable_rows = np.ones(len(segmentations), bool)
    np.logical_and.at(usable_rows, owners, drawable)
    take = usable_rows[owners]
    if not take.any():
        return
    try:
        rles = mask_utils.frPyObjects([p for p, t in zip(parts, take.tolist()) if t], h, w)
        areas = _mask_areas(rles)
    except Exception:  # noqa: BLE001 - pycocotools' C code raises anything on malformed input
        return
    taken_owners = owners[take]
    single = np.bincount(taken_owners, minlength=len(segmentations)) == 1
    first_part = np.searchsorted(taken_owners, np.arange(len(segmentations)))  # parts follow their rows
    for local in np.flatnonzero(usable_rows).tolist():
        start = int(first_part[local])
        if single[local]:
            expected[members[local]] = areas[start]
        else:  # parts may overlap: the area of their union
            count = len(segmentations[local])
            expected[members[local]] = float(mask_utils.area(mask_utils.merge(rles[start:start + count])))


AREA_BATCH = 255  # pycocotools' area() sizes a uint8 array by the count: numpy 2 raises past 255


def _mask_areas(rles: list[dict]) -> np.ndarray:
    """``mask_utils.area`` of many RLEs, in batches it accepts (one call for 256+ RLEs raises
    OverflowError, which silently left every row of a big canvas with its box area)."""
    from pycocotools import mask as mask_utils

    if not rles:
        return np.zeros(0)
    return np.concatenate([np.asarray(mask_utils.area(rles[i:i + AREA_BATCH]), np.float64).reshape(-1)
                           for i in range(0, len(rles), AREA_BATCH)])


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    tolerance = float(ctx.get(OPTIONS, "area-tolerance"))
    suspects = _suspects(ds, ctx, tolerance)
    if not len(suspects):
        return iter(())
    with collector_paused():  # 100k+ RLE dicts and findings, no cycles: full GC scans cost 20%
        return iter(_findings(ds, ctx, suspects, tolerance))


def _findings(ds: Dataset, ctx: RuleContext, suspects: np.ndarray, tolerance: float) -> list[Finding]:
    ann = ds.annotations
    expected = expected_areas(ds, suspects)
    wrong = np.abs(ann.area[suspects] - expected) > tolerance * expected + 1
    rows, expected = suspects[wrong], expected[wrong]
    has_polygon, has_rle = segmentation_kinds(ds, ctx)
    # Python floats, not numpy scalars: a rule may word every row of the dataset
    sources = np.where((has_polygon | has_rle)[rows], "segmentation", "box").tolist()
    messages = [f"area {stored:.6g} differs from the {source} area {area:.6g}: COCOeval sorts objects into "
                "small/medium/large by area, so this one lands in the wrong bucket"
                for stored, source, area in zip(ann.area[rows].tolist(), sources, expected.tolist())]
    data = [{"row": row, "area": area} for row, area in zip(rows.tolist(), expected.tolist())]
    fix = Fix("safe", "recompute area from the segmentation or box")
    return at_annotations(ds, rows.tolist(), CODE, messages, fix, "area", data)


def _suspects(ds: Dataset, ctx: RuleContext, tolerance: float) -> np.ndarray:
    """Rows whose area may be wrong: they disagree with their box, or their area is exactly the
    box's although they have a polygon (an exporter that wrote w*h), and no polygon's own
    (shoelace) area explains it. Only these need the (slower) mask area."""
    ann = ds.annotations
    box_area = (ann.boxes[:, 2] - ann.boxes[:, 0]) * (ann.boxes[:, 3] - ann.boxes[:, 1])
    has_area = np.isfinite(ann.area) & finite_box_mask(ds, ctx) & (box_area > 0)
    has_polygon, has_rle = segmentation_kinds(ds, ctx)
    with np.errstate(invalid="ignore"):
        off_box = np.abs(ann.area - box_area) > tolerance * box_area + 1
        box_copied = has_polygon & np.isclose(ann.area, box_area, rtol=1e-9, atol=1e-6)
    suspects = np.flatnonzero(has_area & (off_box | box_copied | ((has_polygon | has_rle) & (ann.area > box_area + 1))))
    polygon_suspects = has_polygon[suspects]
    if polygon_suspects.any():
        rows = suspects[polygon_suspects]
        shoelace = polygon_areas(ann.segmentation[rows].tolist())
        with np.errstate(invalid="ignore"):
            agrees = np.abs(ann.area[rows] - shoelace) <= tolerance * shoelace + 1
        polygon_suspects[polygon_suspects] = agrees
        suspects = suspects[~polygon_suspects]
    return suspects


def fix(ds: Dataset, findings: list[Finding]) -> Dataset:
    """Set each area to the one computed from the segmentation or the box. Runs before B002's
    clip, which then owns the area of the boxes it clips."""
    rows, areas = rows_and_areas(findings)
    return recompute_area(ds, rows, areas) if rows else ds
