"""malformed-label-line (F006): a YOLO label row that is not ``class cx cy w h`` or a polygon.

Why it matters: ultralytics rejects the whole label file ("labels require 5 columns") and the
image trains as a negative; other loaders crash on the first bad row.

A valid row is an integer class index followed by 4 numbers (a box) or by 6 or more numbers,
an even count (a polygon). Anything else fires: wrong column count, a non-numeric token,
a negative or fractional class index.

DOTA label lines are checked by the same rule: 8 numbers, a category and an optional
``difficult`` of 0 or 1 (header lines ``imagesource:`` and ``gsd:`` are not objects).

Example: ``0 0.5 0.5 0.2`` (4 values), ``car 0.5 0.5 0.2 0.2`` (class name instead of index),
DOTA ``1 2 3 4 5 6 plane 0`` (6 coordinates).

Fix: correct the exporter; detlint reports the exact file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "F006"
NAME = "malformed-label-line"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Reported by the format reader while parsing (only it sees the raw text)."""
    return reader_problems(ds, CODE)
