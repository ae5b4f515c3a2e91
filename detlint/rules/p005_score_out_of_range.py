"""score-out-of-range (P005): a detection's score is outside 0-1.

Why it matters: COCOeval only sorts by score, so the mAP survives, but a score outside 0-1 says
the exporter wrote something else: a logit (negative values), a percentage (0-100), or a class
index in the score's place. Confidence thresholds (``conf=0.25``), calibration and any tool
that reads scores as probabilities then go wrong.

When every score of a file is outside 0-1, one finding gives the file's range; otherwise each
detection is reported at its score.

Fix: export probabilities (apply the sigmoid or softmax; divide percentages by 100).
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import SCORE_OK, Dataset, Predictions
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_detections, at_file, by_file
from detlint.safetext import counted

CODE = "P005"
NAME = "score-out-of-range"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    scores = preds.scores
    usable = preds.score_state == SCORE_OK
    outside = np.flatnonzero(usable & ((scores < 0) | (scores > 1)))
    findings: list[Finding] = []
    for file_index, rows in by_file(preds, outside).items():
        scored = int((usable & (preds.detections.src_file == file_index)).sum())
        if len(rows) == scored and len(rows) > 1:
            findings.append(_whole_file(preds, file_index, rows))
            continue
        messages = [f"score {value:g} is outside 0-1: a logit, a percentage or another number in the score's "
                    "place" for value in scores[rows].tolist()]
        findings += at_detections(ds, preds, rows.tolist(), CODE, messages,
                                  key="score" if preds.pointer_prefix is not None else None)
    return findings


def _whole_file(preds: Predictions, file_index: int, rows: np.ndarray) -> Finding:
    low, high = float(preds.scores[rows].min()), float(preds.scores[rows].max())
    guess = "percentages" if low >= 0 and high <= 100 else "logits" if low < 0 else "not probabilities"
    finding = at_file(preds, CODE, f"all {counted(len(rows), 'score')} lie outside 0-1 (from {low:g} to {high:g}): "
                                   f"they look like {guess}")
    finding.file = preds.file_of(file_index)
    return finding
