"""The incremental hook: single XML files read again into a :class:`~detlint.readcache.Reparsed`.

An XML's content decides its objects, its image's size and extras, and its F008 finding; it
cannot decide on its own which image file it names or which classes exist. So ``reparse``
declines (None: a full read answers) when an XML no longer parses, when its image name changed
(the image would be looked up again), when it uses a class never seen before, and (through
``Reparsed.accept``) when a class is no longer used by any object.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.voc.parse import parse_files
from detlint.formats.voc.read import annotation_rows, image_names
from detlint.formats.voc.record import ParsedXml
from detlint.model import Dataset
from detlint.readcache import Reparsed

REPARSED_CODES = frozenset({"F008"})  # the reader problems an XML's content alone decides


def reparse(ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
    """``ds``'s XML files ``files`` (indices into ``ds.files``) read again, and their image rows;
    None when the change reaches past those files."""
    parsed = parse_files([os.path.join(ds.root, ds.files[f]) for f in files], ds.root,
                         dataclasses.replace(options, progress=False))
    if any(result.problem is not None for result in parsed):
        return None
    image_rows = _image_rows(ds, files)
    if image_rows is None:
        return None
    problems: list[Finding] = []
    if not _update_images(ds, files, image_rows, parsed, problems):
        return None
    index_of = {name: i for i, name in enumerate(ds.categories.names)}
    if options.classes is None and any(name and name not in index_of for r in parsed for name in r.names):
        return None
    annotations = annotation_rows(parsed, files, image_rows, index_of, options)

    def every_class_still_used(spliced: Dataset) -> bool:
        used = np.bincount(spliced.annotations.category[spliced.annotations.category >= 0],
                           minlength=len(spliced.categories))
        return options.classes is not None or not (used == 0).any()

    return Reparsed(annotations, problems, REPARSED_CODES, np.asarray(image_rows, np.int64),
                    accept=every_class_still_used)


def _image_rows(ds: Dataset, files: list[int]) -> list[int] | None:
    """The one image row each file declares; None where a file declares none or several."""
    image_rows = []
    for f in files:
        rows = np.flatnonzero(ds.images.src_file == f)
        if len(rows) != 1:
            return None
        image_rows.append(int(rows[0]))
    return image_rows


def _update_images(ds: Dataset, files: list[int], image_rows: list[int], parsed: list[ParsedXml],
                   problems: list[Finding]) -> bool:
    """The image rows set from the files read again, their F008 into ``problems``; False (and
    the rest left unread) when an image's name changed."""
    images = ds.images  # changed in place: ds is this re-check's own copy (from the snapshot)
    for f, row, result in zip(files, image_rows, parsed):
        old_extra = images.extra[row] or {}
        if result.filename != images.file_name[row] or result.image_extra.get("path") != old_extra.get("path"):
            return False
        image_names(result, ds.files[f], problems)  # its F008, as a full read reports it
        for problem in ds.problems:  # the image lookup is unchanged; its finding moves with the XML
            if problem.code == "F014" and problem.file == ds.files[f]:
                problem.line = result.filename_line or None
        extra = dict(result.image_extra)
        if "also_in_splits" in old_extra:
            extra["also_in_splits"] = old_extra["also_in_splits"]
        images.width[row], images.height[row] = result.width, result.height
        images.src_line[row] = result.root_line
        images.extra[row] = extra or None
    return True
