"""box-added (D005): a box in NEW that matches no box of OLD's same image.

Boxes of a matched image are paired by class and IoU: exactly equal boxes first, then greedily
by IoU at `--iou` (default 0.5) within one class (D007), then across classes (D008). What is
left in NEW is added. Boxes of an added image are counted in the summary, not listed.

Located at the box in NEW (file and line, or JSON pointer).

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change box-added` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D005"
NAME = "box-added"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
