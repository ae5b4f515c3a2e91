"""Building the Dataset from the box CSVs, the class descriptions and the image folders."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError
from detlint.findings import Finding
from detlint.formats.openimages import NAME
from detlint.formats.openimages.layout import REQUIRED, box_files, class_file, image_folders, root_of, split_of
from detlint.formats.openimages.table import Table, parse
from detlint.formats.probing import probe_sizes
from detlint.formats.protocol import ReadOptions
from detlint.model import Annotations, Categories, Dataset, Images, concat_images

DEFAULTS = {"Source": "xclick", "Confidence": "1"}  # the common values, not kept per row


def _text(root: Path, rel: str, options: ReadOptions, problems: list[Finding]) -> str | None:
    text, problem, _ = fileio.read_text(os.path.join(root, rel), options.boundary(root), options.limits.document_bytes)
    if problem is not None:
        problems.append(Finding(problem.code, problem.message, file=rel, line=problem.line))
    return text


def _classes(root: Path, rel: str | None, options: ReadOptions,
             problems: list[Finding]) -> tuple[list[str], list[str], list[int]]:
    """The MIDs, display names and lines of the class descriptions (a header row skipped)."""
    text = _text(root, rel, options, problems) if rel else None
    mids, names, lines = [], [], []
    for number, row in enumerate(csv.reader(io.StringIO(text or "")), 1):
        if len(row) < 2 or (number == 1 and row[0].strip() == "LabelName"):
            continue
        mids.append(row[0].strip())
        names.append(row[1].strip())
        lines.append(number)
    return mids, names, lines


def _split_images(root: Path, split: str) -> dict[str, str]:
    """ImageID -> image path (relative, POSIX) of the split's image folders."""
    found: dict[str, str] = {}
    for folder in reversed(image_folders(root, split)):
        try:
            with os.scandir(root / folder) as entries:
                found.update({os.path.splitext(e.name)[0]: f"{folder}/{e.name}" for e in entries
                              if fileio.is_image(e.name) and not e.name.startswith(".")})
        except OSError:
            continue
    return found


def read(path: Path, options: ReadOptions) -> Dataset:
    """Read the Open Images dataset at ``path`` (its folder or one of its CSVs)."""
    root = root_of(Path(path))
    boxes = box_files(root)
    if not boxes:
        raise NotADatasetError(f"{path}: no Open Images *{'-annotations-bbox.csv'} found")
    problems: list[Finding] = []
    classes_rel = class_file(root, boxes)
    mids, names, class_lines = _classes(root, classes_rel, options, problems)
    files = boxes + ([classes_rel] if classes_rel else [])
    images_parts, ann_parts = [], []
    offset = 0
    for index, rel in enumerate(boxes):
        table = _table(root, rel, options, problems)
        split = split_of(rel)
        images, image_of_row = _images(root, split, table, index)
        problems += [Finding("F006", reason, file=rel, line=line, annotation=str(line)) for line, reason in
                     table.malformed]
        ann_parts.append(_annotations(table, image_of_row + offset, index, mids))
        images_parts.append(images)
        offset += len(images)
    images = concat_images(images_parts)
    probe_sizes(root, images, options)
    annotations = Annotations.concat(ann_parts)
    _to_pixels(annotations, images)
    categories = Categories.build(names, extra=[{"mid": m} for m in mids],
                                  src_file=files.index(classes_rel) if classes_rel else -1, lines=class_lines)
    return Dataset(format=NAME, root=root, categories=categories, images=images, annotations=annotations,
                   files=files, problems=problems, meta={"class_file": classes_rel})


def _table(root: Path, rel: str, options: ReadOptions, problems: list[Finding]) -> Table:
    text = _text(root, rel, options, problems) or ""
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    missing = [c for c in REQUIRED if c not in {h.strip() for h in header}]
    if missing and text:
        problems.append(Finding("F001", f"CSV header lacks the column{'s' * (len(missing) > 1)} "
                                f"{', '.join(missing)} of an Open Images box file; no box read", file=rel, line=1))
    return parse("" if missing else text, header)


def _images(root: Path, split: str, table: Table, file_index: int) -> tuple[Images, np.ndarray]:
    """The split's images (the ImageIDs of its rows, first seen first, then the image files no
    row names) and the image row of each box."""
    ids, first, inverse = np.unique(table.texts["ImageID"].astype(str), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    named = ids[order].tolist()
    on_disk = _split_images(root, split)
    unnamed = sorted(set(on_disk) - set(named))
    every = named + unnamed
    images = Images.empty(len(every))
    images.file_name[:] = [on_disk.get(i, f"{split}/{i}") for i in every]
    images.path[:] = [on_disk.get(i, "") for i in every]
    images.split[:] = split
    images.src_file[: len(named)] = file_index
    images.src_line[: len(named)] = table.line[first[order]] if len(named) else []
    images.extra[:] = [{"image_id": i} for i in every]
    return images, rank[inverse].astype(np.int32)


def _annotations(table: Table, image_rows: np.ndarray, file_index: int, mids: list[str]) -> Annotations:
    n = len(table.line)
    ann = Annotations.empty(n)
    index = {m: i for i, m in enumerate(mids)}
    labels = table.texts["LabelName"].tolist()
    ann.category = np.array([index.get(m, -1) for m in labels], np.int32)
    ann.class_id = ann.category.astype(np.int64)
    ann.image = image_rows.astype(np.int32)
    ann.raw = table.raw
    ann.boxes = table.raw.copy()
    ann.normalized = np.ones(n, bool)
    ann.iscrowd = table.flags["IsGroupOf"]
    ann.occluded = table.flags["IsOccluded"]
    ann.truncated = table.flags["IsTruncated"]
    ann.extra = _extras(table, labels, ann.category)
    ann.src_file = np.full(n, file_index, np.int32)
    ann.src_line = table.line
    ann.src_item = table.line
    return ann


def _extras(table: Table, labels: list[str], category: np.ndarray) -> np.ndarray:
    """``extra`` only for rows that differ from the defaults (most rows keep None)."""
    n = len(labels)
    out = np.full(n, None, object)
    source, confidence = table.texts["Source"], table.texts["Confidence"]
    depiction, inside = table.flags["IsDepiction"], table.flags["IsInside"]
    special = ((source != DEFAULTS["Source"]) | (confidence != DEFAULTS["Confidence"]) | (depiction != 0)
               | (inside != 0) | (category < 0))
    for row in np.flatnonzero(special).tolist():
        extra = {"source": source[row], "confidence": confidence[row], "is_depiction": int(depiction[row]),
                 "is_inside": int(inside[row])}
        if category[row] < 0:
            extra["name"] = labels[row]  # C001 names the MID it does not know
        out[row] = {k: v for k, v in extra.items() if v is not None}
    return out




def _to_pixels(ann: Annotations, images: Images) -> None:
    """Pixel boxes where the image size is known; the rest stay normalised."""
    if not len(ann):
        return
    w = images.width[ann.image].astype(np.float64)
    h = images.height[ann.image].astype(np.float64)
    known = (w > 0) & (h > 0)
    ann.boxes[known] = ann.raw[known] * np.stack([w, h, w, h], axis=1)[known]
    ann.normalized = ~known
