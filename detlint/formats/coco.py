"""COCO object-detection JSON.

Layouts read:

- one JSON beside its images (``annotations.json`` + ``images/`` or the images next to it);
- ``annotations/instances_<split>.json`` with images in ``images/<split>/``, ``<split>/`` or
  ``<split>2017/``;
- Roboflow: ``<split>/_annotations.coco.json`` beside the split's images;
- several JSON files in one folder: each file is a split named after it.

``file_name`` may be bare or nested. Sparse category ids, annotations without ``bbox`` (kept as
annotations without geometry), RLE and polygon segmentation are all kept. A results list (a list
of detections, not a dataset) is refused with a one-line message.

Parsing uses orjson; a syntax error becomes a located F001 (line, column). JSON that only
Python's lenient parser accepts (bare ``NaN``, ``Infinity``, ``1e400``) is read anyway and
reported as F001 at the first offending token, so the non-finite values then show up as B004.

Columns are built in bulk from the parsed lists (one list comprehension per key, one numpy
conversion per column); items that break the fast path are checked one by one and reported as
F002 with jsonschema's message for that item only.
"""

from __future__ import annotations

import json
import operator
import os
import re
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.errors import NotADatasetError
from detlint.findings import Finding, json_pointer
from detlint.formats import coco_slices
from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.fileio import atomic_write_bytes, place_image, relpath, safe_relative
from detlint.resources import load_schema
from detlint.model import (ABSENT_INT, Annotations, Categories, Dataset, Images, concat_images)

NAME = "coco"

KNOWN_ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation")
KNOWN_IMAGE_KEYS = ("id", "file_name", "width", "height")
KNOWN_CATEGORY_KEYS = ("id", "name")
SECTIONS = ("images", "annotations", "categories")
_SNIFF_BYTES = 1 << 16
_SECTION_LIST = re.compile(rb'"(images|annotations)"\s*:\s*\[')
_SECTION_KEY = re.compile(rb'"(images|annotations)"\s*:\s*[^\[\s]')


# --------------------------------------------------------------------------- sniffing

def _looks_like_coco(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return 0
    stripped = head.lstrip()
    if stripped.startswith(b"["):
        return 1 if b"image_id" in head else 0
    if not stripped.startswith(b"{"):
        return 0
    if _SECTION_LIST.search(head):
        return 3
    return 1 if b'"categories"' in head and not _SECTION_KEY.search(head) else 0


def annotation_files(path: Path) -> list[Path]:
    """The COCO JSON files of a dataset folder (or the file itself)."""
    if path.is_file():
        return [path] if path.suffix.lower() == ".json" else []
    candidates: list[Path] = []
    for folder in (path, path / "annotations"):
        if folder.is_dir():
            candidates += sorted(p for p in folder.glob("*.json") if p.is_file())
    if not candidates:
        candidates = sorted(path.glob("*/_annotations.coco.json")) + sorted(path.glob("*/*.coco.json"))
    return [p for p in dict.fromkeys(candidates) if _looks_like_coco(p)]


def sniff(path: Path) -> int:
    return max((_looks_like_coco(p) for p in annotation_files(path)), default=0)


def dataset_root(path: Path) -> Path:
    if path.is_dir():
        return path
    parent = path.parent
    return parent.parent if parent.name == "annotations" else parent


SPLIT_WORDS = ("train", "val", "valid", "validation", "test", "trainval", "minival", "dev")


def _is_split_word(name: str) -> bool:
    return name.rstrip("0123456789") in SPLIT_WORDS


def split_name(json_path: Path, n_files: int) -> str:
    """The split a COCO file holds: ``train/_annotations.coco.json`` -> train,
    ``annotations/instances_val2017.json`` -> val2017, several loose files -> their stems."""
    if json_path.name.endswith(".coco.json"):
        if n_files > 1 or _is_split_word(json_path.parent.name):
            return json_path.parent.name
        return ""
    stem = json_path.stem
    suffix = stem.rsplit("_", 1)[-1]
    if _is_split_word(suffix) or json_path.parent.name == "annotations":
        return suffix
    return stem if n_files > 1 else ""


# --------------------------------------------------------------------------- parsing

def parse_json(data: bytes, file: str) -> tuple[Any, list[Finding]]:
    """orjson, then Python's lenient parser; problems become located F001 findings."""
    try:
        return orjson.loads(data), []
    except orjson.JSONDecodeError as strict_error:
        located = Finding("F001", f"invalid JSON: {strict_error.msg}", file=file,
                          line=strict_error.lineno, column=strict_error.colno)
    try:
        lenient = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        if isinstance(error, json.JSONDecodeError):
            located = Finding("F001", f"invalid JSON: {error.msg}", file=file, line=error.lineno,
                              column=error.colno)
        return None, [located]
    located.message = (f"not strict JSON ({located.message.removeprefix('invalid JSON: ')}): "
                       "Python's json reads it, orjson and most other tools refuse it")
    return lenient, [located]


def _problem(code: str, message: str, file: str, *pointer_parts: object, annotation: object = None) -> Finding:
    return Finding(code, message, file=file, pointer=json_pointer(*pointer_parts) if pointer_parts else None,
                   annotation=None if annotation is None else str(annotation))


def schema_messages(item: Any, definition: str) -> list[str]:
    """jsonschema's messages for one item against ``#/definitions/<definition>``."""
    import jsonschema

    schema = load_schema("coco.schema.json")
    sub = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    validator = jsonschema.Draft7Validator(sub)
    messages = []
    for error in sorted(validator.iter_errors(item), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path)
        messages.append(f"{where + ': ' if where else ''}{error.message}")
    return messages


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _int_column(values: list, file: str, section: str, key: str, problems: list[Finding],
                positions: list[int], default: int = -1, required: bool = True) -> np.ndarray:
    """int64 column; absent (when not required) or malformed values become ``default``;
    ``positions``: each value's item position in the section, for the findings' pointers."""
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    out = np.full(len(values), default, np.int64)
    for i, value in enumerate(values):
        if _is_int(value) and -(1 << 63) <= value < (1 << 63):
            out[i] = value
        elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            out[i] = int(value)  # 3.0 is an id everyone accepts; reported, not dropped
            problems.append(_problem("F002", f"{key} {value!r} is a float, not an integer", file,
                                     section, positions[i], key))
        elif value is not None or required:
            expected = "within the 64-bit range" if _is_int(value) else "expected an integer"
            problems.append(_problem("F002", f"{key} is {_describe(value)}, {expected}",
                                     file, section, positions[i], key))
    return out


def _float_column(values: list) -> np.ndarray:
    """float64 column; absent or non-numeric values become NaN (reported elsewhere)."""
    if set(map(type, values)) <= {int, float}:
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:
            pass
    return np.array([_to_float(v) for v in values], dtype=np.float64).reshape(len(values))


def _to_float(value: Any) -> float:
    """A JSON number as float: NaN for non-numbers, +-inf for integers beyond float range."""
    if not _is_number(value):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


def _flag_column(values: list, file: str, positions: list[int], problems: list[Finding]) -> np.ndarray:
    """int8 column of a 0/1 flag (``iscrowd``); absent -> ABSENT_INT, anything else is F002."""
    if set(map(type, values)) <= {int} and set(values) <= {0, 1}:
        return np.array(values, dtype=np.int8).reshape(len(values))
    out = np.full(len(values), ABSENT_INT, np.int8)
    for i, value in enumerate(values):
        if type(value) is int and value in (0, 1):
            out[i] = value
        elif value is not None:
            problems.append(_problem("F002", f"iscrowd is {_describe(value)}, expected 0 or 1", file,
                                     "annotations", positions[i], "iscrowd"))
    return out


def _describe(value: Any) -> str:
    if value is None:
        return "missing"
    try:
        text = repr(value) if isinstance(value, (int, float)) else orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


def _dict_items(items: Any, file: str, section: str, problems: list[Finding],
                start: int = 0) -> tuple[list[dict], list[int]]:
    """The dict entries of a section and their positions (``start``: the first item's); anything
    else is F002."""
    if items is None:
        return [], []
    if not isinstance(items, list):
        problems.append(_problem("F002", f"'{section}' is {_describe(items)}, expected a list", file, section))
        return [], []
    if set(map(type, items)) <= {dict}:
        return items, list(range(start, start + len(items)))
    kept, positions = [], []
    for i, item in enumerate(items, start):
        if type(item) is dict:
            kept.append(item)
            positions.append(i)
        else:
            problems.append(_problem("F002", f"{section} entry is {_describe(item)}, expected an object",
                                     file, section, i))
    return kept, positions


def _columns(items: list[dict], keys: tuple[str, ...]) -> tuple[dict[str, list], bool]:
    """Each key's values over all items (None where absent): a C-level pass per key when every
    item has the key (the common case), a ``dict.get`` pass otherwise. Also: whether every item
    has every key."""
    columns = {}
    complete = True
    for key in keys:
        try:
            columns[key] = list(map(operator.itemgetter(key), items))
        except KeyError:
            columns[key] = [item.get(key) for item in items]
            complete = False
    return columns, complete


def _extras(items: list[dict], known: tuple[str, ...], has_known: bool) -> np.ndarray:
    """Per-item dict of keys outside ``known`` (None where there are none), kept for round trips.
    ``has_known``: every item has every known key.

    Items of one file share a few key layouts: the layouts are classified once, not the items.
    """
    out = np.full(len(items), None, dtype=object)
    if not items:
        return out
    longest = max(map(len, items))
    if has_known and longest == len(known):
        return out  # every item has exactly the known keys
    if has_known and longest == min(map(len, items)) and len(set(map(tuple, items))) == 1:
        # one layout for all (e.g. every image has a "license"): the extra keys' values by
        # C-level passes, not a dict comprehension per item
        extra_keys = [k for k in items[0] if k not in known]
        try:
            values = [list(map(operator.itemgetter(k), items)) for k in extra_keys]
        except KeyError:
            values = None
        if values is not None:
            out[:] = [dict(zip(extra_keys, row)) for row in zip(*values)]
            return out
    layouts = list(map(tuple, items))
    with_extras = {layout for layout in set(layouts) if any(k not in known for k in layout)}
    if with_extras:
        for i, (item, layout) in enumerate(zip(items, layouts)):
            if layout in with_extras:
                out[i] = {k: v for k, v in item.items() if k not in known}
    return out


def _bbox_columns(values: list, file: str, positions: list[int], problems: list[Finding]) -> tuple[np.ndarray, np.ndarray]:
    """(raw xywh float64[N,4] with NaN where unusable, has_box bool[N])."""
    n = len(values)
    try:
        # the common case, checked and converted by C-level passes: every bbox is 4 numbers
        if n and set(map(len, values)) == {4} and set(map(type, chain.from_iterable(values))) <= {int, float}:
            raw = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * n).reshape(n, 4)
            return raw, np.ones(n, bool)
    except (TypeError, OverflowError):  # a bbox that is not a list, or an integer beyond float range
        pass
    raw = np.full((n, 4), np.nan)
    has_box = np.zeros(n, bool)
    for i, value in enumerate(values):
        if value is None:
            continue  # an annotation without a box (image-level label): kept, no geometry
        has_box[i] = True
        if isinstance(value, list) and len(value) == 4:
            raw[i] = [_to_float(v) for v in value]
            if all(_is_number(v) for v in value):
                continue
        for message in schema_messages({"bbox": value}, "bbox_holder") or [f"bbox {_describe(value)}"]:
            problems.append(_problem("F002", message, file, "annotations", positions[i], "bbox"))
    return raw, has_box


class _ImageFinder:
    """Finds image files by name under a few candidate folders, listing each folder once."""

    def __init__(self, root: Path):
        self.root = root
        self._listing: dict[Path, frozenset[str]] = {}
        self._lowered: dict[Path, dict[str, str]] = {}

    def _list(self, folder: Path) -> frozenset[str]:
        if folder not in self._listing:
            try:
                self._listing[folder] = frozenset(os.listdir(folder))
            except OSError:
                self._listing[folder] = frozenset()
        return self._listing[folder]

    def _lower(self, folder: Path) -> dict[str, str]:
        """Lower-cased name -> name, built only when a name is not found as written."""
        if folder not in self._lowered:
            self._lowered[folder] = {n.lower(): n for n in self._list(folder)}
        return self._lowered[folder]

    def _prefix(self, folder: Path) -> str:
        rel = relpath(folder, self.root)
        return "" if rel in ("", ".") else rel + "/"

    def find_all(self, names: list[str], folders: list[Path]) -> tuple[list[str], list[bool]]:
        """Path relative to the root ("" when not found) and found-only-by-case, per name.

        Bare names, the common case, are set lookups in each folder's listing; nested names
        go through :meth:`find`.
        """
        paths = [""] * len(names)
        by_case = [False] * len(names)
        pending = [i for i, name in enumerate(names) if name and "/" not in name and "\\" not in name]
        nested = [i for i, name in enumerate(names) if name and ("/" in name or "\\" in name)]
        for folder in folders:
            if not pending:
                break
            listing = self._list(folder)
            prefix = self._prefix(folder)
            still = []
            for i in pending:
                if names[i] in listing:
                    paths[i] = prefix + names[i]
                else:
                    still.append(i)
            pending = still
        for i in pending + nested:
            paths[i], by_case[i] = self.find(names[i], folders)
        return paths, by_case

    def find(self, name: str, folders: list[Path]) -> tuple[str, bool]:
        """(path relative to root or "", found only by ignoring case)."""
        rel = safe_relative(name)
        if rel is None:
            return "", False
        candidates = [rel] if "/" not in rel else [rel, rel.rsplit("/", 1)[1]]
        for ignore_case in (False, True):
            for folder in folders:
                for candidate in candidates:
                    sub, _, base = candidate.rpartition("/")
                    directory = folder / sub if sub else folder
                    if ignore_case:
                        real = self._lower(directory).get(base.lower())
                    else:
                        real = base if base in self._list(directory) else None
                    if real is not None:
                        return relpath(directory / real, self.root), ignore_case
        return "", False


def _image_folders(root: Path, json_path: Path, split: str) -> list[Path]:
    folders = [json_path.parent, root]
    for name in dict.fromkeys(filter(None, [split, split.removesuffix("2017")])):
        folders += [root / "images" / name, root / name, root / f"{name}2017", root / "images" / f"{name}2017"]
    folders.append(root / "images")
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def _read_file(json_path: Path, root: Path, split: str, finder: _ImageFinder,
               ds: Dataset) -> tuple[Images, Annotations, np.ndarray, list[tuple[int, str, dict, int]]]:
    file = relpath(json_path, root)
    file_index = ds.add_file(file)
    problems = ds.problems
    try:
        data_bytes = json_path.read_bytes()
    except OSError as error:
        problems.append(Finding("F001", f"cannot read file: {error.strerror or error}", file=file))
        return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []
    checkpoint = len(problems)
    job = _sliced_job(data_bytes, file, file_index)
    if job is not None:  # a big file: the annotations come slice by slice (coco_slices)
        document, slice_job, n_slices = job
        slice_job.release()  # the file's bytes and tree go before the helper's columns come in
        del job, data_bytes
        images, annotations, image_ids, categories = _sections(document, json_path, root, split, finder, ds,
                                                               file_index)
        del document
        sliced = _finish_sliced(slice_job, n_slices)
        if sliced is not None:
            parts, ids, slice_problems, count = sliced
            annotations.src_item += count  # the rest's annotations come after the sliced ones
            for problem in problems[checkpoint:]:
                _shifted(problem, count)
            problems += slice_problems
            return images, Annotations.concat([*parts, annotations]), np.concatenate([*ids, image_ids]), categories
        del problems[checkpoint:]  # a slice did not parse: read the whole file as usual
        ds.meta["coco"].pop(file, None)
        try:
            data_bytes = json_path.read_bytes()
        except OSError as error:
            problems.append(Finding("F001", f"cannot read file: {error.strerror or error}", file=file))
            return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []
    data, parse_problems = parse_json(data_bytes, file)
    del data_bytes
    problems += parse_problems
    return _sections(data, json_path, root, split, finder, ds, file_index)


def _sections(data: Any, json_path: Path, root: Path, split: str, finder: _ImageFinder, ds: Dataset,
              file_index: int, start: int = 0) -> tuple[Images, Annotations, np.ndarray, list[tuple[int, str, dict, int]]]:
    """The tables of one parsed file (``start``: the position of its first annotation item)."""
    file, problems = ds.files[file_index], ds.problems
    if data is None:
        return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []
    if isinstance(data, list):
        if data and all(isinstance(d, dict) and "score" in d for d in data[:100]):
            raise NotADatasetError(f"{file}: a COCO results list ({len(data)} detections with scores), "
                                   "not a dataset: pass the ground-truth annotation file")
        problems.append(_problem("F002", "top level is a list, expected an object with 'images', "
                                 "'annotations' and 'categories'", file, ""))
        return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []
    if not isinstance(data, dict):
        problems.append(_problem("F002", f"top level is {_describe(data)}, expected an object", file, ""))
        return Images.empty(0), Annotations.empty(0), np.zeros(0, np.int64), []
    for section in ("images", "annotations"):
        if section not in data:
            problems.append(_problem("F002", f"missing required key '{section}'", file, ""))
    ds.meta.setdefault("coco", {})[file] = {
        "split": split, "keys": list(data), "other": {k: v for k, v in data.items() if k not in SECTIONS}}
    categories = _categories(data.get("categories"), file, file_index, problems)
    images = _images(data.get("images"), root, json_path, split, file, file_index, finder, problems)
    annotations, image_ids = _annotations(data.get("annotations"), file, file_index, problems, start)
    return images, annotations, image_ids, categories


def _sliced_job(data: bytes, file: str, file_index: int) -> tuple[dict, Any, int] | None:
    """For a big file: (the document without the sliced annotations, the running slice job, how
    many slices); None for a small file or one that does not slice. This process builds its
    share of the slices before returning; a forked helper may still be building the rest."""
    if len(data) < coco_slices.MIN_BYTES:
        return None
    sliced = coco_slices.SlicedAnnotations(data)
    if not sliced.usable:
        return None

    def build(items: list) -> tuple[Annotations, np.ndarray, list[Finding], int]:
        found: list[Finding] = []
        ann, image_ids = _annotations(items, file, file_index, found)  # positions from 0: shifted later
        return ann, image_ids, found, len(items)

    job = coco_slices.SliceJob(sliced, build)
    document = sliced.rest()  # whole only if every slice parses: checked in _finish_sliced
    if document is None:
        job.cancel()
        return None
    job.run_here()
    return document, job, len(sliced.bounds)


def _finish_sliced(job: Any, n_slices: int
                   ) -> tuple[list[Annotations], list[np.ndarray], list[Finding], int] | None:
    """(tables, image ids, problems, item count) of all slices; None when one did not parse."""
    built = job.finish()
    if built is None or len(built) != n_slices:
        return None
    parts, ids, problems = [], [], []
    offset = 0
    for ann, image_ids, found, count in built:
        ann.src_item += offset
        problems += [_shifted(p, offset) for p in found]
        parts.append(ann)
        ids.append(image_ids)
        offset += count
    return parts, ids, problems, offset


def _shifted(problem: Finding, offset: int) -> Finding:
    """A slice's problem with its '/annotations/<i>/...' pointer moved to the file's position."""
    if offset and problem.pointer and problem.pointer.startswith("/annotations/"):
        head, _, rest = problem.pointer[len("/annotations/"):].partition("/")
        problem.pointer = f"/annotations/{int(head) + offset}" + (f"/{rest}" if rest else "")
    return problem


def _categories(items: Any, file: str, file_index: int, problems: list[Finding]) -> list[tuple[int, str, dict, int]]:
    """(id, name, extra, position) per category entry; -1 ids for malformed ones."""
    kept, positions = _dict_items(items, file, "categories", problems)
    out = []
    for item, position in zip(kept, positions):
        cat_id, name = item.get("id"), item.get("name")
        if not _is_int(cat_id) or not -(1 << 63) <= cat_id < (1 << 63):
            expected = "within the 64-bit range" if _is_int(cat_id) else "expected an integer"
            problems.append(_problem("F002", f"category id is {_describe(cat_id)}, {expected}",
                                     file, "categories", position, "id"))
            cat_id = -1
        if not isinstance(name, str):
            problems.append(_problem("F002", f"category name is {_describe(name)}, expected a string",
                                     file, "categories", position, "name"))
            name = str(name) if name is not None else f"category_{cat_id}"
        extra = {k: v for k, v in item.items() if k not in KNOWN_CATEGORY_KEYS}
        out.append((cat_id, name, extra, position))
    return out


def _images(items: Any, root: Path, json_path: Path, split: str, file: str, file_index: int,
            finder: _ImageFinder, problems: list[Finding]) -> Images:
    kept, positions = _dict_items(items, file, "images", problems)
    n = len(kept)
    images = Images.empty(n)
    columns, has_known = _columns(kept, KNOWN_IMAGE_KEYS)
    images.id = _int_column(columns["id"], file, "images", "id", problems, positions)
    names = list(columns["file_name"])
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            problems.append(_problem("F002", f"file_name is {_describe(name)}, expected a string",
                                     file, "images", positions[i], "file_name"))
            names[i] = ""
    images.file_name = np.array(names, dtype=object).reshape(n)
    for key in ("width", "height"):
        column = _float_column(columns[key])
        column[~np.isfinite(column) | (np.abs(column) >= 2**31)] = 0  # unusable: F011
        setattr(images, key, column.astype(np.int64))
    images.split = np.full(n, split, dtype=object)
    images.src_file = np.full(n, file_index, np.int32)
    images.src_item = np.array(positions, dtype=np.int32).reshape(n)
    images.extra = _extras(kept, KNOWN_IMAGE_KEYS, has_known)
    folders = _image_folders(root, json_path, split)
    paths, by_case = finder.find_all(names, folders)
    for i in np.flatnonzero(by_case).tolist():
        problems.append(Finding("F014", f"image '{names[i]}' exists only as '{paths[i]}' (case differs): "
                                "works on macOS/Windows, missing on Linux", file=file,
                                pointer=json_pointer("images", positions[i], "file_name"), image=paths[i]))
    images.path = np.array(paths, dtype=object).reshape(n)
    return images


def _annotations(items: Any, file: str, file_index: int, problems: list[Finding],
                 start: int = 0) -> tuple[Annotations, np.ndarray]:
    """The annotation table, and each annotation's image_id (linked to rows later); ``start``:
    the position of the first item in the file's annotations array."""
    kept, positions = _dict_items(items, file, "annotations", problems, start)
    n = len(kept)
    ann = Annotations.empty(n)
    columns, has_known = _columns(kept, KNOWN_ANNOTATION_KEYS)
    ann.id = _int_column(columns["id"], file, "annotations", "id", problems, positions)
    ann.src_item = np.array(positions, dtype=np.int32).reshape(n)
    ann.src_file = np.full(n, file_index, np.int32)
    ann.extra = _extras(kept, KNOWN_ANNOTATION_KEYS, has_known)
    image_ids = _int_column(columns["image_id"], file, "annotations", "image_id", problems, positions)
    ann.class_id = _int_column(columns["category_id"], file, "annotations", "category_id", problems,
                               positions)
    raw, has_box = _bbox_columns(columns["bbox"], file, positions, problems)
    ann.raw, ann.has_box = raw, has_box
    ann.boxes = np.column_stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]]) if n else np.zeros((0, 4))
    ann.kind = np.where(has_box, Annotations.KIND_BOX, Annotations.KIND_NONE).astype(np.uint8)
    ann.area = _float_column(columns["area"])
    ann.iscrowd = _flag_column(columns["iscrowd"], file, positions, problems)
    segmentation = np.empty(n, dtype=object)
    segmentation[:] = columns["segmentation"]
    ann.segmentation = segmentation
    return ann, image_ids


def lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values`` at the position of each query in ``keys`` (first occurrence), -1 where absent."""
    if not len(keys) or not len(queries):
        return np.full(len(queries), -1, np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(keys) - 1)
    found = sorted_keys[pos] == queries
    return np.where(found, values[order[pos]], -1)


def _merge_categories(per_file: list[list[tuple[int, str, dict, int]]], file_indices: list[int],
                      ds: Dataset) -> list[dict[int, int]]:
    """One category list for the dataset (by name, in id order of first appearance);
    returns per file a map from that file's category id to the global index."""
    names: list[str] = []
    ids: list[int] = []
    extras: list[dict] = []
    src: list[tuple[int, int]] = []
    index_of: dict[str, int] = {}
    maps: list[dict[int, int]] = []
    class_maps: dict[str, list[list]] = {}
    for cats, file_index in zip(per_file, file_indices):
        mapping: dict[int, int] = {}
        for cat_id, name, extra, position in sorted(cats, key=lambda c: c[0]):
            if name not in index_of:
                index_of[name] = len(names)
                names.append(name)
                ids.append(cat_id)
                extras.append(extra)
                src.append((file_index, position))
            mapping.setdefault(cat_id, index_of[name])
        maps.append(mapping)
        class_maps[ds.files[file_index]] = [[c[0], c[1]] for c in cats]
    ds.meta["class_maps"] = class_maps
    ds.categories = Categories(
        names=names, ids=np.array(ids, dtype=np.int64).reshape(len(names)), extra=extras,
        src_file=np.array([s[0] for s in src], dtype=np.int32).reshape(len(names)),
        src_line=np.zeros(len(names), np.int32),
        src_item=np.array([s[1] for s in src], dtype=np.int32).reshape(len(names)),
    )
    return maps


def read(path: Path, options: ReadOptions) -> Dataset:
    files = annotation_files(path)
    if not files:
        raise NotADatasetError(f"{path}: no COCO annotation JSON found")
    root = dataset_root(path)
    ds = Dataset(format=NAME, root=root, categories=Categories(), images=Images.empty(0),
                 annotations=Annotations.empty(0))
    finder = _ImageFinder(root)
    parts, per_file_categories, file_indices = [], [], []
    offset = 0
    for json_path in files:
        split = split_name(json_path, len(files))
        images, ann, image_ids, categories = _read_file(json_path, root, split, finder, ds)
        # image ids repeat across split files, so each file links to its own images
        rows = np.arange(offset, offset + len(images), dtype=np.int64)
        ann.image = lookup(images.id, rows, image_ids).astype(np.int32)
        parts.append((images, ann))
        per_file_categories.append(categories)
        file_indices.append(len(ds.files) - 1)
        offset += len(images)
    maps = _merge_categories(per_file_categories, file_indices, ds)
    for (_, ann), mapping in zip(parts, maps):
        keys = np.array(list(mapping), dtype=np.int64)
        values = np.array(list(mapping.values()), dtype=np.int64)
        ann.category = lookup(keys, values, ann.class_id).astype(np.int32)
    ds.images = concat_images([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    ds.annotations = Annotations.concat([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return ds


# --------------------------------------------------------------------------- writing

def _split_layout(split: str) -> tuple[str, str]:
    """(annotation file, image folder) relative to the destination root."""
    if not split:
        return "annotations.json", "images"
    return f"annotations/instances_{split}.json", f"images/{split}"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _xywh(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    ann = ds.annotations
    boxes = ann.boxes[rows]
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    if ds.format == NAME:
        # Keep the source's exact numbers where the box was not changed (lossless COCO -> COCO).
        raw = ann.raw[rows]
        same = np.all(np.isclose(xywh, raw, rtol=0, atol=1e-9) | (np.isnan(xywh) & np.isnan(raw)), axis=1)
        xywh[same] = raw[same]
    return xywh


def _category_ids(ds: Dataset) -> np.ndarray:
    ids = ds.categories.ids
    if ds.format == NAME and len(np.unique(ids)) == len(ids) and (ids >= 0).all():
        return ids
    return np.arange(1, len(ds.categories) + 1, dtype=np.int64)  # COCO ids start at 1


def _image_names(ds: Dataset, rows: np.ndarray, options: WriteOptions) -> list[str]:
    """Unique file names inside one split's image folder (nested names kept when safe)."""
    seen: set[str] = set()
    names = []
    for i in rows:
        source = ds.images.path[i] or ds.images.file_name[i]
        name = safe_relative(str(ds.images.file_name[i])) if ds.format == NAME else None
        name = name or os.path.basename(str(source)) or f"image_{i}.jpg"
        if name.lower() in seen:
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{i}{ext}"
            options.lose("image renamed to avoid a name collision", 1, name)
        seen.add(name.lower())
        names.append(name)
    return names


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    ann = ds.annotations
    category_ids = _category_ids(ds)
    categories = []
    for i, name in enumerate(ds.categories.names):
        entry = {"id": int(category_ids[i]), "name": name}
        entry.update(ds.categories.extra[i] if i < len(ds.categories.extra) else {})
        categories.append(entry)
    unknown = int((ann.category < 0).sum())
    options.lose("annotations of an unknown class", unknown)
    valid_image = ann.image >= 0
    options.lose("annotations that reference no image", int((~valid_image).sum()))
    for field_name in ("difficult", "truncated", "occluded"):
        options.lose(f"VOC '{field_name}' flag (COCO has no field for it; kept in 'attributes')",
                     int((getattr(ann, field_name) > 0).sum()))
    for split in ds.splits:
        _write_split(ds, dst, split, categories, category_ids, options)


def _write_split(ds: Dataset, dst: Path, split: str, categories: list[dict], category_ids: np.ndarray,
                 options: WriteOptions) -> None:
    ann, images = ds.annotations, ds.images
    json_rel, image_dir = _split_layout(split)
    image_rows = np.flatnonzero(images.split == split)
    names = _image_names(ds, image_rows, options)
    new_id = {int(row): k + 1 for k, row in enumerate(image_rows)}
    keep_ids = ds.format == NAME and len(np.unique(images.id[image_rows])) == len(image_rows)
    image_entries = []
    missing = 0
    for row, name in zip(image_rows, names):
        image_id = int(images.id[row]) if keep_ids else new_id[int(row)]
        new_id[int(row)] = image_id
        entry = {"id": image_id, "file_name": name, "width": int(images.width[row]),
                 "height": int(images.height[row])}
        if ds.format == NAME and images.extra[row]:
            entry.update(images.extra[row])
        image_entries.append(entry)
        source = ds.root / images.path[row] if images.path[row] else None
        if source is None or not place_image(source, dst / image_dir / name, options.link_images):
            missing += 1
    options.lose("image files missing (entries written, files not copied)", missing, split)
    rows = np.flatnonzero(np.isin(ann.image, image_rows) & (ann.category >= 0))
    xywh = _xywh(ds, rows)
    keep_ann_ids = ds.format == NAME and len(np.unique(ann.id[rows])) == len(rows) and (ann.id[rows] > 0).all()
    entries = _annotation_entries(ds, rows, xywh, category_ids, new_id, keep_ann_ids)
    document = {k: v for k, v in _other_keys(ds, split).items()}
    document.update({"images": image_entries, "annotations": entries, "categories": categories})
    atomic_write_bytes(dst / json_rel, orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))


def _other_keys(ds: Dataset, split: str) -> dict:
    for meta in ds.meta.get("coco", {}).values():
        if meta.get("split") == split:
            return dict(meta.get("other", {}))
    return {"info": {"description": "written by detlint"}, "licenses": []}


def _annotation_entries(ds: Dataset, rows: np.ndarray, xywh: np.ndarray, category_ids: np.ndarray,
                        image_ids: dict[int, int], keep_ids: bool) -> list[dict]:
    """The COCO annotation objects of ``rows``, built column by column: plain Python values
    from ``tolist()`` once per column, per-row work only for the rows that need it."""
    ann = ds.annotations
    n = len(rows)
    if not n:
        return []
    ids = ann.id[rows].tolist() if keep_ids else list(range(1, n + 1))
    known = np.array(sorted(image_ids), np.int64)
    new_ids = np.array([image_ids[int(r)] for r in known], np.int64)
    linked = new_ids[np.searchsorted(known, ann.image[rows])].tolist()
    classes = category_ids[ann.category[rows]].tolist()
    has_box = ann.has_box[rows].tolist()
    boxes = [[_number(v) for v in box] for box in xywh.tolist()]
    finite_box = (np.isfinite(xywh).all(axis=1) & ann.has_box[rows]).tolist()
    area = ann.area[rows]
    finite_area = np.isfinite(area).tolist()
    sizes = xywh[:, 2:4].tolist()
    areas = [_number(a) if fa else (_number(round(wh[0] * wh[1], 6)) if fb else None)
             for a, fa, wh, fb in zip(area.tolist(), finite_area, sizes, finite_box)]
    crowd = np.where(ann.iscrowd[rows] >= 0, ann.iscrowd[rows], 0).tolist()
    segmentations = ann.segmentation[rows].tolist()
    entries = []
    for k in range(n):
        entry: dict[str, Any] = {"id": ids[k], "image_id": linked[k], "category_id": classes[k]}
        if has_box[k]:
            entry["bbox"] = boxes[k]
        if areas[k] is not None:
            entry["area"] = areas[k]
        entry["iscrowd"] = crowd[k]
        entry["segmentation"] = segmentations[k] if segmentations[k] is not None else []
        entries.append(entry)
    _polygons_in_pixels(ds, rows, entries)
    _attributes(ds, rows, entries)
    return entries


def _polygons_in_pixels(ds: Dataset, rows: np.ndarray, entries: list[dict]) -> None:
    """YOLO polygon rows (normalised) as COCO pixel polygons."""
    ann = ds.annotations
    for k in np.flatnonzero(ann.kind[rows] == Annotations.KIND_POLYGON).tolist():
        row = int(rows[k])
        segmentation = ann.segmentation[row]
        if not isinstance(segmentation, list):
            continue
        w, h = float(ds.images.width[ann.image[row]]), float(ds.images.height[ann.image[row]])
        if not ann.normalized[row] and w > 0 and h > 0:
            points = np.asarray(segmentation, dtype=np.float64).reshape(-1, 2) * (w, h)
            entries[k]["segmentation"] = [[round(v, 3) for v in points.ravel().tolist()]]


_FLAGS = ("difficult", "truncated", "occluded")


def _attributes(ds: Dataset, rows: np.ndarray, entries: list[dict]) -> None:
    """Unknown keys (kept as they were from COCO, as ``attributes`` from other formats) and
    the VOC flags, for the rows that have any."""
    ann = ds.annotations
    extras = ann.extra[rows]
    flags = np.stack([getattr(ann, name)[rows] for name in _FLAGS], axis=1)
    has_extra = np.fromiter(map(bool, extras), bool, len(rows))
    for k in np.flatnonzero(has_extra | (flags >= 0).any(axis=1)).tolist():
        entry, extra = entries[k], extras[k]
        if extra:
            if ds.format == NAME:
                entry.update(extra)
            else:
                entry["attributes"] = {key: v for key, v in extra.items() if isinstance(v, (str, int, float, bool))}
        present = {name: int(flags[k, j]) for j, name in enumerate(_FLAGS) if flags[k, j] >= 0}
        if present:
            entry.setdefault("attributes", {}).update(present)


# --------------------------------------------------------------------------- transitional adapter
# Replaced by the detlint/formats/coco/ package's FORMAT object.
from detlint.formats.protocol import FormatBase as _FormatBase, Trait as _Trait  # noqa: E402


class _Adapter(_FormatBase):
    name = NAME
    title = "COCO"
    traits = frozenset({_Trait.DECLARED_IDS, _Trait.ID_REFERENCES, _Trait.DECLARED_SIZES, _Trait.CROWD_REGIONS, _Trait.DECLARED_AREAS, _Trait.SCHEMA, _Trait.NAMED_IMAGE_FILES, _Trait.CLASS_ID})

    def sniff(self, path):
        return sniff(path)

    def read(self, path, options):
        return read(path, options)

    def write(self, ds, dst, options):
        return write(ds, dst, options)

    def write_back(self, old, new):
        from detlint.formats import _writeback_coco

        return _writeback_coco.coco_changes(old, new)


    def claim(self, path):
        from detlint.formats.protocol import Claim

        return Claim.DOCUMENT if path.suffix.lower() == ".json" and sniff(path) > 0 else None

    def class_list_file(self, ds):
        return ds.files[0] if ds.files else None

    def locate(self, ds, section, item, key):
        if item is None:
            return json_pointer(section)
        return json_pointer(section, item, key) if key else json_pointer(section, item)


    def raw_from_boxes(self, ds, rows):
        from detlint.formats import _raw_boxes

        return _raw_boxes.coco(ds, rows)


FORMAT = _Adapter()
