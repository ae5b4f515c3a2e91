"""Building the Dataset from the split folders: label files read through the dataset's
``Boundary``, lines parsed, images paired by stem, sizes probed from the headers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError
from detlint.findings import Finding
from detlint.formats.kitti import NAME
from detlint.formats.kitti.layout import IMAGES, LABELS, Part, parts, root_of
from detlint.formats.kitti.parse import DONT_CARE, Lines, extras, flags, parse
from detlint.formats.probing import probe_sizes
from detlint.formats.protocol import ReadOptions
from detlint.model import Annotations, Categories, Dataset, Images


def _rel(part: Part, sub: str, name: str) -> str:
    return f"{part.folder}/{sub}/{name}" if part.folder else f"{sub}/{name}"


def _read_labels(root: Path, files: list[str], options: ReadOptions,
                 problems: list[Finding]) -> list[str | None]:
    boundary = options.boundary(root)

    def one(rel: str) -> str | None:
        text, problem, _ = fileio.read_text(os.path.join(root, rel), boundary, options.limits.label_bytes)
        if problem is not None:
            problems.append(Finding(problem.code, problem.message, file=rel, line=problem.line))
        return text

    return fileio.thread_map(one, files, options.workers, desc="labels", progress=options.progress)


def _images(root: Path, found: list[Part], problems: list[Finding]) -> tuple[Images, list[int]]:
    """One row per stem of each split (labels and images alike); the label file index of each
    row (-1 none), labels numbered in the order they are listed."""
    names, paths, splits, label_of = [], [], [], []
    label_count = 0
    for part in found:
        for stem in sorted(set(part.labels) | set(part.images)):
            image = part.images.get(stem)
            names.append(_rel(part, IMAGES, image) if image else _rel(part, IMAGES, stem))
            paths.append(_rel(part, IMAGES, image) if image else "")
            splits.append(part.split)
            if stem in part.labels:
                label_of.append(label_count)
                label_count += 1
                if image is None:
                    label = _rel(part, LABELS, part.labels[stem])
                    problems.append(Finding("I006", f"label file {label} has no image", file=label))
            else:
                label_of.append(-1)
    images = Images.empty(len(names))
    images.file_name[:] = names
    images.path[:] = paths
    images.split[:] = splits
    images.src_file[:] = np.array(label_of, np.int32)
    return images, label_of




def read(path: Path, options: ReadOptions) -> Dataset:
    """Read the KITTI dataset at ``path`` (the root, a split folder or its ``label_2``)."""
    root = root_of(Path(path))
    found = parts(root)
    if not any(p.labels or p.images for p in found):
        raise NotADatasetError(f"{path}: no KITTI label_2/ or image_2/ files found")
    problems: list[Finding] = []
    images, label_of = _images(root, found, problems)
    files = [_rel(part, LABELS, part.labels[stem]) for part in found
             for stem in sorted(set(part.labels) | set(part.images)) if stem in part.labels]
    lines = parse(_read_labels(root, files, options, problems))
    image_of_file = np.full(len(files), -1, np.int32)
    rows_with_label = np.flatnonzero(np.array(label_of, np.int64) >= 0)
    image_of_file[np.array(label_of, np.int64)[rows_with_label]] = rows_with_label
    problems += [Finding("F006", reason, file=files[f], line=line, annotation=str(line),
                         image=images.file_name[image_of_file[f]]) for f, line, reason in lines.malformed]
    probe_sizes(root, images, options)
    categories, category = _classes(lines.types, options.classes)
    return Dataset(format=NAME, root=root, categories=categories, images=images,
                   annotations=_annotations(lines, image_of_file, category), files=files, problems=problems,
                   meta={"layout": [p.folder for p in found]})


def _classes(types: list[str], configured: list[str] | None) -> tuple[Categories, np.ndarray]:
    """The class list (configured, else the types used, sorted; DontCare always in it) and
    each line's category (-1 unknown)."""
    names = list(configured) if configured is not None else sorted(set(types))
    if DONT_CARE in types and DONT_CARE not in names:
        names.append(DONT_CARE)
    index = {name: i for i, name in enumerate(names)}
    return Categories.build(names), np.array([index.get(t, -1) for t in types], np.int32)


def _annotations(lines: Lines, image_of_file: np.ndarray, category: np.ndarray) -> Annotations:
    n = len(lines.line)
    ann = Annotations.empty(n)
    values = lines.values
    ann.raw = values[:, 3:7].copy()
    ann.boxes = values[:, 3:7].copy()
    ann.image = image_of_file[lines.file]
    ann.category = category
    ann.class_id = category.astype(np.int64)
    dont_care = np.array([t == DONT_CARE for t in lines.types], bool)
    ann.iscrowd = dont_care.astype(np.int8)
    ann.truncated, ann.occluded = flags(values, dont_care)
    ann.extra = extras(values)
    for row in np.flatnonzero(category < 0).tolist():  # C001 names the class it does not know
        ann.extra[row]["name"] = lines.types[row]
    ann.src_file = lines.file
    ann.src_line = lines.line
    ann.src_item = lines.line
    return ann
