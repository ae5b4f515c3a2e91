"""yolo-names-mismatch (C006): data.yaml's ``nc`` disagrees with its ``names``.

Why it matters: ultralytics checks ``nc == len(names)`` and stops; other trainers size the
classifier head from one and map labels with the other, so the last classes are silently wrong.
Names given as a mapping must have the keys 0..n-1 with no gap.

Example: ``nc: 3`` with ``names: [cat, dog]``; ``names: {0: cat, 2: dog}``.

Fix: make ``nc`` equal to the number of names (or drop ``nc``: ultralytics infers it).
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "C006"
NAME = "yolo-names-mismatch"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Reported by the format reader while parsing (only it sees the raw text)."""
    return reader_problems(ds, CODE)
