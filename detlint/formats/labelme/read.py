"""Building the :class:`~detlint.model.Dataset` of a labelme folder (or one file).

One image row per JSON that is a labelme document, one annotation row per object
(:mod:`.shapes`). The image is found from ``imagePath``, relative to the JSON's folder
(backslashes read as ``/``; ``../images/a.jpg`` is fine while it stays inside the root); an
``imagePath`` that is absolute, leaves the root, or is a symbolic link out of it is F008 (never
opened), and then, as when the named file is missing, the image beside the JSON with the same
stem is taken (``a.json`` -> ``a.jpg``). ``imageHeight``/``imageWidth`` are the declared sizes
(I003 compares them with the image). The class list is the configured one (a label not in it is
category -1: C001), else every label used, sorted.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.boundary import Boundary, within
from detlint.errors import NotADatasetError, UsageError
from detlint.findings import Finding
from detlint.formats.labelme.layout import NAME, json_files, split_of
from detlint.formats.labelme.parse import Parsed, parse
from detlint.formats.labelme.shapes import Rows, file_rows
from detlint.formats.protocol import ReadOptions
from detlint.model import Annotations, Categories, Dataset, Images


def read(path: Path, options: ReadOptions) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if options.image_root is not None:  # imagePath is relative to each JSON: no second folder to bound
        raise UsageError("--image-root: labelme's imagePath is relative to its JSON file; keep the images "
                         "inside the dataset folder")
    root = path.parent if path.is_file() else path
    files = [os.path.abspath(path)] if path.is_file() else json_files(Path(os.path.abspath(root)))
    if not files:
        raise NotADatasetError(f"{path}: no labelme annotation files (*.json) found")
    boundary = options.boundary(root)
    ds = Dataset(format=NAME, root=root, categories=Categories.build([]), images=Images.empty(0),
                 annotations=Annotations.empty(0))
    ds.files = [_relative(f, os.path.abspath(root)) for f in files]
    parsed = [_parse_file(f, rel, boundary, options, ds.problems) for f, rel in zip(files, ds.files)]
    ours = [i for i, p in enumerate(parsed) if not p.foreign]  # configs, reports: not annotation files
    if not ours:
        raise NotADatasetError(f"{path}: no labelme annotation files (JSON with \"shapes\") found")
    ds.files, parsed = [ds.files[i] for i in ours], [parsed[i] for i in ours]
    kept = [i for i, p in enumerate(parsed) if not p.failed]
    ds.images = _images(ds, parsed, kept, boundary)
    ds.categories, ds.annotations = _annotations(ds, parsed, kept, options)
    return ds


def _parse_file(path: str, rel: str, boundary: Boundary, options: ReadOptions,
                problems: list[Finding]) -> Parsed:
    data = fileio.read_bytes(path, boundary, options.limits.label_bytes)
    if isinstance(data, Finding):
        data.file = rel
        problems.append(data)
        return Parsed(failed=True)
    parsed = parse(data)
    for problem in parsed.problems:
        problem.file = rel
    problems += parsed.problems
    return parsed


def _relative(path: str, root: str) -> str:
    """``path`` (absolute, normalised, under ``root``) relative to it, POSIX: by string prefix,
    not pathlib (two per image at 100k images)."""
    prefix = os.path.join(root, "")
    return (path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, root)).replace(os.sep, "/")


class _Folders:
    """Each folder's file names, listed once (100k JSONs beside their images: one listing per
    folder, not a stat per candidate)."""

    def __init__(self) -> None:
        self._names: dict[str, frozenset[str]] = {}

    def names(self, folder: str) -> frozenset[str]:
        found = self._names.get(folder)
        if found is None:
            try:
                found = frozenset(os.listdir(folder))
            except OSError:
                found = frozenset()
            self._names[folder] = found
        return found


def _images(ds: Dataset, parsed: list[Parsed], kept: list[int], boundary: Boundary) -> Images:
    images = Images.empty(len(kept))
    folders = _Folders()
    root = os.path.abspath(ds.root)
    for row, file_index in enumerate(kept):
        result, rel = parsed[file_index], ds.files[file_index]
        images.file_name[row] = result.image_path
        images.path[row] = _find_image(result, rel, root, boundary, folders, ds.problems)
        images.width[row], images.height[row] = result.width, result.height
        images.split[row] = split_of(rel)
        images.extra[row] = result.image_extra or None
    images.src_file[:] = np.asarray(kept, np.int32)
    images.src_item[:] = 0  # the document root: locate() makes it the pointer "" (+ /key)
    return images


def _find_image(result: Parsed, rel: str, root: str, boundary: Boundary, folders: _Folders,
                problems: list[Finding]) -> str:
    """The image's path relative to the root ("" when none is found): ``imagePath`` when it is
    safe and there, else the image beside the JSON with its stem."""
    json_folder = os.path.dirname(os.path.join(root, rel))
    declared = result.image_path.replace("\\", "/")
    if declared:
        target = os.path.normpath(os.path.join(json_folder, declared))
        if declared.startswith("/") or (len(declared) > 1 and declared[1] == ":") or not within(target, root):
            problems.append(Finding("F008", f"imagePath {result.image_path!r} is absolute or leaves the dataset "
                                    "root; not read (looking for the image beside the JSON instead)",
                                    file=rel, pointer="/imagePath"))
        elif os.path.basename(target) in folders.names(os.path.dirname(target)):
            if boundary.contains(target):
                return _relative(target, root)
            problems.append(Finding("F008", f"imagePath {result.image_path!r} is a symbolic link (or in a "
                                    "folder link) leading out of the dataset root; not read", file=rel,
                                    pointer="/imagePath"))
    return _beside(rel, json_folder, root, boundary, folders)


def _beside(rel: str, json_folder: str, root: str, boundary: Boundary, folders: _Folders) -> str:
    stem = os.path.splitext(os.path.basename(rel))[0]
    for name in sorted(folders.names(json_folder)):
        if os.path.splitext(name)[0] == stem and fileio.is_image(name):
            candidate = os.path.join(json_folder, name)
            if boundary.contains(candidate):
                return _relative(candidate, root)
    return ""


def _annotations(ds: Dataset, parsed: list[Parsed], kept: list[int],
                 options: ReadOptions) -> tuple[Categories, Annotations]:
    rows = Rows()
    counts = [file_rows(parsed[i], rows) for i in kept]
    labels = rows.labels
    names = list(options.classes) if options.classes is not None else sorted(set(labels))
    index_of = {name: i for i, name in enumerate(names)}
    n = len(labels)
    ann = Annotations.empty(n)
    if n:
        ann.category = np.fromiter((index_of.get(label, -1) for label in labels), np.int32, n)
        ann.class_id = ann.category.astype(np.int64)
        ann.boxes = np.array(rows.boxes, np.float64).reshape(n, 4)
        ann.raw = np.array(rows.raw, np.float64).reshape(n, 4)
        ann.kind = np.array(rows.kind, np.uint8)
        ann.has_box = np.array(rows.has_box, bool)
        ann.segmentation = np.fromiter(rows.segmentation, object, n)  # no nested-list broadcast
        extras = rows.extra
        for row in np.flatnonzero(ann.category < 0).tolist():  # the label an unknown class had
            extras[row] = {**(extras[row] or {}), "label": labels[row]}
        ann.extra = np.fromiter(extras, object, n)
        ann.image = np.repeat(np.arange(len(kept), dtype=np.int32), counts)
        ann.src_file = np.repeat(np.asarray(kept, np.int32), counts)
        ann.src_item = np.asarray(rows.item, np.int32)
    return Categories.build(names), ann
