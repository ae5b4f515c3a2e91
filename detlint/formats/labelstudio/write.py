"""Writing a dataset as a Label Studio JSON export: ``tasks.json`` (one task per image, one
completed annotation each) and the images linked or copied into ``images/``.

Rectangles are written in percent of ``original_width`` / ``original_height``; polygons as
``polygonlabels``; oriented boxes as rotated rectangles, the exact inverse of the reader (the
first corner is ``(x, y)``, the first edge gives ``width`` and the angle, the last edge
``height``). A task's ``data.split`` keeps the split. Every lossy step is listed.

Beside it, ``labeling_config.xml`` is the labelling config the results refer to (``label`` for
rectangles, rotation allowed; ``polygon`` for polygons), to paste into a new project before
importing the tasks. ``data.image`` is a path relative to the output folder: serve it through
local storage (``/data/local-files/?d=...``) or upload the images to import it.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import orjson

from detlint.fileio import atomic_write_bytes
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset
from detlint.placing import Placement, SourceRoot, place_image

IMAGE_FOLDER = "images"
CONFIG_FILE = "labeling_config.xml"
RECT_TOLERANCE = 1e-3  # px: corners further than this from a rectangle are a quadrilateral


def write(ds: Dataset, target: Path, options: WriteOptions) -> None:
    names = _image_names(ds, options)
    results = _results(ds, options)
    tasks = []
    for row, name in enumerate(names):
        data = {"image": f"{IMAGE_FOLDER}/{name}"}
        if ds.images.split[row]:
            data["split"] = str(ds.images.split[row])
        tasks.append({"id": row + 1, "data": data, "annotations": [{
            "id": row + 1, "completed_by": 1, "was_cancelled": False, "ground_truth": True,
            "result": results.get(row, [])}], "predictions": []})
    atomic_write_bytes(target, orjson.dumps(tasks, option=orjson.OPT_INDENT_2))
    atomic_write_bytes(target.parent / CONFIG_FILE, labeling_config(ds.categories.names).encode())
    _place(ds, target.parent, names, options)


def labeling_config(names: list[str]) -> str:
    """The Label Studio labelling config of the written results."""
    labels = "".join(f"\n    <Label value={quoteattr(name)}/>" for name in names)
    return ('<View>\n  <Image name="image" value="$image"/>\n'
            f'  <RectangleLabels name="label" toName="image" canRotate="true">{labels}\n  </RectangleLabels>\n'
            f'  <PolygonLabels name="polygon" toName="image">{labels}\n  </PolygonLabels>\n</View>\n')


def _image_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """A unique base name per image inside ``images/``."""
    seen: set[str] = set()
    names = []
    for row in range(len(ds.images)):
        source = str(ds.images.path[row] or ds.images.file_name[row])
        name = os.path.basename(source.replace("\\", "/")) or f"image_{row}.jpg"
        if name.lower() in seen:
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{row}{ext}"
            options.lose("image renamed to avoid a name collision", 1, name)
        seen.add(name.lower())
        names.append(name)
    return names


def _place(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    root = SourceRoot(ds.image_dir)
    placed = [place_image(os.path.join(ds.image_dir, str(path)), dst / IMAGE_FOLDER / name, root, options.link_images)
              if path else None for path, name in zip(ds.images.path.tolist(), names)]
    options.lose_unplaced([p or Placement.MISSING for p in placed],
                          "image files missing (tasks written, files not copied)")


def _results(ds: Dataset, options: WriteOptions) -> dict[int, list[dict]]:
    """Each image row's results, in annotation order."""
    ann = ds.annotations
    width = ds.images.width[ann.image].astype(np.float64) if len(ann) else np.zeros(0)
    height = ds.images.height[ann.image].astype(np.float64) if len(ann) else np.zeros(0)
    sized = (width > 0) & (height > 0)
    writable = sized & (ann.kind != Annotations.KIND_NONE) & ann.has_box
    options.lose("annotations on an image of unknown size (percent coordinates need it)",
                 int((~sized & (ann.kind != Annotations.KIND_NONE)).sum()))
    options.lose("annotations without geometry (Label Studio has no region for them)",
                 int((ann.kind == Annotations.KIND_NONE).sum()))
    for flag in ("iscrowd", "difficult", "truncated", "occluded"):
        options.lose(f"'{flag}' flag (a Label Studio region has no such field)", int((getattr(ann, flag) > 0).sum()))
    pixel_w = np.where(ann.normalized, width, 1.0)
    pixel_h = np.where(ann.normalized, height, 1.0)
    boxes = ann.boxes * np.column_stack([pixel_w, pixel_h, pixel_w, pixel_h])
    out: dict[int, list[dict]] = {}
    counts = {"rle": 0, "parts": 0, "quad": 0, "bounds": 0}
    for row in np.flatnonzero(writable).tolist():
        result = _result(ds, row, boxes[row], float(width[row]), float(height[row]), counts)
        out.setdefault(int(ann.image[row]), []).append(result)
    options.lose("RLE masks written as their bounding rectangle", counts["rle"])
    options.lose("polygon parts after the first not written (one polygon per region)", counts["parts"])
    options.lose("oriented quadrilaterals that are not rectangles written as their best rectangle", counts["quad"])
    options.lose("boxes that differ from their polygon's bounds (a Label Studio polygon has no box of its own; "
                 "it reads back as the polygon's bounds)", counts["bounds"])
    return out


def _result(ds: Dataset, row: int, box: np.ndarray, width: float, height: float, counts: dict) -> dict:
    ann = ds.annotations
    label = ds.categories.names[int(ann.category[row])]
    kind = int(ann.kind[row])
    base = {"id": f"r{row}", "from_name": "label", "to_name": "image", "original_width": int(width),
            "original_height": int(height), "image_rotation": 0}
    shape = ann.segmentation[row]
    if kind == Annotations.KIND_OBB and shape is not None:
        corners = np.asarray(shape, np.float64).reshape(4, 2)
        if ann.normalized[row]:
            corners = corners * [width, height]
        return {**base, "type": "rectanglelabels", "value": _rotated(corners, width, height, label, counts)}
    polygon = _polygon(shape, kind, width, height, counts)
    if polygon is not None:
        points = np.asarray(polygon, np.float64).reshape(-1, 2) * [width / 100, height / 100]
        bounds = np.concatenate([points.min(axis=0), points.max(axis=0)]) if len(points) else box
        counts["bounds"] += int(np.abs(bounds - box).max() > 1e-6)
        return {**base, "type": "polygonlabels", "from_name": "polygon",
                "value": {"points": polygon, "polygonlabels": [label]}}
    x1, y1, x2, y2 = box.tolist()
    value = {"x": x1 / width * 100, "y": y1 / height * 100, "width": (x2 - x1) / width * 100,
             "height": (y2 - y1) / height * 100, "rotation": 0, "rectanglelabels": [label]}
    return {**base, "type": "rectanglelabels", "value": value}


def _polygon(shape: object, kind: int, width: float, height: float, counts: dict) -> list[list[float]] | None:
    """The points in percent of a polygon row (kind 1: normalised flat list; kind 0: COCO pixel polygons)."""
    if kind == Annotations.KIND_POLYGON and isinstance(shape, list) and shape:
        flat = np.asarray(shape, np.float64)
        scale = np.array([100.0, 100.0])  # a polygon row's points are fractions whatever the box is
    elif kind == Annotations.KIND_BOX and isinstance(shape, dict):
        counts["rle"] += 1
        return None
    elif kind == Annotations.KIND_BOX and isinstance(shape, list) and shape and isinstance(shape[0], list):
        counts["parts"] += len(shape) - 1
        flat = np.asarray(shape[0], np.float64)
        scale = np.array([100.0 / width, 100.0 / height])
    else:
        return None
    return (flat[: len(flat) // 2 * 2].reshape(-1, 2) * scale).tolist()


def _rotated(corners: np.ndarray, width: float, height: float, label: str, counts: dict) -> dict:
    """The rotated rectangle whose corners, clockwise on screen from ``(x, y)``, are ``corners``."""
    first, second, last = corners[0], corners[1], corners[3]
    along, down = second - first, last - first
    if along[0] * down[1] - along[1] * down[0] < 0:  # counter-clockwise on screen: walk it the other way
        along, down = down, along
    w, h = float(np.hypot(*along)), float(np.hypot(*down))
    angle = float(np.degrees(np.arctan2(along[1], along[0]))) % 360.0
    if np.abs(first + along + down - corners[2]).max() > RECT_TOLERANCE:
        counts["quad"] += 1
    return {"x": float(first[0]) / width * 100, "y": float(first[1]) / height * 100, "width": w / width * 100,
            "height": h / height * 100, "rotation": angle, "rectanglelabels": [label]}
