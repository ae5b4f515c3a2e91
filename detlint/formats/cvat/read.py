"""Building the :class:`~detlint.model.Dataset` of a CVAT XML from its parsed records.

One image row per ``<image>``, one annotation row per shape (see the package docstring for the
kinds). Boxes are CVAT's own continuous pixel coordinates (``xtl ytl xbr ybr``, kept in ``raw``).
The class list is the labels of ``<meta>`` in their order; a file without declared labels gets
the names it uses, in first-seen order (``meta["cvat"]["labels_declared"]`` says which).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError, UsageError
from detlint.findings import Finding
from detlint.formats.cvat import NAME, annotation_file, rle
from detlint.formats.cvat.parse import ParsedCvat, Shape, parse
from detlint.formats.protocol import ReadOptions
from detlint.geometry.obb import enclosing_boxes, rect_corners, rotate
from detlint.model import ABSENT_INT, Annotations, Categories, Dataset, Images

OBB_CONVENTION = {
    "source": "CVAT <box rotation>",
    "order": "the rectangle's corners clockwise on screen, from its top-left corner before rotation",
    "angle": "degrees clockwise on screen about the box centre",
}
_KEPT_ATTRS = ("source", "z_order", "group_id")


def read(path: Path, options: ReadOptions) -> Dataset:
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    xml = annotation_file(path)
    if xml is None:
        raise NotADatasetError(f"{path}: no CVAT XML (an <annotations> file with <version>) found")
    root = xml.parent
    ds = Dataset(format=NAME, root=root, categories=Categories.build([]), images=Images.empty(0),
                 annotations=Annotations.empty(0), files=[xml.name])
    data = fileio.read_bytes(os.fspath(xml), options.boundary(root), options.limits.document_bytes)
    parsed = parse(data) if isinstance(data, bytes) else ParsedCvat(problem=data)
    if parsed.problem is not None:
        parsed.problem.file = xml.name
        ds.problems.append(parsed.problem)
        return ds
    ds.meta["cvat"] = {"version": parsed.version, "owner": parsed.owner, "meta": parsed.meta,
                       "labels_declared": bool(parsed.labels), "video": parsed.video}
    ds.categories = _categories(parsed)
    ds.images = _images(ds, parsed, options)
    ds.annotations = _annotations(ds, parsed)
    if (ds.annotations.kind == Annotations.KIND_OBB).any():
        ds.meta["obb"] = dict(OBB_CONVENTION)
    return ds


def _categories(parsed: ParsedCvat) -> Categories:
    if parsed.labels:
        return Categories.build(parsed.labels, extra=parsed.label_extra, src_file=0, lines=parsed.label_lines)
    used = list(dict.fromkeys(shape.attrs.get("label", "") for shape in parsed.shapes))
    return Categories.build([name for name in used if name], src_file=0)


def _int(text: str, default: int = 0) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError, OverflowError):
        return default


def _images(ds: Dataset, parsed: ParsedCvat, options: ReadOptions) -> Images:
    n = len(parsed.image_ids)
    images = Images.empty(n)
    if not n:
        return images
    base = ds.root if options.image_root is None else Path(options.image_root)
    if options.image_root is not None:
        ds.image_root = base
    finder = _Finder(base, options)
    paths = []
    for row, name in enumerate(parsed.image_names):
        subset = parsed.image_attrs[row].get("subset", "")
        if parsed.video:  # a frame's name has no extension: the file in images/ with that stem
            found = finder.by_stem("images", name)
            parsed.image_names[row] = found.rsplit("/", 1)[-1] or name
        else:
            found = finder.find(name, subset, ds, parsed.image_lines[row])
        paths.append(found)
    ids = [_int(text, row) for row, text in enumerate(parsed.image_ids)]
    images.id = np.array(ids, np.int64) if len(set(ids)) == n else np.arange(n, dtype=np.int64)
    images.file_name[:] = parsed.image_names
    images.path[:] = paths
    images.width[:] = [max(_int(w), 0) for w, _ in parsed.image_sizes]
    images.height[:] = [max(_int(h), 0) for _, h in parsed.image_sizes]
    images.split[:] = [attrs.get("subset", "") for attrs in parsed.image_attrs]
    images.src_file[:] = 0
    images.src_line[:] = parsed.image_lines
    images.src_item[:] = np.arange(n, dtype=np.int32)
    images.extra[:] = [{k: v for k, v in attrs.items() if k != "subset"} or None for attrs in parsed.image_attrs]
    ds.image_folders = ["images", "."]
    return images


class _Finder:
    """Image lookup by folder listings (one ``scandir`` per folder, none per image), only in
    folders whose real path lies under the base folder."""

    def __init__(self, base: Path, options: ReadOptions) -> None:
        self.base = os.fspath(base)
        self.boundary = options.boundary(base)
        self._listings: dict[str, set[str]] = {}
        self._links: set[str] = set()  # paths (relative to the base) of listed symbolic links
        self._stems: dict[str, str] | None = None  # images/ by stem (video frames)

    def _names(self, folder: str) -> set[str]:
        found = self._listings.get(folder)
        if found is None:
            absolute = os.path.join(self.base, folder) if folder else self.base
            found = set()
            if self.boundary.contains_folder(absolute):
                try:
                    with os.scandir(absolute) as entries:
                        for entry in entries:
                            if entry.is_file():
                                found.add(entry.name)
                                if entry.is_symlink():  # free from scandir: only links cost a realpath
                                    self._links.add(f"{folder}/{entry.name}" if folder else entry.name)
                except OSError:
                    pass
            self._listings[folder] = found
        return found

    def by_stem(self, folder: str, stem: str) -> str:
        """The image file of ``folder`` whose stem is ``stem`` (first in sorted order), or ``""``."""
        if self._stems is None:
            self._stems = {}
            for name in sorted(self._names(folder)):
                if fileio.is_image(name):
                    self._stems.setdefault(os.path.splitext(name)[0], name)
        name = self._stems.get(stem)
        return f"{folder}/{name}" if name and self._inside(f"{folder}/{name}", None, 0) else ""

    def _inside(self, candidate: str, ds: Dataset | None, line: int) -> bool:
        """Whether a found file is no symbolic link out of the base folder (F008 when it is)."""
        if candidate not in self._links or self.boundary.contains(os.path.join(self.base, candidate)):
            return True
        if ds is not None:
                ds.problems.append(Finding("F008", f"image file {candidate!r} is a symbolic link to a file outside "
                                       "the dataset root; not read", file=ds.files[0], line=line or None))
        return False

    def find(self, name: str, subset: str, ds: Dataset, line: int) -> str:
        """The path of image ``name`` under the base folder (``""``: not found); F008 into
        ``ds.problems`` for a name that is absolute or escapes the root."""
        safe = fileio.safe_relative(name) if name else None
        if safe is None:
            if name:
                ds.problems.append(Finding("F008", f"image name {name!r} is absolute or escapes the dataset root; "
                                           "looking for its base name in images/ only", file=ds.files[0],
                                           line=line or None))
            base_name = name.replace("\\", "/").rsplit("/", 1)[-1]
            if base_name in ("", ".", ".."):
                return ""
            candidates = [f"images/{base_name}"]
        else:
            safe_subset = fileio.safe_relative(subset) if subset else None
            candidates = ([f"images/{safe_subset}/{safe}"] if safe_subset else []) + [f"images/{safe}", safe]
        for candidate in candidates:
            folder, _, file_name = candidate.rpartition("/")
            if file_name in self._names(folder):
                return candidate if self._inside(candidate, ds, line) else ""
        return ""


def _annotations(ds: Dataset, parsed: ParsedCvat) -> Annotations:
    shapes = parsed.shapes
    index_of = {name: i for i, name in enumerate(ds.categories.names)}
    kept = []
    for shape in shapes:
        if shape.image < 0:
            frame = shape.attrs.get("frame", "?")
            ds.problems.append(Finding("F004", f"track {shape.track.get('id', '?') if shape.track else '?'} "
                                       f"has a shape on frame {frame}, which no <image id={frame!r}> declares: "
                                       "it is not read", file=ds.files[0], line=shape.line or None))
        else:
            kept.append(shape)
    n = len(kept)
    ann = Annotations.empty(n)
    if not n:
        return ann
    labels = [shape.attrs.get("label", "") for shape in kept]
    ann.category = np.fromiter((index_of.get(label, -1) for label in labels), np.int32, n)
    ann.class_id = ann.category.astype(np.int64)
    ann.image = np.fromiter((shape.image for shape in kept), np.int32, n)
    ann.src_file[:] = 0
    ann.src_line = np.fromiter((shape.line for shape in kept), np.int32, n)
    ann.src_item = np.arange(n, dtype=np.int32)
    ann.occluded = np.fromiter((_flag(shape.attrs.get("occluded")) for shape in kept), np.int8, n)
    extras = [_extra(shape, label, label in index_of) for shape, label in zip(kept, labels)]
    _geometry(ds, kept, ann, extras)
    ann.extra = np.empty(n, dtype=object)
    ann.extra[:] = [extra or None for extra in extras]
    return ann


def _flag(text: str | None) -> int:
    if text in ("0", "1"):
        return int(text)
    if text in ("true", "True", "false", "False"):
        return int(text.lower() == "true")
    return ABSENT_INT


def _extra(shape: Shape, label: str, known: bool) -> dict[str, Any]:
    """The round-trip fields of one shape, as plain values (a COCO copy keeps them)."""
    extra: dict[str, Any] = {}
    for key in _KEPT_ATTRS:
        if key in shape.attrs:
            value = shape.attrs[key]
            extra[key] = _int(value) if key != "source" and value.lstrip("-").isdigit() else value
    for name, value in shape.attributes:
        extra[f"attribute:{name}"] = value
    if shape.track is not None:
        extra["track_id"] = shape.track.get("id", "")
        extra["keyframe"] = shape.attrs.get("keyframe", "")
    if not known:
        extra["name"] = label  # C001 names it
    return extra


def _numbers(shape: Shape, keys: tuple[str, ...]) -> list[float]:
    out = []
    for key in keys:
        try:
            out.append(float(shape.attrs.get(key, "nan")))
        except ValueError:
            out.append(math.nan)
    return out


def _box_numbers(shapes: list[Shape]) -> np.ndarray:
    """``xtl ytl xbr ybr`` of each box: one numpy conversion of all the texts (900k boxes: 0.3 s,
    not 1.3 s of float() calls), the rows holding a bad number again one by one (NaN there)."""
    texts = [shape.attrs.get(key, "nan") for shape in shapes for key in ("xtl", "ytl", "xbr", "ybr")]
    try:
        return np.array(texts, dtype=np.float64).reshape(-1, 4)
    except ValueError:
        return np.array([_numbers(shape, ("xtl", "ytl", "xbr", "ybr")) for shape in shapes]).reshape(-1, 4)


def _points(text: str) -> list[float] | None:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        return None
    return values if values and len(values) % 2 == 0 and all(map(math.isfinite, values)) else None


def _geometry(ds: Dataset, shapes: list[Shape], ann: Annotations, extras: list[dict[str, Any]]) -> None:
    """Boxes, kinds, segmentations and areas, by shape tag."""
    n = len(shapes)
    boxes = np.full((n, 4), np.nan)
    rotation = np.zeros(n)
    kind = np.full(n, Annotations.KIND_NONE, np.uint8)
    has_box = np.zeros(n, bool)
    segmentation = np.full(n, None, dtype=object)
    box_rows = [row for row, shape in enumerate(shapes) if shape.tag == "box"]
    boxes[box_rows] = _box_numbers([shapes[row] for row in box_rows])
    kind[box_rows], has_box[box_rows] = Annotations.KIND_BOX, True
    for row, shape in enumerate(shapes):
        tag = shape.tag
        if tag == "box":
            if "rotation" in shape.attrs:
                rotation[row] = _numbers(shape, ("rotation",))[0]
        elif tag == "polygon":
            kind[row], has_box[row] = Annotations.KIND_BOX, True
            points = _points(shape.attrs.get("points", ""))
            if points is not None:
                xy = np.asarray(points).reshape(-1, 2)
                boxes[row] = [*xy.min(axis=0), *xy.max(axis=0)]
                segmentation[row] = [points]
        elif tag == "mask":
            kind[row], has_box[row] = Annotations.KIND_BOX, True
            boxes[row], segmentation[row] = _mask(ds, shape)
        else:
            extras[row]["shape"] = tag
            if "points" in shape.attrs:
                extras[row]["points"] = shape.attrs["points"]
            if shape.xml:
                extras[row]["xml"] = shape.xml
    ann.boxes, ann.raw, ann.kind, ann.has_box, ann.segmentation = boxes, boxes.copy(), kind, has_box, segmentation
    _oriented(ann, rotation, extras)
    _areas(ds, ann)


def _mask(ds: Dataset, shape: Shape) -> tuple[list[float], dict | None]:
    """The box and COCO RLE of a ``<mask>``; an F001 at its line when its runs do not fill its box."""
    left, top, width, height = (_int(shape.attrs.get(k, ""), -1) for k in ("left", "top", "width", "height"))
    if min(left, top) < 0 or min(width, height) <= 0:
        ds.problems.append(Finding("F001", "mask has no valid left/top/width/height", file=ds.files[0],
                                   line=shape.line or None))
        return [math.nan] * 4, None
    box = [float(left), float(top), float(left + width), float(top + height)]
    counts = rle.parse_counts(shape.attrs.get("rle", ""))
    if counts is None or int(counts.sum()) != width * height:
        total = "not integers" if counts is None else f"{int(counts.sum())} pixels"
        ds.problems.append(Finding("F001", f"mask rle does not fill its {width}x{height} box ({total}, expected "
                                   f"{width * height}); its pixels are not read", file=ds.files[0],
                                   line=shape.line or None))
        return box, None
    image_width = int(ds.images.width[shape.image]) or left + width
    image_height = int(ds.images.height[shape.image]) or top + height
    return box, rle.to_coco(rle.crop_from_counts(counts, width, height), left, top, image_width, image_height)


def _oriented(ann: Annotations, rotation: np.ndarray, extras: list[dict[str, Any]]) -> None:
    """Boxes with a non-zero rotation as kind 3: corners rotated about the centre (CVAT's rule)."""
    rows = np.flatnonzero((ann.kind == Annotations.KIND_BOX) & np.isfinite(rotation) & (rotation % 360 != 0))
    if not len(rows):
        return
    b = ann.boxes[rows]
    corners = rotate(rect_corners(b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]),
                     (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, rotation[rows])
    ann.boxes[rows] = enclosing_boxes(corners)
    ann.kind[rows] = Annotations.KIND_OBB
    ann.segmentation[rows] = [list(c) for c in corners.tolist()]
    for row, degrees in zip(rows.tolist(), rotation[rows].tolist()):
        extras[row]["rotation"] = degrees


def _areas(ds: Dataset, ann: Annotations) -> None:
    """COCO's area (pycocotools) of each polygon and mask on an image of known size."""
    for row in np.flatnonzero(ann.kind == Annotations.KIND_BOX).tolist():
        segmentation = ann.segmentation[row]
        if segmentation is None:
            continue
        if isinstance(segmentation, list) and len(segmentation[0]) < 6:
            continue
        image = ann.image[row]
        width, height = int(ds.images.width[image]), int(ds.images.height[image])
        if width and height:
            ann.area[row] = rle.coco_area(segmentation, width, height)
