"""image-removed (D002): an image that OLD had and NEW has under no path and with no identical content.

Why it matters: a removed image takes its labels with it; an accidental removal (a bad glob, a
lost split file) shrinks the data silently.

Located at the image's entry in OLD (the finding's dataset is OLD's path); the message counts
the annotations that went with it.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change image-removed` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D002"
NAME = "image-removed"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
