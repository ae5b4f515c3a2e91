"""The VOC writer: a dataset as the devkit layout (``Annotations/``, ``JPEGImages/``,
``ImageSets/Main/<split>.txt``), every loss recorded in ``WriteOptions``.

Coordinates are written in ``WriteOptions.voc_origin``'s convention; integers as such, others
rounded to 3 decimals. Image stems are made unique (case-insensitively), split names fit for
list file names (no underscore: the reader would take the list for a per-class one). The round-
trip extras the reader keeps (pose, flags, unknown elements verbatim) are written back.
"""

from __future__ import annotations

import os
import re
from html import escape as _html_escape
from pathlib import Path

import numpy as np

from detlint import fileio, placing
from detlint.errors import UsageError
from detlint.formats.prewrite import NON_FINITE_BOX, UNKNOWN_CLASS, exact_round_trip, has_content
from detlint.formats.protocol import WriteOptions
from detlint.formats.voc.fields import image_fields, object_fields
from detlint.formats.voc.record import FLAG_TAGS, IMAGE_XML_TAGS, NAME
from detlint.model import ABSENT_INT, Annotations, Dataset

ROUNDING_TOLERANCE = 1e-9
_TRAILING_ZEROS = re.compile(r"\.?0+(?=\n)")  # "12.500" -> "12.5", "12.000" -> "12"


def escape(text: str) -> str:
    """XML text escaping (xml.sax.saxutils would import urllib: 0.2 s of start-up per run)."""
    return _html_escape(text, quote=False)


def _image_file_name(ds: Dataset, row: int) -> str:
    """Base name for JPEGImages/: the real file's name, else the declared one, else a stand-in."""
    for candidate in (ds.images.path[row], ds.images.file_name[row]):
        name = str(candidate or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name and name not in (".", ".."):
            if not fileio.is_image(name) and fileio.is_image(str(ds.images.path[row] or "")):
                name += os.path.splitext(str(ds.images.path[row]))[1]
            return name
    return f"image_{int(ds.images.id[row])}.jpg"


def _unique_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """One image file name per row whose stem is unique (case-insensitively: macOS/Windows)."""
    names = [_image_file_name(ds, row) for row in range(len(ds.images))]
    used: set[str] = set()
    renamed = 0
    for row, name in enumerate(names):
        stem, ext = os.path.splitext(name)
        candidate, split, attempt = stem, str(ds.images.split[row] or ""), 1
        while candidate.casefold() in used:
            attempt += 1
            prefix = f"{split}_" if split and attempt == 2 else ""
            candidate = f"{prefix}{stem}" if prefix else f"{stem}_{attempt}"
        if candidate != stem:
            renamed += 1
            names[row] = candidate + ext
        used.add(candidate.casefold())
    options.lose("image names changed to keep Annotations/ and JPEGImages/ stems unique", renamed,
                 "two images had the same file stem (e.g. the same name in two splits)")
    return names


def _split_file_name(split: str) -> str:
    # an underscore would make the reader take the list for a per-class file
    return split.replace("/", "-").replace("\\", "-").replace("_", "-")


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"{dst}: destination folder is not empty")
    names = _unique_names(ds, options)
    _record_dataset_losses(ds, options)
    documents = _documents(ds, dst / "Annotations", names, options)
    (dst / "Annotations").mkdir(parents=True, exist_ok=True)
    fileio.write_files(documents)
    _write_split_lists(ds, dst, names, options)
    _place_images(ds, dst, names, options)


def _documents(ds: Dataset, annotations_dir: Path, names: list[str],
               options: WriteOptions) -> list[tuple[str, bytes]]:
    """(path, bytes) of the XML of every image row, named after its image."""
    ann = ds.annotations
    writable = _writable_annotations(ds, options)
    origin = float(options.voc_origin)
    coords = np.array(ann.boxes, np.float64, copy=True)
    coords[:, 0] += origin
    coords[:, 1] += origin
    order = np.argsort(ann.image, kind="stable")
    order = order[writable[order]]
    bounds = np.searchsorted(ann.image[order], np.arange(len(ds.images) + 1))
    unknown_extra_keys: dict[str, int] = {}
    objects, rounded = _object_xmls(ds, order, coords, origin, unknown_extra_keys)
    documents: list[tuple[str, bytes]] = []
    folder = os.fspath(annotations_dir)
    bounds = bounds.tolist()
    for row in range(len(ds.images)):
        text = _annotation_xml(ds, row, names[row], objects[bounds[row]:bounds[row + 1]], unknown_extra_keys)
        documents.append((f"{folder}/{os.path.splitext(names[row])[0]}.xml", text.encode()))
    options.lose("non-integer coordinates rounded", rounded, "VOC stores pixels; kept 3 decimals")
    for key, count in sorted(unknown_extra_keys.items()):
        options.lose(f"extra field {key!r} not representable in VOC", count)
    return documents


def _record_dataset_losses(ds: Dataset, options: WriteOptions) -> None:
    used = set(np.unique(ds.annotations.category[ds.annotations.category >= 0]).tolist())
    unused = [name for index, name in enumerate(ds.categories.names) if index not in used]
    options.lose("unused classes dropped (VOC has no class list)", len(unused), ", ".join(unused))
    options.lose("category extra fields (e.g. supercategory)", sum(map(has_content, ds.categories.extra)),
                 "VOC has no class list to hold them")
    if ds.categories.names != sorted(ds.categories.names):
        options.lose("class order not kept (VOC readers sort class names)", len(ds.categories))


def _writable_annotations(ds: Dataset, options: WriteOptions) -> np.ndarray:
    """Mask of annotations that become <object>s; every dropped or changed row is a loss."""
    ann = ds.annotations
    n = len(ann)
    finite = np.isfinite(ann.boxes).all(axis=1) if n else np.zeros(0, bool)
    geometry = ann.has_box & (ann.kind != Annotations.KIND_NONE)
    known = ann.category >= 0
    options.lose("annotations without a box dropped", int((~geometry).sum()))
    options.lose(NON_FINITE_BOX, int((geometry & ~finite).sum()))
    options.lose(UNKNOWN_CLASS, int((geometry & finite & ~known).sum()))
    options.lose("normalised boxes without an image size dropped",
                 int((geometry & finite & known & ann.normalized).sum()))
    writable = geometry & finite & known & ~ann.normalized
    polygon = ann.kind == Annotations.KIND_POLYGON
    options.lose("polygons reduced to boxes", int((writable & polygon).sum()))
    has_segmentation = np.fromiter((s is not None and not (isinstance(s, (list, dict)) and not s)
                                    for s in ann.segmentation), bool, n)
    options.lose("segmentation dropped", int((writable & has_segmentation & ~polygon).sum()))
    options.lose("iscrowd flag", int((writable & (ann.iscrowd == 1)).sum()),
                 "crowd regions written as plain objects")
    box_area = (ann.boxes[:, 2] - ann.boxes[:, 0]) * (ann.boxes[:, 3] - ann.boxes[:, 1])
    with np.errstate(invalid="ignore"):  # an area the box gives back is not lost (COCO's w * h)
        own_area = np.isfinite(ann.area) & ~np.isclose(ann.area, box_area, rtol=1e-6, atol=1e-6)
    options.lose("area not stored", int((writable & own_area).sum()), "VOC has no area field")
    return writable


def _annotation_xml(ds: Dataset, row: int, file_name: str, objects: list[str],
                    unknown_extra_keys: dict[str, int]) -> str:
    images = ds.images
    fields = image_fields(images.extra[row], ds.format == NAME)
    for key in fields.unknown:
        unknown_extra_keys[key] = unknown_extra_keys.get(key, 0) + 1
    texts = fields.texts
    parts = ["<annotation>"]
    if "folder" in texts:
        parts.append(f"\t<folder>{escape(texts['folder'])}</folder>")
    parts.append(f"\t<filename>{escape(file_name)}</filename>")
    if "path" in texts:
        parts.append(f"\t<path>{escape(texts['path'])}</path>")
    parts += [f"\t{fields.elements[tag]}" for tag in IMAGE_XML_TAGS if tag in fields.elements]
    width, height = int(images.width[row]), int(images.height[row])
    if width or height or "depth" in texts:
        depth = escape(texts.get("depth", "3"))
        parts.append(f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
                     f"\t\t<depth>{depth}</depth>\n\t</size>")
    if "segmented" in texts or ds.format != NAME:  # a VOC source without it stays without it
        parts.append(f"\t<segmented>{escape(texts.get('segmented', '0'))}</segmented>")
    parts += objects
    parts += [f"\t{fragment}" for fragment in fields.fragments]
    parts.append("</annotation>\n")
    return "\n".join(parts)


def _object_xmls(ds: Dataset, rows: np.ndarray, coords: np.ndarray, origin: float,
                 unknown_extra_keys: dict[str, int]) -> tuple[list[str], int]:
    """The ``<object>`` element of each annotation in ``rows`` (in that order), built column by
    column, and how many of them had a coordinate rounded."""
    ann = ds.annotations
    texts, changed = _coordinate_texts(coords[rows])
    if changed.any():  # a value rounded here is lost only if the source's own numbers change
        written = np.array(texts, np.float64).reshape(-1, 4)[changed] - [origin, origin, 0.0, 0.0]
        changed[changed] = ~exact_round_trip(ds, rows[changed], written)
    rounded = int(changed.sum())
    names = _object_names(ds, rows)
    extras = ann.extra[rows].tolist()
    flag_rows = list(zip(*(getattr(ann, tag)[rows].tolist() for tag in FLAG_TAGS)))
    own = ds.format == NAME
    out = []
    for k, (name, flag_values, extra) in enumerate(zip(names, flag_rows, extras)):
        fields = object_fields(extra, flag_values, own)
        for key in fields.unknown:
            unknown_extra_keys[key] = unknown_extra_keys.get(key, 0) + 1
        pose = f"\t\t<pose>{escape(fields.pose)}</pose>\n" if fields.pose is not None else ""
        flag_text = "".join(f"\t\t<{tag}>{v}</{tag}>\n" for tag, v in zip(FLAG_TAGS, fields.flags) if v != ABSENT_INT)
        tail = "".join(f"\t\t{fragment}\n" for fragment in fields.fragments)
        x1, y1, x2, y2 = texts[4 * k:4 * k + 4]
        out.append(f"\t<object>\n\t\t<name>{name}</name>\n{pose}{flag_text}\t\t<bndbox>\n"
                   f"\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n\t\t\t<xmax>{x2}</xmax>\n"
                   f"\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n{tail}\t</object>")
    return out, rounded


def _object_names(ds: Dataset, rows: np.ndarray) -> list[str]:
    """Escaped class name of each row (of a known class: a row of an unknown one is a loss,
    never a name made up here)."""
    escaped = [escape(name) for name in ds.categories.names]
    return [escaped[category] for category in ds.annotations.category[rows].tolist()]


def _coordinate_texts(coords: np.ndarray) -> tuple[list[str], np.ndarray]:
    """VOC text of every coordinate (row-major): integers as such, others rounded to 3 decimals
    without trailing zeros; and which rows had a value rounded. One C-level format call for
    all values, not one per value."""
    flat = coords.reshape(-1)
    if not len(flat):
        return [], np.zeros(0, bool)
    changed = (np.abs(np.round(flat, 3) - flat) > ROUNDING_TOLERANCE) & (flat != np.floor(flat))
    # "%.3f" rounds each value exactly as Python's round(value, 3) does (np.round does not, on ties)
    text = ("%.3f\n" * len(flat)) % tuple(flat.tolist())
    text = _TRAILING_ZEROS.sub("", text).replace("-0\n", "0\n")
    return text.split("\n")[:-1], changed.reshape(-1, 4).any(axis=1)


def _write_split_lists(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    lists: dict[str, list[str]] = {}
    renamed: set[str] = set()
    for row, name in enumerate(names):
        extra = ds.images.extra[row] if isinstance(ds.images.extra[row], dict) else {}
        for split in [str(ds.images.split[row] or ""), *extra.get("also_in_splits", [])]:
            if not split:
                continue
            file_split = _split_file_name(split)
            if file_split != split:
                renamed.add(split)
            lists.setdefault(file_split, []).append(os.path.splitext(name)[0])
    options.lose("split names changed for ImageSets/Main file names", len(renamed),
                 ", ".join(sorted(renamed)))
    for split, stems in lists.items():
        fileio.atomic_write_text(dst / "ImageSets" / "Main" / f"{split}.txt", "\n".join(stems) + "\n")


def _place_images(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    root = os.fspath(ds.image_dir)  # where images.path resolves
    source_root = placing.SourceRoot(root)
    folder = os.fspath(dst / "JPEGImages")

    def place(rows: list[tuple[object, str]]) -> list[placing.Placement]:
        return [placing.place_image(os.path.join(root, str(path)), f"{folder}/{name}", source_root,
                                    options.link_images) if path else placing.Placement.MISSING
                for path, name in rows]

    # on threads only where storage is slow (fileio.batch_map): linking is a system call of
    # microseconds, and 16 threads on 2 cores fought over the GIL
    placed = fileio.batch_map(place, list(zip(ds.images.path.tolist(), names)), 8, desc="images", progress=False)
    missing = [names[row] for row, result in enumerate(placed) if result is placing.Placement.MISSING]
    detail = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    options.lose_unplaced(placed, "image file missing", detail)



def write_lists(ds: Dataset, dst: Path) -> None:
    """``ImageSets/Main/<split>.txt`` per split: the stem of each image's annotation file (its
    image's stem where none)."""
    stems = []
    for file, path, name in zip(ds.images.src_file.tolist(), ds.images.path.tolist(), ds.images.file_name.tolist()):
        source = ds.file_of(file) or str(path or name)
        stems.append(os.path.basename(source))  # _write_split_lists takes the stem
    _write_split_lists(ds, Path(dst), stems, WriteOptions())
