"""What the trainer adapters share: per-image grouping of annotation rows, reader problems mapped
to the images they spoil, and the rows as a YOLO label file would hold them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from detlint.findings import Finding
from detlint.formats import format_of
from detlint.formats.protocol import Trait
from detlint.model import Annotations, Dataset, cxcywh_of
from detlint.rules._helpers import image_name


def label_rows(ds: Dataset) -> bool:
    """The dataset's files are YOLO-style label rows (the trainer reads them as written)."""
    return Trait.LABEL_ROWS in format_of(ds).traits


def real_images(ds: Dataset) -> np.ndarray:
    """Rows of the image entries that have a file (orphan labels and missing images are not listed
    by a trainer that globs its image folder)."""
    return np.flatnonzero(ds.images.path.astype(str) != "")


def boxes_lost(ds: Dataset, image_rows: Iterable[int]) -> dict[int, int]:
    """Annotation count per image row, for "N boxes lost"."""
    counts = np.bincount(ds.annotations.image[ds.annotations.image >= 0], minlength=len(ds.images))
    return {int(r): int(counts[r]) for r in image_rows}


def images_with_problems(ds: Dataset, findings: Sequence[Finding], codes: set[str]) -> dict[int, str]:
    """Image row -> the first problem (reader or rule finding with a code in ``codes``) about its
    label file or the image itself, as ``"CODE message (file:line)"``."""
    by_file: dict[str, list[int]] = {}
    for row in range(len(ds.images)):
        label = ds.file_of(int(ds.images.src_file[row]))
        if label is not None:
            by_file.setdefault(label, []).append(row)
    by_image = {name: row for row in range(len(ds.images)) if (name := image_name(ds, row))}
    found: dict[int, str] = {}
    for problem in [*ds.problems, *findings]:
        if problem.code not in codes:
            continue
        where = f" ({problem.file}:{problem.line})" if problem.line else f" ({problem.file})"
        # a finding about one image names it; one about a label file (F006, F001) names the file
        rows = [by_image[problem.image]] if problem.image in by_image else by_file.get(problem.file or "", [])
        for row in rows:
            found.setdefault(row, f"{problem.code} {problem.message}{where}")
    return found


def yolo_values(ds: Dataset) -> np.ndarray:
    """``float32[N, 4]`` ``cx cy w h`` of every row as the trainer reads it: the label file's own
    numbers for label rows, else normalised by the image size as ``detlint convert --to yolo``
    writes them (NaN where the image size is unknown)."""
    ann = ds.annotations
    if label_rows(ds):
        return ann.raw.astype(np.float32)
    width, height = ds.image_size_per_annotation()
    with np.errstate(invalid="ignore", divide="ignore"):
        values = cxcywh_of(ann.boxes) / np.column_stack([width, height, width, height])
    return values.astype(np.float32)


def geometry_rows(ds: Dataset) -> np.ndarray:
    """Rows with a box or polygon linked to an image (box-less COCO annotations hold nothing)."""
    ann = ds.annotations
    return (ann.kind != Annotations.KIND_NONE) & ann.has_box & (ann.image >= 0)


def first_per_image(image: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    """Image row -> the first annotation row in ``mask`` (the row a message names)."""
    rows = np.flatnonzero(mask)
    images, first = np.unique(image[rows], return_index=True)
    return {int(i): int(rows[f]) for i, f in zip(images, first)}


def where(ds: Dataset, row: int) -> str:
    """``file:line`` of an annotation row (or its file alone)."""
    file = ds.file_of(int(ds.annotations.src_file[row])) or "?"
    line = int(ds.annotations.src_line[row])
    return f"{file}:{line}" if line else file


def box_rows(ds: Dataset) -> np.ndarray:
    """Mask of rows a COCO-style trainer reads as a box (box-less annotations are skipped)."""
    return geometry_rows(ds)


def crowd(ds: Dataset) -> np.ndarray:
    """Mask of crowd rows (``iscrowd`` 1)."""
    return ds.annotations.iscrowd == 1


def unknown_category(ds: Dataset) -> np.ndarray:
    """Mask of linked rows whose category is not in the class list."""
    return (ds.annotations.image >= 0) & (ds.annotations.category < 0)


def sized(ds: Dataset) -> np.ndarray:
    """Mask of rows whose image has a known size (clipping and overlap mean nothing without it)."""
    img = np.maximum(ds.annotations.image, 0)
    return (ds.images.width[img] > 0) & (ds.images.height[img] > 0)


def repeated_id(ds: Dataset) -> int | None:
    """The first linked annotation row whose declared id an earlier linked row of the same file
    already has (COCO loaders assert the ids of one JSON are unique); None when unique or the
    format has no ids."""
    if not format_of(ds).has(Trait.DECLARED_IDS):
        return None
    rows = np.flatnonzero(ds.annotations.image >= 0)
    keys = np.column_stack([ds.annotations.src_file[rows], ds.annotations.id[rows]])
    _, first = np.unique(keys, axis=0, return_index=True)
    later = np.setdiff1d(np.arange(len(rows)), first)
    return int(rows[later.min()]) if len(later) else None
