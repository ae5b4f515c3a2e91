"""box-relabelled (D008): a box in the same place (IoU >= `--iou`) with another class.

Why it matters: relabelling is the most consequential edit of an annotation pull request and
the hardest to see in a text diff of YOLO indices. A class that was renamed in the class list
(D009) is followed: its boxes are not reported as relabelled.

Located at the box in NEW; the message names the old and new class.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change box-relabelled` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D008"
NAME = "box-relabelled"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
