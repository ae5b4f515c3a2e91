"""zero-id (F005): a COCO image or annotation with id 0.

Why it matters: COCOeval uses 0 to mean "no match" when it pairs detections with ground truth,
so an annotation with id 0 is counted as unmatched and the AP drops; some tools also treat
id 0 as falsy and skip it. Roboflow exports start ids at 0.

Example: ``{"id": 0, "image_id": 0, ...}``.

Fix (unsafe): renumber ids from 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._fixes import renumber_fix
from detlint.rules._helpers import RuleContext, at_annotation, at_image

CODE = "F005"
NAME = "zero-id"
SEVERITY = "warning"
REQUIRES = (Trait.DECLARED_IDS,)
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "unsafe"
FIX_PRIORITY = 20  # fixes run in this order; drops run last
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    fix = Fix("unsafe", "renumber ids from 1")
    for row in np.flatnonzero(ds.annotations.id == 0).tolist():
        yield at_annotation(ds, row, CODE, "annotation id 0: COCOeval treats id 0 as 'no match' and "
                            "counts this object as missed", fix, field_name="id")
    for row in np.flatnonzero(ds.images.id == 0).tolist():
        yield at_image(ds, row, CODE, "image id 0: tools that test ids for truth skip it", fix,
                       field_name="id")


fix = renumber_fix  # one past the largest id of the file
