"""non-finite-box (B004): a box coordinate is NaN, infinite or not a number.

Why it matters: one NaN coordinate makes the whole batch's loss NaN, and training silently
diverges from that step on. It comes from exporters that divide by a zero size, from ``null``
or string values, and from JSON written by Python with ``NaN``/``Infinity`` tokens.

Example: COCO ``"bbox": [10, NaN, 20, 30]``; YOLO ``0 0.5 nan 0.2 0.2``. A COCO ``bbox`` that is
not a list of four values at all is F002 only.

Fix (unsafe): drop the annotation. A box with one unreadable value (``<xmax>abc</xmax>``, a
``null``) is usually a real object with a typo: dropping it turns the typo into a missing label,
so the drop waits for ``--unsafe-fixes`` (correcting the value by hand keeps the object).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._fixes import DropRows
from detlint.rules._helpers import RuleContext, at_annotation, reported_mask

CODE = "B004"
NAME = "non-finite-box"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "unsafe"
OPTIONS: dict = {}


def non_finite_mask(ds: Dataset) -> np.ndarray:
    ann = ds.annotations
    return ann.has_box & ~np.isfinite(ann.boxes).all(axis=1)


def _reported_as_schema_violation(ds: Dataset) -> np.ndarray:
    """COCO boxes that are not a list of four numbers at all ([1, 2, 3], "10,20"): F002 says so."""
    if not format_of(ds).has(Trait.SCHEMA):
        return np.zeros(len(ds.annotations), bool)
    return reported_mask(ds, "F002", "annotations", "bbox") & np.isnan(ds.annotations.raw).all(axis=1)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    raw = ds.annotations.raw
    fix = Fix("unsafe", "drop the annotation (a real object with a typo is lost)")
    for row in np.flatnonzero(non_finite_mask(ds) & ~_reported_as_schema_violation(ds)).tolist():
        values = ", ".join(str(float(v)) for v in raw[row])
        yield at_annotation(ds, row, CODE, f"box has a non-finite or non-numeric coordinate ({values}): "
                            "one NaN turns the whole batch's loss NaN", fix)


fix = DropRows()  # drop the annotation
