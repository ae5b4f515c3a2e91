"""The tables of one parsed COCO document: its categories, images (with their files found on
disk) and annotations, and what else the document holds (kept for round trips)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detlint.errors import NotADatasetError
from detlint.findings import Finding, json_pointer
from detlint.formats.coco.columns import (
    bbox_columns,
    dict_items,
    extras,
    flag_column,
    float_column,
    int_column,
    is_int,
    key_columns,
    segmentation_column,
)
from detlint.formats.coco.finder import ImageFinder
from detlint.formats.coco.layout import NAME
from detlint.formats.coco.parse import describe, problem
from detlint.model import Annotations, Dataset, Images
from detlint.safetext import counted

KNOWN_ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation")
KNOWN_IMAGE_KEYS = ("id", "file_name", "width", "height")
KNOWN_CATEGORY_KEYS = ("id", "name")
SECTIONS = ("images", "annotations", "categories")

Category = tuple[int, str, dict, int]  # (id, name, unknown keys, position in the file)
Tables = tuple[Images, Annotations, np.ndarray, list[Category]]  # ... and each annotation's image_id


def empty_tables() -> Tables:
    return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []


def document_tables(data: Any, json_path: Path, root: Path, split: str, finder: ImageFinder, ds: Dataset,
                    file_index: int, start: int = 0) -> Tables:
    """The tables of one parsed file (``start``: the position of its first annotation item)."""
    file, problems = ds.files[file_index], ds.problems
    if not _is_document(data, file, problems):
        return empty_tables()
    for section in ("images", "annotations"):
        if section not in data:
            problems.append(problem("F002", f"missing required key '{section}'", file, ""))
    ds.meta.setdefault(NAME, {})[file] = {
        "split": split, "keys": list(data), "other": {k: v for k, v in data.items() if k not in SECTIONS}}
    categories = category_entries(data.get("categories"), file, file_index, problems)
    folders = finder.folders(json_path, split)
    ds.image_folders += [finder.shown(folder) for folder in folders]  # for I001: where they were looked for
    images = image_table(data.get("images"), folders, split, file, file_index, finder, problems)
    annotations, image_ids = annotation_table(data.get("annotations"), file, file_index, problems, start)
    return images, annotations, image_ids, categories


def _is_document(data: Any, file: str, problems: list[Finding]) -> bool:
    """Whether the top level is an object; a results list (detections with scores) is refused."""
    if data is None:
        return False
    if isinstance(data, list):
        if data and all(isinstance(d, dict) and "score" in d for d in data[:100]):
            raise NotADatasetError(f"{file}: a COCO results list ({counted(len(data), 'detection')} with scores), "
                                   "not a dataset: check it against its dataset with 'detlint check DATA --predictions "
                                   f"{file}'")
        problems.append(problem("F002", "top level is a list, expected an object with 'images', "
                                "'annotations' and 'categories'", file, ""))
        return False
    if not isinstance(data, dict):
        problems.append(problem("F002", f"top level is {describe(data)}, expected an object", file, ""))
        return False
    return True


def category_entries(items: Any, file: str, file_index: int, problems: list[Finding]) -> list[Category]:
    """(id, name, extra, position) per category entry; -1 ids for malformed ones."""
    kept, positions = dict_items(items, file, "categories", problems)
    out = []
    for item, position in zip(kept, positions):
        cat_id, name = item.get("id"), item.get("name")
        if not is_int(cat_id) or not -(1 << 63) <= cat_id < (1 << 63):
            expected = "within the 64-bit range" if is_int(cat_id) else "expected an integer"
            problems.append(problem("F002", f"category id is {describe(cat_id)}, {expected}",
                                    file, "categories", position, "id"))
            cat_id = -1
        if not isinstance(name, str):
            problems.append(problem("F002", f"category name is {describe(name)}, expected a string",
                                    file, "categories", position, "name"))
            name = str(name) if name is not None else f"category_{cat_id}"
        extra = {k: v for k, v in item.items() if k not in KNOWN_CATEGORY_KEYS}
        out.append((cat_id, name, extra, position))
    return out


def image_table(items: Any, folders: list[Path], split: str, file: str, file_index: int,
                finder: ImageFinder, problems: list[Finding]) -> Images:
    kept, positions = dict_items(items, file, "images", problems)
    n = len(kept)
    images = Images.empty(n)
    columns, has_known = key_columns(kept, KNOWN_IMAGE_KEYS)
    images.id = int_column(columns["id"], file, "images", "id", problems, positions)
    names = list(columns["file_name"])
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            problems.append(problem("F002", f"file_name is {describe(name)}, expected a string",
                                    file, "images", positions[i], "file_name"))
            names[i] = ""
    images.file_name = np.array(names, dtype=object).reshape(n)
    for key in ("width", "height"):
        column = float_column(columns[key])
        column[~np.isfinite(column) | (np.abs(column) >= 2**31)] = 0  # unusable: F011
        setattr(images, key, column.astype(np.int64))
    images.split = np.full(n, split, dtype=object)
    images.src_file = np.full(n, file_index, np.int32)
    images.src_item = np.array(positions, dtype=np.int32).reshape(n)
    images.extra = extras(kept, KNOWN_IMAGE_KEYS, has_known)
    paths, by_case = finder.find_all(names, finder.ranked(names, folders))
    for i in np.flatnonzero(by_case).tolist():
        problems.append(Finding("F014", f"image '{names[i]}' exists only as '{paths[i]}' (case differs): "
                                "works on macOS/Windows, missing on Linux", file=file,
                                pointer=json_pointer("images", positions[i], "file_name"), image=paths[i]))
    images.path = np.array(paths, dtype=object).reshape(n)
    return images


def annotation_table(items: Any, file: str, file_index: int, problems: list[Finding],
                     start: int = 0) -> tuple[Annotations, np.ndarray]:
    """The annotation table, and each annotation's image_id (linked to rows later); ``start``:
    the position of the first item in the file's annotations array."""
    kept, positions = dict_items(items, file, "annotations", problems, start)
    columns, has_known = key_columns(kept, KNOWN_ANNOTATION_KEYS)
    extra = extras(kept, KNOWN_ANNOTATION_KEYS, has_known)
    return annotation_columns(columns, extra, positions, lambda i: "segmentation" in kept[i],
                              file, file_index, problems)


def typed_annotation_table(chunk: bytes, file: str, file_index: int,
                           problems: list[Finding]) -> tuple[Annotations, np.ndarray] | None:
    """:func:`annotation_table` of a JSON array of annotations decoded typed (:mod:`.typed`,
    positions from 0), or None when one annotation is not of the well-formed kind."""
    from detlint.formats.coco import typed  # msgspec: imported when a COCO file is read

    items = typed.decode_items(chunk)
    found = typed.key_columns(items) if items is not None else None
    if found is None:
        return None
    columns, has_segmentation = found
    n = len(items)
    del items
    return annotation_columns(columns, columns.pop("extra"), np.arange(n),
                              lambda i: bool(has_segmentation[i]), file, file_index, problems)


def annotation_columns(columns: dict[str, Any], extra: np.ndarray, positions: Sequence[int],
                       has_segmentation: Callable[[int], bool], file: str, file_index: int,
                       problems: list[Finding]) -> tuple[Annotations, np.ndarray]:
    """The table from each known key's values (None where absent), or its column where the
    typed decode made one (nothing left to check); ``has_segmentation(i)``: whether item ``i``
    has the key (absent is fine, ``null`` is not)."""
    n = len(extra)
    ann = Annotations.empty(n)
    ann.id = _ints(columns["id"], file, "id", problems, positions)
    ann.src_item = np.array(positions, dtype=np.int32).reshape(n)
    ann.src_file = np.full(n, file_index, np.int32)
    ann.extra = extra
    image_ids = _ints(columns["image_id"], file, "image_id", problems, positions)
    ann.class_id = _ints(columns["category_id"], file, "category_id", problems, positions)
    boxes = columns["bbox"]
    raw, has_box = ((boxes, np.ones(n, bool)) if isinstance(boxes, np.ndarray)
                    else bbox_columns(boxes, file, positions, problems))
    ann.raw, ann.has_box = raw, has_box
    with np.errstate(over="ignore"):  # x + w past 1.8e308 is inf, which B rules report; no RuntimeWarning
        ann.boxes = (np.column_stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]]) if n
                     else np.zeros((0, 4)))
    ann.kind = np.where(has_box, Annotations.KIND_BOX, Annotations.KIND_NONE).astype(np.uint8)
    area = columns["area"]
    ann.area = area if isinstance(area, np.ndarray) else float_column(area)
    iscrowd = columns["iscrowd"]
    ann.iscrowd = iscrowd if isinstance(iscrowd, np.ndarray) else flag_column(iscrowd, file, positions, problems)
    ann.segmentation = segmentation_column(columns["segmentation"], has_segmentation, file, positions, problems)
    return ann, image_ids


def _ints(values: np.ndarray | list, file: str, key: str, problems: list[Finding],
          positions: Sequence[int]) -> np.ndarray:
    """An annotation key's int64 column: an array already typed, or checked item by item."""
    if isinstance(values, np.ndarray):
        return values
    return int_column(values, file, "annotations", key, problems, positions)
