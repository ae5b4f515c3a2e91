"""The CVAT writer: ``annotations.xml`` (CVAT for images 1.1) and ``images/``, every loss
recorded in ``WriteOptions``.

Boxes become ``<box>``, COCO polygons ``<polygon>`` (one per part, sharing a ``group_id``), RLE
masks ``<mask>`` (CVAT run lengths over the mask's box), oriented boxes that are rectangles a
rotated ``<box>`` (any other quadrilateral a ``<polygon>``), YOLO polygon rows ``<polygon>`` in
pixels. Polylines, points and the shapes kept verbatim come back from a CVAT source (or from
the COCO ``attributes`` a CVAT source left there). Image files are linked or copied into
``images/`` (``images/<subset>/`` for a split), never rewritten.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from detlint import fileio, placing
from detlint.errors import UsageError
from detlint.formats.cvat import ANNOTATIONS_FILE, NAME, rle
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHAPE_KEYS = frozenset({"source", "z_order", "group_id", "rotation", "shape", "points", "xml", "name",
                         "track_id", "keyframe", "occluded", "difficult", "truncated"})
_FLAGS = ("difficult", "truncated")  # VOC flags: CVAT attributes (occluded has its own field)
_LABEL_KEYS = ("color", "type", "parent")
_TRAILING_ZEROS = re.compile(r"\.?0+(?=\n)")  # "12.500000" -> "12.5", "12.000000" -> "12"


class _Text:
    """XML text and attribute escaping that counts the characters XML 1.0 cannot hold."""

    def __init__(self) -> None:
        self.dropped = 0
        self._memo: dict[str, str] = {}  # labels, sources, z-orders repeat on every shape

    def __call__(self, value: Any) -> str:
        text = str(value)
        found = self._memo.get(text)
        if found is not None:
            return found
        clean = text
        if _INVALID_XML.search(text):
            self.dropped += 1
            clean = _INVALID_XML.sub("", text)
        out = escape(clean, quote=True).replace("\n", "&#10;").replace("\t", "&#9;").replace("\r", "&#13;")
        if clean is text and len(self._memo) < 100_000:
            self._memo[text] = out
        return out


def _num(value: float) -> str:
    """A coordinate: whole numbers as integers, others rounded to 6 decimals (float noise off)."""
    value = round(float(value), 6)
    return str(int(value)) if value.is_integer() else repr(value)


def _box_texts(ds: Dataset) -> list[str]:
    """The ``xtl ytl xbr ybr`` attributes of every row, in one formatting pass (not a numpy call
    per box): a CVAT source's own numbers where the box is unchanged, else 6 decimals."""
    ann = ds.annotations
    values = ann.boxes.copy()
    if ds.format == NAME and len(values):
        with np.errstate(invalid="ignore"):
            same = (np.abs(values - ann.raw) <= 1e-9).all(axis=1)
        values[same] = ann.raw[same]
    flat = values.ravel().tolist()
    if not flat:
        return []
    texts = _TRAILING_ZEROS.sub("", ("%.6f\n" * len(flat)) % tuple(flat)).replace("-0\n", "0\n").split("\n")
    return [f'xtl="{a}" ytl="{b}" xbr="{c}" ybr="{d}"' for a, b, c, d in zip(*[iter(texts[:-1])] * 4)]


def _points(flat: list[float]) -> str:
    """``x,y;x,y`` with each number's shortest exact text (polygons stay exact)."""
    texts = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in flat]
    return ";".join(f"{x},{y}" for x, y in zip(texts[0::2], texts[1::2]))


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"{dst}: destination folder is not empty")
    text = _Text()
    names = _image_names(ds, options)
    shapes = _Shapes(ds, options, text)
    body = [shapes.image_xml(row, names[row]) for row in range(len(ds.images))]
    shapes.record_losses()
    _flag_and_area_losses(ds, options)
    document = "\n".join(['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
                          _meta(ds, text, options), *body, "</annotations>", ""])
    options.lose("control characters XML cannot hold removed from names and values", text.dropped)
    fileio.atomic_write_text(dst / ANNOTATIONS_FILE, document)
    _place_images(ds, dst, names, options)


def _flag_and_area_losses(ds: Dataset, options: WriteOptions) -> None:
    """What CVAT has no field for: COCO's crowd flag, and a stated area that no shape gives back
    (a polygon's or mask's area is the shape's own, so it is not lost)."""
    ann = ds.annotations
    options.lose("iscrowd flag (CVAT has none: crowd regions written as plain shapes)", int((ann.iscrowd == 1).sum()))
    box_area = (ann.boxes[:, 2] - ann.boxes[:, 0]) * (ann.boxes[:, 3] - ann.boxes[:, 1])
    plain = np.fromiter((s is None for s in ann.segmentation), bool, len(ann))
    with np.errstate(invalid="ignore"):
        own = np.isfinite(ann.area) & ~np.isclose(ann.area, box_area, rtol=1e-6, atol=1e-6)
    options.lose("area not stored (CVAT has no area field)", int((own & plain & (ann.category >= 0)).sum()))


def _image_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """Each image's path under ``images/``: the CVAT name where safe, else the file's base
    name; unique (case-insensitively) within the image's subset folder."""
    used: set[str] = set()
    names, renamed = [], 0
    for row in range(len(ds.images)):
        declared = str(ds.images.file_name[row] or "")
        name = fileio.safe_relative(declared) if ds.format == NAME and declared else None
        if name is None:
            source = str(ds.images.path[row] or declared).replace("\\", "/").rsplit("/", 1)[-1]
            name = source if source not in ("", ".", "..") else f"image_{row}.jpg"
        split = fileio.safe_relative(str(ds.images.split[row] or "")) or ""
        stem, ext = os.path.splitext(name)
        candidate, attempt = name, 1
        while f"{split}/{candidate}".casefold() in used:
            attempt += 1
            candidate = f"{stem}_{attempt}{ext}"
        renamed += candidate != name
        used.add(f"{split}/{candidate}".casefold())
        names.append(candidate)
    options.lose("image names changed to keep them unique in images/", renamed)
    return names


def _meta(ds: Dataset, text: _Text, options: WriteOptions) -> str:
    own = ds.format == NAME
    info = ds.meta.get("cvat", {}).get("meta", {}) if own else {}
    lines = ["  <meta>", "    <task>"]
    if info.get("id"):
        lines.append(f"      <id>{text(info['id'])}</id>")
    lines += [f"      <name>{text(info.get('name') or 'written by detlint')}</name>",
              f"      <size>{len(ds.images)}</size>", "      <mode>annotation</mode>", "      <labels>"]
    dropped = 0
    for name, extra in zip(ds.categories.names, ds.categories.extra):
        extra = extra or {}
        lines += ["        <label>", f"          <name>{text(name)}</name>"]
        lines += [f"          <{key}>{text(extra[key])}</{key}>" for key in _LABEL_KEYS if extra.get(key)]
        lines.append(f"          {extra['attributes_xml']}" if own and extra.get("attributes_xml")
                     else "          <attributes>\n          </attributes>")
        lines.append("        </label>")
        dropped += any(key not in (*_LABEL_KEYS, "attributes_xml") for key in extra)
    options.lose("category extra fields (e.g. supercategory) not representable in CVAT", dropped)
    return "\n".join([*lines, "      </labels>", "    </task>", "  </meta>"])


class _Shapes:
    """The shape elements of each image, and the counts of what could not be written."""

    def __init__(self, ds: Dataset, options: WriteOptions, text: _Text) -> None:
        self.ds, self.options, self.text = ds, options, text
        ann = ds.annotations
        order = np.argsort(ann.image, kind="stable")
        self.order = order[ann.image[order] >= 0]
        self.bounds = np.searchsorted(ann.image[self.order], np.arange(len(ds.images) + 1)).tolist()
        self.box_texts = _box_texts(ds)
        self.lost: Counter[str] = Counter()
        self.unknown_keys: Counter[str] = Counter()
        self.next_group = 1 + max((int(e.get("group_id", 0)) for e in map(_fields, ann.extra)
                                   if str(e.get("group_id", "0")).isdigit()), default=0)

    def image_xml(self, row: int, name: str) -> str:
        images, text = self.ds.images, self.text
        attrs = f'id="{row if self.ds.format != NAME else int(images.id[row])}" name="{text(name)}" ' \
                f'width="{int(images.width[row])}" height="{int(images.height[row])}"'
        if images.split[row]:
            attrs += f' subset="{text(images.split[row])}"'
        extra = images.extra[row] if isinstance(images.extra[row], dict) else {}
        if self.ds.format == NAME:
            attrs += "".join(f' {key}="{text(value)}"' for key, value in extra.items()
                             if re.fullmatch(r"[A-Za-z_][\w.-]*", str(key)))
        elif any(key not in ("also_in_splits", "orphan_label") for key in extra):
            self.lost["image extra fields not representable in CVAT"] += 1
        rows = self.order[self.bounds[row]:self.bounds[row + 1]].tolist()
        parts = [f"  <image {attrs}>"] + [xml for r in rows for xml in self._shape(r)] + ["  </image>"]
        return "\n".join(parts)

    def _shape(self, row: int) -> list[str]:
        ann = self.ds.annotations
        fields = _fields(ann.extra[row])
        kind, segmentation = int(ann.kind[row]), ann.segmentation[row]
        if "track_id" in fields:
            self.lost["track membership (shapes written per image, as CVAT for images does)"] += 1
        if kind == Annotations.KIND_OBB:
            return self._oriented(row, fields)
        if kind == Annotations.KIND_POLYGON:
            return self._yolo_polygon(row, fields)
        if kind == Annotations.KIND_NONE:
            return self._other(row, fields)
        if isinstance(segmentation, dict):
            return [self._mask(row, fields, segmentation)]
        if isinstance(segmentation, list) and segmentation and all(isinstance(p, list) for p in segmentation):
            return self._polygons(row, fields, segmentation)
        if isinstance(segmentation, list) and len(segmentation) >= 6 and all(
                isinstance(v, (int, float)) for v in segmentation):  # one flat polygon (an oriented box's corners)
            return self._polygons(row, fields, [segmentation])
        if not ann.has_box[row]:
            self.lost["annotations without geometry dropped"] += 1
            return []
        return [self._element("box", row, fields, self._box_attrs(row))]

    def _box_attrs(self, row: int) -> str:
        return self.box_texts[row]

    def _element(self, tag: str, row: int, fields: dict[str, Any], geometry: str, group: int | None = None) -> str:
        ann, text = self.ds.annotations, self.text
        label = text(self.ds.categories.names[int(ann.category[row])])
        # a COCO copy keeps the flag in 'attributes' (its writer's choice), which _fields merged in
        occluded = int(ann.occluded[row] > 0 or str(fields.get("occluded", "0")) in ("1", "True", "true"))
        attrs = f'label="{label}" source="{text(fields.get("source", "file"))}" occluded="{occluded}" {geometry}'
        attrs += f' z_order="{text(fields.get("z_order", 0))}"'
        group_id = group if group is not None else fields.get("group_id")
        if group_id not in (None, "", 0, "0"):
            attrs += f' group_id="{text(group_id)}"'
        children = [(key[len("attribute:"):], value) for key, value in fields.items() if key.startswith("attribute:")]
        children += [(flag, str(int(getattr(ann, flag)[row]))) for flag in _FLAGS if getattr(ann, flag)[row] >= 0]
        children += [(flag, str(fields[flag])) for flag in _FLAGS if getattr(ann, flag)[row] < 0 and flag in fields]
        for key, value in fields.items():
            if key not in _SHAPE_KEYS and not key.startswith("attribute:") and value not in (None, "", [], {}):
                self.unknown_keys[key] += 1
        inner = "".join(f'\n      <attribute name="{text(k)}">{text(v)}</attribute>' for k, v in children)
        return f"    <{tag} {attrs}>{inner}\n    </{tag}>"

    def _polygons(self, row: int, fields: dict[str, Any], polygons: list[list[float]]) -> list[str]:
        ann = self.ds.annotations
        xs = [v for p in polygons for v in p[0::2]]
        ys = [v for p in polygons for v in p[1::2]]
        if xs and ys and ann.has_box[row]:  # plain Python: a numpy call per polygon costs 20 us
            bounds = (min(xs), min(ys), max(xs), max(ys))
            if any(not abs(a - b) <= 1e-3 for a, b in zip(bounds, ann.boxes[row].tolist())):
                self.lost["boxes that differ from their polygon's bounds (the polygon is written)"] += 1
        group = None
        if len(polygons) > 1:
            self.lost["multi-part polygons written as one <polygon> per part sharing a group_id"] += 1
            group, self.next_group = self.next_group, self.next_group + 1
        return [self._element("polygon", row, fields, f'points="{_points(p)}"', group) for p in polygons]

    def _mask(self, row: int, fields: dict[str, Any], segmentation: dict) -> str:
        box = self.ds.annotations.boxes[row]
        hint = tuple(int(v) for v in np.round(box)) if np.isfinite(box).all() else None
        runs = rle.from_coco(segmentation, hint)
        if runs is None:
            self.lost["masks that are empty or do not decode written as their boxes"] += 1
            return self._element("box", row, fields, self._box_attrs(row))
        counts, left, top, width, height = runs
        if not np.allclose(box, [left, top, left + width, top + height], rtol=0, atol=1e-3):
            self.lost["boxes that differ from their mask's bounds (the mask is written)"] += 1
        geometry = (f'rle="{", ".join(map(str, counts))}" left="{left}" top="{top}" '
                    f'width="{width}" height="{height}"')
        return self._element("mask", row, fields, geometry)

    def _yolo_polygon(self, row: int, fields: dict[str, Any]) -> list[str]:
        ann, images = self.ds.annotations, self.ds.images
        image = int(ann.image[row])
        width, height = float(images.width[image]), float(images.height[image])
        points = ann.segmentation[row]
        if not width or not height or not isinstance(points, list) or len(points) < 6:
            self.lost["normalised polygons on an image of unknown size dropped"] += 1
            return []
        pixels = (np.asarray(points, np.float64).reshape(-1, 2) * (width, height)).round(6).ravel().tolist()
        return [self._element("polygon", row, fields, f'points="{_points(pixels)}"')]

    def _oriented(self, row: int, fields: dict[str, Any]) -> list[str]:
        ann = self.ds.annotations
        corners = np.asarray(ann.segmentation[row], np.float64).reshape(4, 2)
        fitted = _rotated_box(corners)
        if ann.normalized[row] or fitted is None:
            if not ann.normalized[row]:
                self.lost["oriented boxes that are not rectangles written as polygons"] += 1
                return [self._element("polygon", row, fields, f'points="{_points(corners.ravel().tolist())}"')]
            self.lost["normalised oriented boxes on an image of unknown size dropped"] += 1
            return []
        box, degrees = fitted
        if self.ds.format == NAME and np.allclose(box, ann.raw[row], atol=1e-6) \
                and math.isclose(degrees, float(fields.get("rotation", 0)) % 360, abs_tol=1e-6):
            box, degrees = ann.raw[row], float(fields.get("rotation", 0))
        geometry = " ".join(f'{k}="{_num(v)}"' for k, v in zip(("xtl", "ytl", "xbr", "ybr"), box.tolist()))
        return [self._element("box", row, fields, f'{geometry} rotation="{_num(degrees)}"')]

    def _other(self, row: int, fields: dict[str, Any]) -> list[str]:
        shape = fields.get("shape")
        if shape in ("polyline", "points") and fields.get("points"):
            return [self._element(shape, row, fields, f'points="{self.text(fields["points"])}"')]
        if shape == "tag":
            label = self.text(self.ds.categories.names[int(self.ds.annotations.category[row])])
            return [f'    <tag label="{label}" source="{self.text(fields.get("source", "file"))}">\n    </tag>']
        if fields.get("xml") and shape in ("skeleton", "cuboid", "ellipse"):
            return [f"    {fields['xml']}"]
        self.lost["annotations without geometry dropped"] += 1
        return []

    def record_losses(self) -> None:
        for what, count in sorted(self.lost.items()):
            self.options.lose(what, count)
        for key, count in sorted(self.unknown_keys.items()):
            self.options.lose(f"extra field {key!r} not representable in CVAT", count)


def _fields(extra: Any) -> dict[str, Any]:
    """A row's CVAT fields: its own extra, or the ``attributes`` a COCO copy of CVAT kept."""
    if not isinstance(extra, dict):
        return {}
    nested = extra.get("attributes")
    if isinstance(nested, dict):
        return {**nested, **{k: v for k, v in extra.items() if k != "attributes"}}
    return extra


def _rotated_box(corners: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(xtl ytl xbr ybr, degrees)`` of the rectangle with these corners (in order round it),
    rotated clockwise on screen about its centre; None when they are no rectangle."""
    p0, p1, p2, p3 = corners
    u, v = p1 - p0, p3 - p0
    width, height = float(np.hypot(*u)), float(np.hypot(*v))
    scale = max(width, height, 1e-9)
    if not np.isfinite(corners).all() or np.abs(p2 - (p1 + v)).max() > 1e-3 * scale \
            or abs(float(u @ v)) > 1e-3 * scale * scale:
        return None
    degrees = math.degrees(math.atan2(u[1], u[0])) % 360
    if float(u[0] * v[1] - u[1] * v[0]) < 0:  # corners go counter-clockwise: p0 -> p3 is the top edge
        degrees, width, height = math.degrees(math.atan2(v[1], v[0])) % 360, height, width
    cx, cy = corners.mean(axis=0)
    return np.array([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2]), degrees


def _place_images(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    root = os.fspath(ds.image_dir)
    source_root = placing.SourceRoot(root)
    targets = []
    for row, name in enumerate(names):
        split = fileio.safe_relative(str(ds.images.split[row] or "")) or ""
        targets.append(os.fspath(dst / "images" / split / name) if split else os.fspath(dst / "images" / name))

    def place(rows: list[tuple[object, str]]) -> list[placing.Placement]:
        return [placing.place_image(os.path.join(root, str(path)), target, source_root, options.link_images)
                if path else placing.Placement.MISSING for path, target in rows]

    placed = fileio.batch_map(place, list(zip(ds.images.path.tolist(), targets)), 8, desc="images", progress=False)
    options.lose_unplaced(placed, "image file missing")
