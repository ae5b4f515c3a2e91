"""image-split-changed (D004): an image that moved to another split (train -> val, ...).

Why it matters: an image moved from train to val or test changes what the evaluation measures,
and one moved the other way can leak evaluation data into training (S001).

The image is matched by path or, when the move renamed it (YOLO's images/train/ -> images/val/),
by content. Located at the image's entry in NEW.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change image-split` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D004"
NAME = "image-split-changed"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
