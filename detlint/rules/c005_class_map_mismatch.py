"""class-map-mismatch (C005): the splits or files of one dataset declare different class maps.

Why it matters: a model trained on one split's map and evaluated on another's sees shuffled
labels: "car" in train is index 2, in val index 3, and val accuracy collapses for no visible
reason. Roboflow's per-split COCO JSON files and hand-merged datasets do this.

Example: ``train/_annotations.coco.json`` with ``{1: cat, 2: dog}`` and
``valid/_annotations.coco.json`` with ``{1: dog, 2: cat}``.

Fix: re-export with one class map for every split, or remap ids consistently.
"""

from __future__ import annotations

from typing import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, class_maps

CODE = "C005"
NAME = "class-map-mismatch"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _describe_difference(reference: dict[int, str], other: dict[int, str]) -> str:
    changed = [f"id {k}: '{reference.get(k, '-')}' vs '{other.get(k, '-')}'"
               for k in sorted(set(reference) | set(other)) if reference.get(k) != other.get(k)]
    return ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    maps = [(file, {int(i): str(n) for i, n in pairs}) for file, pairs in class_maps(ds).items() if pairs]
    if len(maps) < 2:
        return
    reference_file, reference = maps[0]
    for file, other in maps[1:]:
        if other != reference:
            yield Finding(CODE, f"class map differs from {reference_file}: {_describe_difference(reference, other)}",
                          file=file or None, pointer="/categories" if ds.format == "coco" else None)
