"""unused-class (C002): a declared class has no annotation.

Why it matters: the model gets an output for a class it never sees; its score stays
uncalibrated and mAP over classes is diluted (or the class list is stale, and indices of later
classes are off by one against another split).

Example: ``names: [cat, dog, bird]`` and no row with class 2.

Fix: remove the class (renumbering the others) or add its annotations.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_category

CODE = "C002"
NAME = "unused-class"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    n = len(ds.categories)
    if not n:
        return
    used = ds.annotations.category[ds.annotations.category >= 0]
    counts = np.bincount(used, minlength=n)
    for index in np.flatnonzero(counts == 0).tolist():
        yield at_category(ds, index, CODE, f"class '{ds.categories.names[index]}' "
                          f"(id {ds.categories.ids[index]}) has no annotation")
