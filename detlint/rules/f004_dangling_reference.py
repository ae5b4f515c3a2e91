"""dangling-reference (F004): a COCO annotation whose ``image_id`` or ``category_id`` is not defined.

Why it matters: pycocotools raises ``KeyError`` when it indexes such an annotation, or (in
other loaders) the annotation is silently dropped. Usually a partial export or a merge of two
files that renumbered one side only.

Example: ``"image_id": 999`` when no entry of ``images`` has id 999.

Fix (unsafe): drop the annotation. No loader can use it as it is, but it is usually a real
object whose reference is wrong (a typo, or a merge that renumbered the other side): dropping it
loses that object, so the drop waits for ``--unsafe-fixes``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, at_annotation

CODE = "F004"
NAME = "dangling-reference"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "unsafe"
OPTIONS: dict = {}


def dangling_mask(ds: Dataset) -> np.ndarray:
    ann = ds.annotations
    if not format_of(ds).has(Trait.ID_REFERENCES):
        return np.zeros(len(ann), bool)
    return (ann.image < 0) | (ann.category < 0)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    fix = Fix("unsafe", "drop the annotation (the object it labels is lost)")
    for row in np.flatnonzero(dangling_mask(ds)).tolist():
        if ann.image[row] < 0:
            yield at_annotation(ds, row, CODE, "image_id refers to no image in this file: pycocotools "
                                "indexes it under no image, so no loader ever trains on it", fix,
                                field_name="image_id")
        if ann.category[row] < 0:
            yield at_annotation(ds, row, CODE, f"category_id {ann.class_id[row]} refers to no category: "
                                "pycocotools' loadCats raises KeyError on it",
                                fix, field_name="category_id")


fix = DropRows()  # drop the annotation
