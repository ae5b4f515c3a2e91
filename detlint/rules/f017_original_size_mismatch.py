"""original-size-mismatch (F017): results of one Label Studio task disagree on ``original_width`` / ``original_height``.

Why it matters: every result carries the image size its percent coordinates refer to. Two sizes
in one task mean some regions were made on another version of the image (resized after
labelling, or a pre-annotation imported with a guessed size), so converting them all against
one size puts some boxes in the wrong place. detlint reads every result against the first
result's size and reports the others here.

Example: one result with ``"original_width": 100`` and another with ``200`` in the same task.

Fix: check which size the image really has (I003 compares the declared size with the file)
and re-import the regions made against the other one.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "F017"
NAME = "original-size-mismatch"
SEVERITY = "error"
REQUIRES = (Trait.PERCENT_COORDINATES,)
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)  # only the reader sees each result's own size
