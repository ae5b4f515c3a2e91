"""malformed-prediction (P001): a predictions file, or one detection in it, that cannot be read.

Why it matters: pycocotools' ``loadRes`` stops at the first entry without ``image_id`` (a
``KeyError``), a results file that is not a JSON array, or JSON that does not parse; an
evaluator that skips such rows silently scores a model on fewer detections than it made.

What is reported, at the place in the predictions file: JSON that does not parse (line and
column), a top level that is not an array, an entry that is not an object, an entry without
``image_id`` or ``category_id``, a ``bbox`` that is not four numbers; in YOLO prediction txt, a
row that is not ``class cx cy w h [conf]`` (5 or 6 numbers), and a file that cannot be read.
The other detections are still read and checked.

Example: ``preds.json#/17/bbox: P001 bbox must be 4 numbers [x, y, width, height], not [12, 40]``.

Fix: re-export the predictions; detlint cannot guess the missing values.
"""

from __future__ import annotations

import copy

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext

CODE = "P001"
NAME = "malformed-prediction"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """Reported by the predictions reader (only it sees the raw text)."""
    preds = ctx.predictions
    return [copy.copy(p) for p in preds.problems if p.code == CODE] if preds is not None else []
