"""duplicate-class-name (C003): two classes share a name (after trimming spaces and ignoring case).

Why it matters: the model learns two outputs for one concept and splits its examples between
them; evaluation and class-name lookups (``names.index("car")``) hit only the first.

Example: COCO categories ``{"id": 3, "name": "car"}`` and ``{"id": 8, "name": "Car "}``.

Fix: merge the two classes (relabel one into the other) and remove the spare.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, class_line, class_maps, class_pointer

CODE = "C003"
NAME = "duplicate-class-name"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def normalized_name(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    for file, pairs in class_maps(ds).items():
        seen: dict[str, tuple[int, str]] = {}
        for position, (class_id, name) in enumerate(pairs):
            key = normalized_name(name)
            if key in seen:
                other_id, other = seen[key]
                yield Finding(CODE, f"class '{name}' (id {class_id}) duplicates class '{other}' (id {other_id}): "
                              "one object kind gets two outputs, and the model splits its confidence between them",
                              file=file or None, pointer=class_pointer(ds, file, position),
                              line=class_line(ds, file, position))
            else:
                seen[key] = (class_id, name)
