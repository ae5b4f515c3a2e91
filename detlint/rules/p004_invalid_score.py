"""invalid-score (P004): a detection without a usable score: missing, ``null``, not a number,
``NaN`` or infinite.

Why it matters: COCOeval sorts each image's detections by score; a detection without one makes
``evaluateImg`` raise ``KeyError: 'score'``, and a ``NaN`` breaks the sort, so the precision
curve and the mAP come out wrong without an error. A YOLO prediction row without its sixth
number was written without ``save_conf=True``: every detection then counts as equally sure.

When no detection of a file has a usable score, one finding says so for the file; otherwise
each detection is reported at its ``score`` (JSON pointer) or line.

Fix: export the scores (ultralytics: ``save_conf=True``; your own exporter: the detector's
confidence as a float).
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import SCORE_MISSING, SCORE_NON_FINITE, SCORE_NOT_A_NUMBER, SCORE_OK, Dataset, Predictions
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_detections, at_file, by_file, file_rows
from detlint.safetext import counted

CODE = "P004"
NAME = "invalid-score"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"

_WHY = {SCORE_MISSING: "has no score", SCORE_NOT_A_NUMBER: "has a score that is not a number",
        SCORE_NON_FINITE: "has a score that is NaN or infinite"}
_CONSEQUENCE = {SCORE_MISSING: "COCOeval raises KeyError: 'score'",
                SCORE_NOT_A_NUMBER: "COCOeval cannot sort by it (TypeError)",
                SCORE_NON_FINITE: "COCOeval's sort by score puts it anywhere: precision and mAP come out wrong"}

_TEXT_CONSEQUENCE = dict.fromkeys(_CONSEQUENCE, "its rank among the image's detections is undefined, so precision "
                                                "and mAP come out wrong")


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    bad = np.flatnonzero(preds.score_state != SCORE_OK)
    findings: list[Finding] = []
    for file_index, rows in by_file(preds, bad).items():
        states = preds.score_state[rows]
        if len(rows) == file_rows(preds, file_index) and len(rows) > 1:
            state = int(np.bincount(states).argmax())
            findings.append(_whole_file(preds, file_index, len(rows), state))
            continue
        consequence = _CONSEQUENCE if preds.pointer_prefix is not None else _TEXT_CONSEQUENCE
        messages = [f"detection {_WHY[s]}: {consequence[s]}" for s in states.tolist()]
        findings += at_detections(ds, preds, rows.tolist(), CODE, messages,
                                  key="score" if preds.pointer_prefix is not None else None)
    return findings


def _whole_file(preds: Predictions, file_index: int, count: int, state: int) -> Finding:
    if preds.pointer_prefix is None:
        text = (f"none of the {counted(count, 'detection')} has a score (written without save_conf=True?): every "
                "detection counts as equally sure, so no precision-recall curve and no mAP can be computed")
    else:
        text = f"none of the {counted(count, 'detection')} has a usable score: {_CONSEQUENCE[state]}"
    finding = at_file(preds, CODE, text)
    finding.file = preds.file_of(file_index)
    return finding
