"""The incremental hook: a few changed label files read again into a
:class:`~detlint.readcache.Reparsed` the snapshot splices into the stored dataset."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.yolo import obb
from detlint.formats.yolo.parse import parse_labels, rows_of
from detlint.formats.yolo.read import annotations_of, malformed_findings, reprobe_sizes
from detlint.model import Dataset, Images
from detlint.readcache import Reparsed

REPARSED_CODES = frozenset({"F001", "F006"})  # what a label file's content alone decides


def reparse(ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
    """``ds`` with the label files ``files`` (indices into ``ds.files``) read again, and the
    image rows they label; None when the change can reach past those files (a class list
    inferred from the largest index, an orphan label)."""
    if ds.meta.get("names_inferred"):
        return None
    images = ds.images
    pair_image = np.flatnonzero(np.isin(images.src_file, np.asarray(files, np.int32)))
    if orphan_label_rows(images, pair_image):
        return None
    root = str(ds.root)
    reprobe_sizes(images, pair_image, root, options)
    problems: list[Finding] = []
    quiet = dataclasses.replace(options, progress=False)
    table = parse_labels([os.path.join(root, ds.files[f]) for f in files], list(range(len(files))), quiet,
                         problems, root)
    position = {f: i for i, f in enumerate(files)}
    pair_file = images.src_file[pair_image].astype(np.int64)
    rows = rows_of(table.take(np.array([position[int(f)] for f in pair_file], np.int64)))
    problems += malformed_findings(rows, pair_image, pair_file, images, ds.files)
    annotations = annotations_of(rows, images, pair_image[rows.file], pair_file[rows.file], len(ds.categories))
    if "obb" in ds.meta:
        annotations = obb.oriented(annotations, images)
    return Reparsed(annotations, problems, REPARSED_CODES, pair_image)


def orphan_label_rows(images: Images, rows: np.ndarray) -> bool:
    """Whether any of ``rows`` is the synthetic image entry of an orphan label."""
    return any(isinstance(extra, dict) and "orphan_label" in extra for extra in images.extra[rows].tolist())
