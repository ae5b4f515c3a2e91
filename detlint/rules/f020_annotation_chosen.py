"""annotation-chosen (F020): a Label Studio task has several annotations and detlint read one of them.

Why it matters: a task labelled by several annotators (or relabelled, or with a cancelled
attempt) holds several ``annotations``. Label Studio's own converter drops cancelled and
skipped ones and exports each remaining one as its own copy of the image, so the image trains
twice with two slightly different sets of boxes. detlint reads one: the annotation marked
``ground_truth``, else the most recently updated one (``updated_at``, then ``created_at``) that is
not ``was_cancelled`` / ``skipped``. The finding names the annotation and annotator used.

Example: annotations 10 (2024-03-01) and 11 (2024-03-05) on one task: 11 is read.

Fix: mark the reviewed annotation as ground truth in Label Studio, or delete the others.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "F020"
NAME = "annotation-chosen"
SEVERITY = "info"
REQUIRES = (Trait.PERCENT_COORDINATES,)
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)  # the choice is made while reading
