"""class-map-changed (D009): the class list changed: a class added, removed, renamed or reordered.

Why it matters: a class map change changes the meaning of every label that refers to a class by
its index. Reordering is reported with the index shift it causes: in YOLO a label file that
still writes the old index now means another class; in COCO the category id may have changed.
A renamed class is one whose name changed at the same position.

Located at the class's declaration in NEW (data.yaml line, COCO `/categories/N`), a removed one
at OLD's.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change class-map` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D009"
NAME = "class-map-changed"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
