"""unused-class (C002): a declared class has no annotation.

Why it matters: the model gets an output for a class it never sees; its score stays
uncalibrated and mAP over classes is diluted (or the class list is stale, and indices of later
classes are off by one against another split).

Example: ``names: [cat, dog, bird]`` and no row with class 2.

Not reported: the placeholder category Roboflow puts first in every COCO export (id 0, named
after the project, the supercategory of all the other classes), which is never annotated.

Fix: remove the class (renumbering the others) or add its annotations.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_category

CODE = "C002"
NAME = "unused-class"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}


def roboflow_placeholder(ds: Dataset, index: int) -> bool:
    """Roboflow's COCO category 0: named like the project, the supercategory of the others."""
    cats = ds.categories
    if not format_of(ds).has(Trait.DECLARED_IDS) or int(cats.ids[index]) != 0 or len(cats) < 2:
        return False
    name = cats.names[index]
    others = [extra.get("supercategory") for i, extra in enumerate(cats.extra) if i != index]
    return all(parent == name for parent in others)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    n = len(ds.categories)
    if not n:
        return
    used = ds.annotations.category[ds.annotations.category >= 0]
    counts = np.bincount(used, minlength=n)
    for index in np.flatnonzero(counts == 0).tolist():
        if roboflow_placeholder(ds, index):
            continue
        yield at_category(ds, index, CODE, f"class '{ds.categories.names[index]}' "
                          f"(id {ds.categories.ids[index]}) has no annotation: the model gets an output it "
                          "never learns, and per-class metrics for it are empty")
