"""image-added (D001): an image that NEW has and OLD had under no path and with no identical content.

Why it matters: new images are new training or evaluation data; a reviewer checks that they
belong to the split they were added to and that their labels are complete.

Located at the image's entry in NEW (its annotation file, line or JSON pointer); the message
counts its annotations (they are not listed one by one as D005).

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change image-added` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D001"
NAME = "image-added"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
