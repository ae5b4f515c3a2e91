"""Reading a COCO dataset: each annotation file parsed whole, or, when over one slice, its annotations
array slice by slice (:mod:`.slices`) while the rest of the document is built; then the files
joined into one :class:`~detlint.model.Dataset`.

Memory matters on a big file: the file's bytes and its parsed tree are dropped as soon as the
columns no longer need them, before the helper's slices come in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.boundary import Boundary
from detlint.errors import NotADatasetError
from detlint.fileio import read_bytes, relpath
from detlint.findings import Finding
from detlint.formats.coco import slices
from detlint.formats.coco.finder import ImageFinder
from detlint.formats.coco.layout import (
    NAME,
    annotation_files,
    dataset_root,
    refused_files,
    split_name,
)
from detlint.formats.coco.merge import link_categories, link_images, merge_categories
from detlint.formats.coco.parse import parse_json
from detlint.formats.coco.tables import (
    Tables,
    annotation_table,
    document_tables,
    empty_tables,
    typed_annotation_table,
)
from detlint.formats.protocol import ReadOptions
from detlint.model import Annotations, Categories, Dataset, Images, concat_images


def read(path: Path, options: ReadOptions) -> Dataset:
    """Every COCO annotation file at ``path`` as one dataset (a file per split)."""
    files = annotation_files(path)
    if not files:
        refused = "; ".join(f"{p.name} {why.message}" for p, why in refused_files(path))
        raise NotADatasetError(f"{path}: no COCO annotation JSON found" + (f" ({refused})" if refused else ""))
    root = dataset_root(path)
    boundary = options.boundary(root)
    ds = Dataset(format=NAME, root=root, categories=Categories(), images=Images.empty(0),
                 annotations=Annotations.empty(0))
    for refused, why in refused_files(path):  # not read: said where it lies
        ds.problems.append(Finding(why.code, f"file {why.message}", file=relpath(refused, root)))
    finder = ImageFinder(root, options.image_root)
    ds.image_root = options.image_root
    parts, per_file_categories, file_indices = [], [], []
    offset = 0
    for json_path in files:
        split = split_name(json_path, len(files), (finder.root,))
        source = _Source(json_path, root, split, finder, ds, boundary)
        images, ann, image_ids, categories = read_file(source)
        link_images(images, ann, image_ids, offset)
        parts.append((images, ann))
        per_file_categories.append(categories)
        file_indices.append(source.file_index)
        offset += len(images)
    maps = merge_categories(per_file_categories, file_indices, ds)
    for (_, ann), mapping in zip(parts, maps):
        link_categories(ann, mapping)
    ds.images = concat_images([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    ds.annotations = Annotations.concat([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    ds.image_folders = list(dict.fromkeys(ds.image_folders))
    return ds


@dataclass
class _Source:
    """One annotation file being read into ``ds`` (added to ``ds.files`` on creation)."""

    json_path: Path
    root: Path
    split: str
    finder: ImageFinder
    ds: Dataset
    boundary: Boundary
    file: str = ""
    file_index: int = -1

    def __post_init__(self) -> None:
        self.file = relpath(self.json_path, self.root)
        self.file_index = self.ds.add_file(self.file)

    def read_bytes(self) -> bytes | None:
        """The file's bytes; None (and an F001, or an F008 outside the root) when it cannot be read."""
        data = read_bytes(os.fspath(self.json_path), self.boundary, self.boundary.limits.document_bytes)
        if isinstance(data, Finding):
            data.file = self.file
            self.ds.problems.append(data)
            return None
        return data

    def tables(self, document: Any) -> Tables:
        return document_tables(document, self.json_path, self.root, self.split, self.finder, self.ds,
                               self.file_index)


def read_file(source: _Source) -> Tables:
    """The tables of one annotation file: sliced when it is big and slices, else parsed whole."""
    data = source.read_bytes()
    if data is None:
        return empty_tables()
    checkpoint = len(source.ds.problems)
    job = _SlicedRead.start(data, source.file, source.file_index)
    if job is not None:  # a big file: the annotations come slice by slice (slices.py)
        del data  # the job released the bytes: the tree and columns may take their place
        tables = job.tables(source, checkpoint)
        if tables is not None:
            return tables
        data = source.read_bytes()  # a slice did not parse: read the whole file as usual
        if data is None:
            return empty_tables()
    document, parse_problems = parse_json(data, source.file)
    del data
    source.ds.problems.extend(parse_problems)
    return source.tables(document)


SliceResult = tuple[Annotations, np.ndarray, list[Finding], int]  # table, image ids, problems, item count


class _SlicedRead:
    """One big file's sliced read: the document without the sliced annotations (dropped once
    built) and the running :class:`~.slices.SliceJob`."""

    def __init__(self, document: dict | None, job: slices.SliceJob, n_slices: int) -> None:
        self.document, self.job, self.n_slices = document, job, n_slices

    @classmethod
    def start(cls, data: bytes, file: str, file_index: int) -> _SlicedRead | None:
        """None for a small file or one that does not slice. This process builds its share of
        the slices before returning (a forked helper may still be building the rest), then
        releases the file's bytes."""
        if len(data) < slices.MIN_BYTES:
            return None
        sliced = slices.SlicedAnnotations(data)
        if not sliced.usable:
            return None

        def build(text: bytes) -> SliceResult | None:
            found: list[Finding] = []  # positions from 0: shifted later
            table = typed_annotation_table(text, file, file_index, found)
            if table is not None:
                return *table, found, len(table[0])
            try:  # not all well formed: the tolerant path, item by item where needed
                items = orjson.loads(text)
            except orjson.JSONDecodeError:
                return None
            return *annotation_table(items, file, file_index, found), found, len(items)

        job = slices.SliceJob(sliced, build)
        document = sliced.rest()  # whole only if every slice parses: checked in _finish
        if document is None:
            job.cancel()
            return None
        job.run_here()
        job.release()  # the file's bytes and tree go before the helper's columns come in
        return cls(document, job, len(sliced.bounds))

    def tables(self, source: _Source, checkpoint: int) -> Tables | None:
        """The file's tables; None (its problems since ``checkpoint`` and meta undone) when a
        slice did not parse."""
        problems = source.ds.problems
        images, annotations, image_ids, categories = source.tables(self.document)
        self.document = None
        sliced = self._finish()
        if sliced is None:
            del problems[checkpoint:]
            source.ds.meta[NAME].pop(source.file, None)
            return None
        parts, ids, slice_problems, count = sliced
        annotations.src_item += count  # the rest's annotations come after the sliced ones
        for problem in problems[checkpoint:]:
            _shifted(problem, count)
        problems += slice_problems
        return images, Annotations.concat([*parts, annotations]), np.concatenate([*ids, image_ids]), categories

    def _finish(self) -> tuple[list[Annotations], list[np.ndarray], list[Finding], int] | None:
        """(tables, image ids, problems, item count) of all slices; None when one did not parse."""
        built = self.job.finish()
        if built is None or len(built) != self.n_slices:
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
