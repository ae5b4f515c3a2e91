"""orphan-label (I006): a label or annotation file that belongs to no image.

Why it matters: its labels are silently never trained on. It usually means an image was deleted
or renamed without its label file (or the label stem has a typo).

Example: ``labels/train/0042.txt`` with no ``images/train/0042.*``; a VOC XML whose image is
gone.

Fix: restore the image, or delete the stale label file.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "I006"
NAME = "orphan-label"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Reported by the format reader while parsing (only it sees the raw text)."""
    return reader_problems(ds, CODE)
