"""unknown-prediction-class (P003): detections of a class the dataset does not have, or class
references that are all off in a way the ground truth gives away.

Why it matters: COCOeval evaluates the ground truth's category ids only, so detections of any
other ``category_id`` are ignored without a word, and a mAP of 0 is the first sign. The usual
causes, which the message names when the whole file supports one:

- **off by one**: every id shifted by one, e.g. ultralytics' ``save_json`` writes
  ``index + 1`` for a dataset that is not COCO, and a 0-based class index written as a 1-based id;
- **COCO's 91 ids against an 80-class list**, or the reverse: a model's class index (0-79)
  written as ``category_id`` against COCO's sparse ids (1-90);
- **names where ids belong** (``"category_id": "person"``).

How it decides: each reading of the file's class references is judged by the ground truth. Of
the most confident detections (up to 20,000), the share that overlaps a box of its own class at
IoU 0.5 is computed under the file's own reading and under each alternative; an alternative wins
when it explains at least twice as many and at least 30% (with at least 20 detections on
objects). The message gives both shares. This also catches a shift that leaves every id valid
(ids 1-80 read against 0-79): no id is unknown, but the classes are all wrong, so it is one
finding for the file. Without ground truth to compare, a reading under which every reference is
a class while the file's own is not is named as likely.

One finding per unknown class reference, at its first detection, with the number of detections.

Fix: remap the class references (the message says how), or evaluate against the class list the
model was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset, Predictions
from detlint.rules._agreement import MIN_EVIDENCE, hit_share, image_pairs, sample_rows
from detlint.rules._class_mapping import readings
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_detection, at_file, class_ref
from detlint.safetext import counted

CODE = "P003"
NAME = "unknown-prediction-class"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


@dataclass
class _Verdict:
    cause: str  # "" when none
    evidence: str  # the shares it was decided by
    silent: bool  # every reference is a class, yet the file reads wrong as a whole
    confirmed: bool = False  # decided by the ground truth (else by coverage alone)


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None or not len(preds):
        return []
    det = preds.detections
    verdict = _verdict(ds, preds, ctx)
    unknown = np.flatnonzero(det.category < 0)
    findings = []
    if verdict.silent:
        findings.append(at_file(preds, CODE, f"{verdict.cause}: COCOeval matches every detection against the "
                                f"wrong class ({verdict.evidence})"))
    elif verdict.evidence and verdict.confirmed:
        wrong = len(det) - len(unknown)
        findings.append(at_file(preds, CODE, f"{verdict.cause} ({verdict.evidence}): "
                                f"{counted(len(unknown), 'detection')} name no class and are ignored, and the "
                                f"other {wrong} are evaluated as the wrong class"))
    groups: dict[object, list[int]] = {}
    for row in unknown.tolist():
        groups.setdefault(_ref(preds, row), []).append(row)
    names = {name: i for i, name in enumerate(ds.categories.names)}
    for ref, rows in groups.items():
        cause = verdict.cause
        if isinstance(ref, str) and ref in names:
            cause = f"a class name where the {class_ref(preds)} belongs (the dataset's id of {ref!r} is " \
                    f"{int(ds.categories.ids[names[ref]])})"
        evaluator = "COCOeval ignores them" if preds.class_basis == "id" else "evaluation ignores them"
        text = f"{class_ref(preds)} {ref!r} is not a class of the dataset ({counted(len(rows), 'detection')}): " \
               f"{evaluator}"
        if cause:  # the evidence is in the file's finding when there is one
            said = verdict.silent or verdict.confirmed
            text += f"; likely cause: {cause}" + (f" ({verdict.evidence})" if verdict.evidence and not said else "")
        findings.append(at_detection(ds, preds, rows[0], CODE, text,
                                     key="category_id" if preds.pointer_prefix is not None else None))
    return findings


def _ref(preds: Predictions, row: int) -> object:
    extra = preds.detections.extra[row]
    if isinstance(extra, dict) and "category_id" in extra:
        value = extra["category_id"]
        return value if isinstance(value, (str, int, float)) else repr(value)
    return int(preds.detections.class_id[row])


def _verdict(ds: Dataset, preds: Predictions, ctx: RuleContext) -> _Verdict:
    det = preds.detections
    integer = det.extra == None  # noqa: E711 - elementwise: the reader sets extra only for a non-integer class
    refs = det.class_id
    options = readings(ds, preds)
    # each reading judged on the distinct references, weighted by how often each occurs
    distinct, counts = np.unique(refs[integer], return_counts=True)
    coverage = {name: float(counts[f(distinct) >= 0].sum() / counts.sum()) if len(distinct) else 0.0
                for name, (_, f) in options.items()}
    sample = sample_rows(preds, ctx)
    sample = sample[integer[sample]]
    pairs = image_pairs(ds, preds, sample, ctx)
    shares = {name: hit_share(ds, pairs, det.boxes[sample], f(refs[sample])) for name, (_, f) in options.items()}
    declared, evidence_size = shares["declared"][0], shares["declared"][1]
    others = [name for name in options if name != "declared"]
    if evidence_size >= MIN_EVIDENCE and others:
        best = max(others, key=lambda name: shares[name][0])
        if shares[best][0] >= max(0.3, 2 * declared) and coverage[best] >= 0.95:
            evidence = (f"{shares[best][0]:.0%} of the most confident detections on an object overlap a box of "
                        f"their class when read so, {declared:.0%} as written")
            return _Verdict(options[best][0], evidence, silent=coverage["declared"] >= 0.95, confirmed=True)
        return _Verdict("", "", False)
    full = [name for name in others if coverage[name] == 1.0]
    if coverage["declared"] < 1.0 and len(full) == 1:
        return _Verdict(options[full[0]][0], "every reference is a class when read so; no ground-truth box "
                        "overlaps enough detections to confirm it", False)
    return _Verdict("", "", False)
