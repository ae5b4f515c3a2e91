"""duplicate-id (F003): a COCO image, annotation or category id used twice in one file.

Why it matters: pycocotools builds dicts keyed by id, so the second entry silently replaces
the first: an image loses its annotations, or annotations attach to the wrong image, and
COCOeval scores against the wrong ground truth. Ids may repeat across split files; they must be
unique within one file.

Example: two entries in ``images`` with ``"id": 17``.

Fix (unsafe): renumber the duplicates (annotations that referenced an ambiguous image id keep
pointing at the first image with that id).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix, json_pointer
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._fixes import renumber_fix
from detlint.rules._helpers import RuleContext, at_annotation, at_image, reported_mask

CODE = "F003"
NAME = "duplicate-id"
SEVERITY = "error"
REQUIRES = (Trait.DECLARED_IDS,)
FIX = "unsafe"
FIX_PRIORITY = 20  # fixes run in this order; drops run last
OPTIONS: dict = {}


def repeated(file_index: np.ndarray, ids: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Rows whose (file, id) pair appeared on an earlier row, among the ``valid`` rows."""
    rows = np.arange(len(ids)) if valid is None else np.flatnonzero(valid)
    if not len(rows):
        return np.zeros(0, np.int64)
    files, values = file_index[rows].astype(np.int64), ids[rows].astype(np.int64)
    order = np.lexsort((rows, values, files))  # by file, then id, then position: firsts lead
    same = (files[order][1:] == files[order][:-1]) & (values[order][1:] == values[order][:-1])
    return np.sort(rows[order[1:][same]])


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    fix = Fix("unsafe", "renumber the duplicate")
    images, ann = ds.images, ds.annotations
    # a missing or malformed id (F002, read as -1) is not a duplicate of another malformed one
    valid_images = ~(reported_mask(ds, "F002", "images", "id") & (images.id == -1))
    valid_annotations = ~(reported_mask(ds, "F002", "annotations", "id") & (ann.id == -1))
    for row in repeated(images.src_file, images.id, valid_images).tolist():
        yield at_image(ds, row, CODE, f"image id {images.id[row]} is used by an earlier image in this file: "
                       "pycocotools keeps only the last one", fix, field_name="id")
    for row in repeated(ann.src_file, ann.id, valid_annotations).tolist():
        yield at_annotation(ds, row, CODE, f"annotation id {ann.id[row]} is used by an earlier annotation "
                            "in this file: pycocotools' index keeps only the last one, so evaluation and "
                            "loaders that look annotations up by id see one object", fix, field_name="id")
    for file, categories in ds.meta.get("class_maps", {}).items():
        seen: set[int] = set()
        for position, (cat_id, name) in enumerate(categories):
            if cat_id in seen and cat_id != -1:  # -1: a malformed id, reported as F002
                yield Finding(CODE, f"category id {cat_id} ('{name}') is defined twice: pycocotools keeps "
                              "the last definition, so the class an id means depends on the tool", file=file,
                              pointer=json_pointer("categories", position, "id"))
            seen.add(cat_id)


fix = renumber_fix  # one past the largest id of the file
