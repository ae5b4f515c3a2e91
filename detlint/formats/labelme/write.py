"""The labelme writer: one JSON per image, beside the linked (or copied) image, in a folder per
split (``<split>/``; the root when there are none), in labelme's own key order.

``imageData`` is null unless the source was labelme with ``imageData``: then it is copied from
the source file (the model never holds it). Rectangles, polygons (several polygons of one
object share a ``group_id``), circles and mask shapes of a labelme source, and point / line
shapes, are written as they were; YOLO polygon rows and oriented boxes become polygons in
pixels. Every loss is listed: RLE masks of other sources written as rectangles, rows without
geometry of other sources, other sources' extra fields, sizes that are not known. Set flag
columns (VOC ``difficult``/``truncated``/``occluded``, COCO ``iscrowd``) become the shape's
``flags`` (``{"difficult": true}``).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint import fileio, placing
from detlint.boundary import Boundary
from detlint.errors import UsageError
from detlint.formats.labelme.layout import NAME
from detlint.formats.labelme.parse import IMAGE_KEYS
from detlint.formats.labelme.shapes import GROUPED
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset

VERSION = "5.5.0"  # the labelme version written for a source that is not labelme
_FLAG_COLUMNS = ("iscrowd", "difficult", "truncated", "occluded")
_INTERNAL = frozenset({"shape_type", "points", GROUPED, "shape_type_missing", "label"})


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"{dst}: destination folder is not empty")
    names = _image_names(ds, options)
    losses: Counter[str] = Counter()
    shapes = _shapes_per_image(ds, losses)
    source = Boundary(ds.root)
    documents = [(os.fspath(dst / (os.path.splitext(name)[0] + ".json")),
                  _document(ds, row, os.path.basename(name), shapes[row], source, losses))
                 for row, name in enumerate(names)]
    fileio.write_files(documents)
    _place_images(ds, dst, names, options)
    for what, count in sorted(losses.items()):
        options.lose(what, count)


def _image_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """``<split>/<file name>`` per image row, stems unique per folder (case-insensitively)."""
    used: set[str] = set()
    names, renamed = [], 0
    for row in range(len(ds.images)):
        base = str(ds.images.path[row] or ds.images.file_name[row] or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not base or base in (".", ".."):
            base = f"image_{int(ds.images.id[row])}.jpg"
        split = str(ds.images.split[row] or "").replace("\\", "-").replace("/", "-").lstrip(".")
        stem, ext = os.path.splitext(base)
        candidate, attempt = stem, 1
        while f"{split}/{candidate}".casefold() in used:
            attempt += 1
            candidate = f"{stem}_{attempt}"
        renamed += candidate != stem
        used.add(f"{split}/{candidate}".casefold())
        names.append(f"{split}/{candidate}{ext}" if split else f"{candidate}{ext}")
    options.lose("image names changed to keep each folder's JSON stems unique", renamed)
    return names


def _shapes_per_image(ds: Dataset, losses: Counter[str]) -> list[list[dict]]:
    ann = ds.annotations
    out: list[list[dict]] = [[] for _ in range(len(ds.images))]
    own = ds.format == NAME
    flags = np.stack([getattr(ann, name) == 1 for name in _FLAG_COLUMNS], axis=1)
    for row in np.flatnonzero(ann.image >= 0).tolist():
        shapes = _shapes_of(ds, row, own, losses)
        if flags[row].any():  # VOC difficult / truncated, COCO iscrowd: labelme's per-shape flags
            for shape in shapes:
                shape["flags"] = {**shape["flags"], **{n: True for n, on in zip(_FLAG_COLUMNS, flags[row]) if on}}
        target = out[int(ann.image[row])]
        if len(shapes) > 1 and shapes[0].get("group_id") is None:  # one object, several polygons
            group = 1 + max((s["group_id"] for s in target if isinstance(s.get("group_id"), int)), default=0)
            for shape in shapes:
                shape["group_id"] = group
        target += shapes
    return out


def _shape(label: str, points: list, shape_type: str, extra: dict | None, own: bool,
           losses: Counter[str]) -> dict[str, Any]:
    extra = extra if isinstance(extra, dict) else {}
    shape: dict[str, Any] = {"label": label, "points": points, "group_id": extra.get("group_id"),
                             "description": extra.get("description", ""), "shape_type": shape_type,
                             "flags": extra.get("flags", {}), "mask": extra.get("mask")}
    rest = {k: v for k, v in extra.items() if k not in _INTERNAL and k not in shape}
    if own:
        shape.update(rest)
    elif rest:
        losses["annotation extra fields (labelme has no place for them)"] += 1
    return shape


def _pairs(flat: list[float]) -> list[list[float]]:
    return [[float(flat[i]), float(flat[i + 1])] for i in range(0, len(flat) - 1, 2)]


def _shapes_of(ds: Dataset, row: int, own: bool, losses: Counter[str]) -> list[dict]:
    ann = ds.annotations
    label = ds.categories.names[int(ann.category[row])]
    extra = ann.extra[row] if isinstance(ann.extra[row], dict) else None
    shape_type = str(extra.get("shape_type", "")) if extra and own else ""
    kind, seg, box = int(ann.kind[row]), ann.segmentation[row], ann.boxes[row].tolist()
    if kind == Annotations.KIND_NONE or not ann.has_box[row]:
        if own and extra and "points" in extra:
            return [_shape(label, extra["points"], shape_type or "point", extra, own, losses)]
        losses["annotations without geometry (labelme needs points)"] += 1
        return []
    if own and shape_type in ("circle", "mask") and extra and "points" in extra or own and shape_type == "circle":
        points = extra.get("points") if extra and "points" in extra else _pairs(ann.raw[row].tolist())
        return [_shape(label, points, shape_type, extra, own, losses)]
    if kind == Annotations.KIND_BOX and isinstance(seg, list) and seg:
        return [_shape(label, _pairs(p), "polygon", extra, own, losses) for p in seg]
    if kind in (Annotations.KIND_POLYGON, Annotations.KIND_OBB) and isinstance(seg, list) and not ann.normalized[row]:
        scale = _scale(ds, row) if kind == Annotations.KIND_POLYGON else (1.0, 1.0)
        if scale is not None:
            points = (np.asarray(seg, np.float64).reshape(-1, 2) * scale).round(6).tolist()
            return [_shape(label, points, "polygon", extra, own, losses)]
    if isinstance(seg, dict):
        losses["RLE masks written as their bounding rectangles"] += 1
    elif kind != Annotations.KIND_BOX:
        losses["polygons or oriented boxes of unknown image size written as rectangles"] += 1
    raw = ann.raw[row].tolist()
    points = _pairs(raw) if own and np.isfinite(raw).all() else [box[:2], box[2:]]
    return [_shape(label, points, "rectangle", extra, own, losses)]


def _scale(ds: Dataset, row: int) -> tuple[float, float] | None:
    image = int(ds.annotations.image[row])
    w, h = int(ds.images.width[image]), int(ds.images.height[image])
    return (float(w), float(h)) if w > 0 and h > 0 else None


def _document(ds: Dataset, row: int, image_name: str, shapes: list[dict], source: Boundary,
              losses: Counter[str]) -> bytes:
    own = ds.format == NAME
    extra = ds.images.extra[row] if own and isinstance(ds.images.extra[row], dict) else {}
    width, height = int(ds.images.width[row]), int(ds.images.height[row])
    if not width or not height:
        losses["images of unknown size (imageWidth/imageHeight written as null)"] += 1
    doc: dict[str, Any] = {"version": extra.get("version", VERSION), "flags": extra.get("flags", {}),
                           "shapes": shapes, "imagePath": image_name,
                           "imageData": _image_data(ds, row, source) if extra.get("imageData") else None,
                           "imageHeight": height or None, "imageWidth": width or None}
    doc.update({k: v for k, v in extra.items() if k not in doc and k not in IMAGE_KEYS})
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def _image_data(ds: Dataset, row: int, source: Boundary) -> str | None:
    """The ``imageData`` string of the image's source JSON, read again (never kept in the model)."""
    rel = ds.file_of(int(ds.images.src_file[row]))
    data = source.read_label(os.path.join(os.fspath(ds.root), rel)) if rel else None
    if not isinstance(data, bytes):
        return None
    try:
        value = orjson.loads(data).get("imageData")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _place_images(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    root = os.fspath(ds.image_dir)
    source_root = placing.SourceRoot(root)
    placed = [placing.place_image(os.path.join(root, str(path)), os.fspath(dst / name), source_root,
                                  options.link_images) if path else placing.Placement.MISSING
              for path, name in zip(ds.images.path.tolist(), names)]
    options.lose_unplaced(placed, "image file missing (its JSON is written without it)")
