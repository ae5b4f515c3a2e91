"""attribute-changed (D010): a matched box whose difficult, iscrowd, truncated or occluded flag changed.

Why it matters: VOC's evaluation ignores `difficult` objects and COCO's ignores `iscrowd`
regions, so flipping a flag changes the metric without moving a box.

Located at the box in NEW; the message lists each flag as old -> new (`unset` where the key
is absent).

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change attribute` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D010"
NAME = "attribute-changed"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
