"""class-name-variant (C004): class names that differ only by case, spacing, ``_`` or ``-``.

Why it matters: "traffic_light", "Traffic Light" and "traffic-light" are one concept labelled
three ways, usually by different annotators or exports; the model splits the examples between
three outputs and none of them learns well.

Example: names ``[car, Car, traffic_light, traffic light]``.

Fix (unsafe): merge the variants into one class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detlint.findings import Finding, Fix
from detlint.model import Dataset
from detlint.rules._fixes import class_variants, merge_classes
from detlint.rules._helpers import RuleContext, class_line, class_maps, class_pointer
from detlint.rules.c003_duplicate_class_name import normalized_name

CODE = "C004"
NAME = "class-name-variant"
SEVERITY = "warning"
FIX = "unsafe"
FIX_PRIORITY = 25  # fixes run in this order; drops run last
OPTIONS: dict = {}


def folded_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name)).casefold()


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    for file, pairs in class_maps(ds).items():
        seen: dict[str, str] = {}
        for position, (_class_id, name) in enumerate(pairs):
            key = folded_name(name)
            if key in seen and normalized_name(seen[key]) != normalized_name(name):
                yield Finding(CODE, f"class '{name}' looks like a variant of '{seen[key]}': "
                              "if they are one class, its objects are split over two outputs", file=file or None,
                              pointer=class_pointer(ds, file, position), line=class_line(ds, file, position),
                              fix=Fix("unsafe", f"merge into '{seen[key]}'"),
                              data={"variant": name, "canonical": seen[key]})
            seen.setdefault(key, name)


def fix(ds: Dataset, findings: list[Finding]) -> Dataset:
    """Merge each variant into its canonical class (not for formats that refer to classes by
    index: that would renumber every later class)."""
    variants = class_variants(ds, findings)
    return merge_classes(ds, variants) if variants else ds
