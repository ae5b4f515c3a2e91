"""class-map-mismatch (C005): the splits or files of one dataset declare different class maps.

Why it matters: a model trained on one split's map and evaluated on another's sees shuffled
labels: "car" in train is index 2, in val index 3, and val accuracy collapses for no visible
reason. Roboflow's per-split COCO JSON files and hand-merged datasets do this.

Example: ``train/_annotations.coco.json`` with ``{1: cat, 2: dog}`` and
``valid/_annotations.coco.json`` with ``{1: dog, 2: cat}``.

A file that declares only some of the classes, with the same ids, is not a mismatch: only an
id that means different classes, or a class that has different ids, is.

Fix: re-export with one class map for every split, or remap ids consistently.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.formats import format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, class_maps

CODE = "C005"
NAME = "class-map-mismatch"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _conflicts(reference: dict[int, str], other: dict[int, str]) -> list[str]:
    """Ids that name different classes, and classes that have different ids, in two maps."""
    out = [f"id {k}: '{reference[k]}' vs '{other[k]}'" for k in sorted(set(reference) & set(other))
           if reference[k] != other[k]]
    reference_ids = {name: k for k, name in reference.items()}
    for k, name in sorted(other.items()):
        if name in reference_ids and reference_ids[name] != k and reference.get(k) in (None, name):
            out.append(f"'{name}': id {reference_ids[name]} vs {k}")
    return out


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    maps = [(file, {int(i): str(n) for i, n in pairs}) for file, pairs in class_maps(ds).items() if pairs]
    if len(maps) < 2:
        return
    reference_file, reference = maps[0]
    for file, other in maps[1:]:
        conflicts = _conflicts(reference, other)
        if conflicts:
            shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
            yield Finding(CODE, f"class map differs from {reference_file}: {shown}: a model trained with one "
                          "map reads the other's labels as the wrong classes",
                          file=file or None, pointer=format_of(ds).locate(ds, "categories", None, None))
