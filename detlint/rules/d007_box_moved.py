"""box-moved (D007): a box of one class whose place or size changed (IoU >= `--iou` with its old self).

The message gives the IoU with the old box, the shift of its centre in pixels and the change of
its width and height. A shift so large that the IoU falls under `--iou` is a removal and an
addition (D006 + D005) instead.

Located at the box in NEW; html draws the old box dashed beside it.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change box-moved` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D007"
NAME = "box-moved"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
