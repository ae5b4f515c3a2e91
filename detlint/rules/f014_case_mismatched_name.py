"""case-mismatched-name (F014): an image or label found only when letter case is ignored.

Why it matters: ``IMG_1.JPG`` referenced as ``img_1.jpg`` works on macOS and Windows, whose file
systems ignore case, and is a missing image on Linux, where training usually runs. The dataset
"works on my laptop" and loses those images on the cluster.

Example: COCO ``"file_name": "photo.jpg"`` while the file is ``photo.JPG``; YOLO label
``labels/IMG_1.txt`` for ``images/img_1.jpg``.

Fix: rename the file or the reference so that the case matches exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "F014"
NAME = "case-mismatched-name"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Reported by the format reader while parsing (only it sees the raw text)."""
    return reader_problems(ds, CODE)
