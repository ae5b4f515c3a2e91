"""unknown-class (C001): an annotation's class is not in the class list.

Why it matters: an index past the classifier's last output raises a CUDA device-side assert
(``t >= 0 && t < n_classes``) far from its cause, or, with a lenient loader, is silently
dropped. Cases: a YOLO index >= nc (often classes written 1-based: index 0 unused and the
largest index equal to nc), a COCO ``category_id`` with no category (also F004), a VOC name
outside the configured ``classes`` list.

Example: YOLO ``3 0.5 0.5 0.1 0.1`` with ``names: [cat, dog, bird]``.

Fix: correct the index/name, or add the class to the class list.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotation

CODE = "C001"
NAME = "unknown-class"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _looks_one_based(ds: Dataset) -> bool:
    used = ds.annotations.class_id[ds.annotations.kind != Annotations.KIND_NONE]
    n = len(ds.categories)
    return bool(len(used)) and n > 0 and not (used == 0).any() and int(used.max()) == n


def _message(ds: Dataset, row: int, one_based: bool) -> str:
    ann = ds.annotations
    n = len(ds.categories)
    if format_of(ds).has(Trait.CLASS_INDEX):
        hint = " (classes look 1-based: index 0 is unused and the largest index equals nc)" if one_based else ""
        return (f"class index {ann.class_id[row]} is not in 0..{n - 1} (nc = {n}){hint}: ultralytics drops the "
                "whole image ('Label class exceeds dataset class count'), other trainers hit a CUDA "
                "device-side assert")
    if format_of(ds).has(Trait.CLASS_NAME):
        extra = ann.extra[row] if isinstance(ann.extra[row], dict) else {}
        name = extra.get("name", "")
        if not name:
            return "object has no <name>: it belongs to no class, and loaders raise KeyError on it"
        return (f"class '{name}' is not in {format_of(ds).class_list_label}: loaders that map names to indices "
                "raise KeyError or silently skip the object")
    return (f"category_id {ann.class_id[row]} is not a defined category: the class index it maps to "
            "is undefined (KeyError, or a CUDA device-side assert past the last class)")


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    unknown = np.flatnonzero(ann.category < 0)
    if not len(unknown):
        return
    one_based = format_of(ds).has(Trait.CLASS_INDEX) and _looks_one_based(ds)
    field = "category_id"  # the key of the pointer, where the format has pointers
    for row in unknown.tolist():
        yield at_annotation(ds, row, CODE, _message(ds, row, one_based), field_name=field)
