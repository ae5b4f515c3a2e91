"""What rule modules share: locating findings at their source, and common column views."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import repeat

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules.context import RuleContext


def box_text(box: np.ndarray) -> str:
    # on Python floats: a rule may word 100k findings, and numpy scalars cost 10x per value
    values = np.asarray(box, np.float64).tolist()
    # past 1e15 a fixed-point 1e300 is 300 digits: written in exponent form instead
    return "[" + ", ".join(f"{v:.1f}" if abs(v) < 1e15 else (f"{v:.6g}" if math.isfinite(v) else str(v))
                           for v in values) + "]"


def annotation_key(ds: Dataset, row: int) -> str:
    ann = ds.annotations
    if format_of(ds).has(Trait.DECLARED_IDS):
        return str(int(ann.id[row]))
    return str(int(ann.src_item[row]))


def image_name(ds: Dataset, image_row: int) -> str | None:
    if image_row < 0:
        return None
    images = ds.images
    return str(images.path[image_row] or images.file_name[image_row]) or None


def at_annotation(ds: Dataset, row: int, code: str, message: str, fix: Fix | None = None,
                  field_name: str | None = "bbox", data: dict | None = None) -> Finding:
    """A finding located at one annotation: its file, line, JSON pointer and source key."""
    ann = ds.annotations
    item = int(ann.src_item[row])
    pointer = format_of(ds).locate(ds, "annotations", item, field_name) if item >= 0 else None
    line = int(ann.src_line[row]) or None
    return Finding(code, message, file=ds.file_of(int(ann.src_file[row])), line=line, pointer=pointer,
                   image=image_name(ds, int(ann.image[row])), annotation=annotation_key(ds, row), fix=fix,
                   data=data or {"row": int(row)})


def at_annotations(ds: Dataset, rows: list[int], code: str, messages: list[str], fix: Fix | None | list[Fix | None],
                   field_name: str | None, data: list[dict]) -> list[Finding]:
    """``at_annotation`` for many rows at once (a rule that fires on every box): the columns are
    read as Python values once and the format looked up once, not per finding. ``fix`` is one
    for all, or one per row."""
    ann = ds.annotations
    if not rows:
        return []
    items = ann.src_item[rows].tolist()
    lines = ann.src_line[rows].tolist()
    files = [ds.file_of(i) for i in ann.src_file[rows].tolist()]
    images = _image_names(ds, ann.image[rows])
    fmt = format_of(ds)
    keys = annotation_keys(ds, rows)
    fixes = fix if isinstance(fix, list) else repeat(fix)
    return [Finding(code, message, file=file, line=line or None,
                    pointer=fmt.locate(ds, "annotations", item, field_name) if item >= 0 else None,
                    image=image, annotation=key, fix=one_fix, data=extra)
            for message, file, line, item, image, key, one_fix, extra
            in zip(messages, files, lines, items, images, keys, fixes, data)]


def annotation_keys(ds: Dataset, rows: list[int] | np.ndarray) -> list[str]:
    """``annotation_key`` of many rows."""
    ann = ds.annotations
    return list(map(str, (ann.id if format_of(ds).has(Trait.DECLARED_IDS) else ann.src_item)[rows].tolist()))


def _image_names(ds: Dataset, image_rows: np.ndarray) -> list[str | None]:
    """``image_name`` of each row, each distinct image named once."""
    distinct, which = np.unique(image_rows, return_inverse=True)
    names = [image_name(ds, int(r)) for r in distinct.tolist()]
    return [names[k] for k in which.ravel().tolist()]


def at_image(ds: Dataset, row: int, code: str, message: str, fix: Fix | None = None,
             field_name: str | None = None, data: dict | None = None) -> Finding:
    """A finding located at one image entry (its declaring file, or the image itself)."""
    images = ds.images
    file = ds.file_of(int(images.src_file[row]))
    item = int(images.src_item[row])
    pointer = format_of(ds).locate(ds, "images", item, field_name) if item >= 0 else None
    return Finding(code, message, file=file or image_name(ds, row), line=int(images.src_line[row]) or None,
                   pointer=pointer, image=image_name(ds, row), fix=fix, data=data or {"image_row": int(row)})


def at_category(ds: Dataset, index: int, code: str, message: str, fix: Fix | None = None) -> Finding:
    cats = ds.categories
    file = ds.file_of(int(cats.src_file[index])) if len(cats.src_file) > index else None
    pointer = format_of(ds).locate(ds, "categories", int(cats.src_item[index]), None) if file is not None else None
    line = int(cats.src_line[index]) if len(cats.src_line) > index else 0
    return Finding(code, message, file=file or class_list_file(ds), line=line or None, pointer=pointer, fix=fix,
                   data={"category": int(index)})


def class_list_file(ds: Dataset) -> str | None:
    """The file that declares the class list (data.yaml, obj.names, the COCO JSON), if any."""
    return format_of(ds).class_list_file(ds)


def reader_problems(ds: Dataset, code: str) -> Iterator[Finding]:
    """Findings the reader met while parsing (for rules that only the reader can see)."""
    return (p for p in ds.problems if p.code == code)


def reported_mask(ds: Dataset, code: str, section: str, field_name: str) -> np.ndarray:
    """bool mask over the ``section`` table ("annotations" or "images"): COCO entries whose
    ``field_name`` the reader already reported as ``code`` (e.g. F002 at ``/annotations/3/id``),
    so that a rule does not report the same defect a second time."""
    table = ds.annotations if section == "annotations" else ds.images
    mask = np.zeros(len(table), bool)
    prefix, suffix = f"/{section}/", f"/{field_name}"
    file_index = {name: i for i, name in enumerate(ds.files)}
    keys: set[tuple[int, int]] = set()
    for problem in reader_problems(ds, code):
        pointer = problem.pointer or ""
        middle = pointer[len(prefix):len(pointer) - len(suffix)]
        if pointer.startswith(prefix) and pointer.endswith(suffix) and middle.isdigit():
            keys.add((file_index.get(problem.file or "", -1), int(middle)))
    if keys:
        pairs = zip(table.src_file.tolist(), table.src_item.tolist())
        mask[:] = [pair in keys for pair in pairs]
    return mask


def unreadable_files(ds: Dataset) -> set[int]:
    """Indices into ``ds.files`` of files the reader could not parse (F001)."""
    unreadable = {p.file for p in reader_problems(ds, "F001")}
    if not unreadable:
        return set()
    return {i for i, name in enumerate(ds.files) if name in unreadable}


def box_columns(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    b = ds.annotations.boxes
    return b[:, 0], b[:, 1], b[:, 2], b[:, 3]


def image_sizes(ds: Dataset, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    """(W, H) of each annotation's image in the box's own units: 1.0 for normalised rows, NaN
    where the size is unknown or the annotation refers to no image (COCO dangling image_id),
    so that comparisons against it are False and bounds rules stay silent.

    Unlike indexing ``images.width[ann.image]`` directly, a row with ``image == -1`` does not
    borrow the size of the last image.
    """
    return ctx.memoized(ds, "image_sizes", (ds.annotations.image, ds.annotations.normalized, ds.images.width,
                                         ds.images.height), lambda: _image_sizes(ds))


def _image_sizes(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    ann = ds.annotations
    linked = (ann.image >= 0) & (ann.image < len(ds.images))
    w = np.full(len(ann), np.nan)
    h = np.full(len(ann), np.nan)
    w[linked] = ds.images.width[ann.image[linked]].astype(np.float64)
    h[linked] = ds.images.height[ann.image[linked]].astype(np.float64)
    w[w <= 0] = np.nan
    h[h <= 0] = np.nan
    w[ann.normalized] = 1.0
    h[ann.normalized] = 1.0
    return w, h


def finite_box_mask(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    ann = ds.annotations
    return ctx.memoized(ds, "finite_box_mask", (ann.has_box, ann.boxes, ann.kind),
                     lambda: ann.has_box & np.isfinite(ann.boxes).all(axis=1) & (ann.kind != ann.KIND_NONE))


def rows(mask: np.ndarray) -> Iterable[int]:
    return np.flatnonzero(mask).tolist()


def class_maps(ds: Dataset) -> dict[str, list[list]]:
    """Each declaring file's class list as [id, name] pairs (one entry for single-list formats)."""
    maps = ds.meta.get("class_maps")
    if maps:
        return maps
    cats = ds.categories
    return {class_list_file(ds) or "": [[int(i), n] for i, n in zip(cats.ids.tolist(), cats.names)]}


def class_pointer(ds: Dataset, file: str, position: int) -> str | None:
    return format_of(ds).locate(ds, "categories", position, "name")


def class_line(ds: Dataset, file: str, position: int) -> int | None:
    """1-based line of a class declaration in a single-list format (data.yaml, obj.names)."""
    if format_of(ds).has(Trait.SCHEMA) or ds.meta.get("class_maps"):
        return None
    lines = ds.categories.src_line
    return (int(lines[position]) or None) if 0 <= position < len(lines) else None


def segmentation_kinds(ds: Dataset, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    """(non-empty polygon list, RLE dict) masks of the segmentation column (B009 and F012 both
    need them), by C-level passes."""
    column = ds.annotations.segmentation
    return ctx.memoized(ds, "segmentation_kinds", (column,), lambda: _segmentation_kinds(column))


def _segmentation_kinds(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(column)
    types = set(map(type, column))
    if types <= {list}:  # the usual column: one pass less
        is_list, is_dict = np.ones(n, bool), np.zeros(n, bool)
    else:
        is_list = np.fromiter(map(isinstance, column, repeat(list)), dtype=bool, count=n)
        is_dict = np.fromiter(map(isinstance, column, repeat(dict)), dtype=bool, count=n)
    nonempty = np.fromiter(map(bool, column), dtype=bool, count=n)
    return is_list & nonempty, is_dict


def polygon_parts(ds: Dataset, ctx: RuleContext):  # -> detlint.geometry.polygons.Parts
    """Every polygon ring of the dataset as flat arrays (B010, B011 and F016 share them)."""
    from detlint.geometry.polygons import parts_of

    ann = ds.annotations
    return ctx.memoized(ds, "polygon_parts", (ann.segmentation, ann.kind), lambda: parts_of(ann.segmentation, ann.kind))
