"""unknown-prediction-image (P002): detections name an image the dataset does not have.

Why it matters: pycocotools' ``loadRes`` refuses the whole file ("Results do not correspond to
current coco set") when a single ``image_id`` is not an image of the ground truth, and other
evaluators drop those detections silently. The usual causes are named in the message:

- image ids written as strings (``"42"``): pycocotools compares ids by equality, and ``"42"``
  is not ``42``;
- file names or stems where ids belong (``"000000397133"``), as a YOLO-trained model's
  ``save_json`` writes for a dataset whose file names are not its ids;
- predictions of another split or another version of the dataset.

Images are matched as the evaluators match them: by the dataset's image ids where it declares
them (COCO), else by the file stem (ultralytics writes ``int(stem)`` for a numeric stem); a
YOLO prediction file ``<stem>.txt`` names the image of that stem.

One finding per unknown image, at its first detection, with the number of detections naming it.

Fix: write the dataset's own image ids, or check against the split the predictions were made on.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.formats.predictions.matching import integral
from detlint.model import Dataset, Predictions
from detlint.rules._helpers import RuleContext
from detlint.rules._predictions import at_detection, at_file
from detlint.safetext import counted

CODE = "P002"
NAME = "unknown-prediction-image"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    unknown = np.flatnonzero(preds.detections.image < 0)
    if not len(unknown):
        return []
    keys = [_hashable(k) for k in preds.image_keys[unknown].tolist()]
    first: dict[object, int] = {}
    counts: dict[object, int] = {}
    for row, key in zip(unknown.tolist(), keys):
        first.setdefault(key, row)
        counts[key] = counts.get(key, 0) + 1
    cause = _cause(ds, preds, list(first))
    findings = [at_detection(ds, preds, row, CODE, _message(preds, key, counts[key], cause),
                             key="image_id" if preds.pointer_prefix is not None else None)
                for key, row in first.items()]
    if preds.pointer_prefix is not None and len(first) > 1:
        findings.append(at_file(preds, CODE, f"{counted(len(unknown), 'detection')} name "
                                f"{counted(len(first), 'image')} the dataset does not have{cause}"))
    return findings


def _hashable(key: object) -> object:
    return key if isinstance(key, (int, float, str, type(None))) else repr(key)


def _message(preds: Predictions, key: object, count: int, cause: str) -> str:
    if preds.pointer_prefix is None:
        return (f"no image of the dataset has the stem {key!r} ({counted(count, 'detection')} in this file): "
                f"an evaluator drops them{cause}")
    return (f"image_id {key!r} is not an image of the dataset ({counted(count, 'detection')}): pycocotools' "
            f"loadRes raises 'Results do not correspond to current coco set'{cause}")


def _cause(ds: Dataset, preds: Predictions, keys: list[object]) -> str:
    """The likely reason, from all the unknown keys at once ("" when none fits)."""
    if preds.pointer_prefix is None or not keys:
        return ""
    ids = {int(v) for v in ds.images.id.tolist()}
    stems = {str(p or n).rsplit("/", 1)[-1].rsplit(".", 1)[0] for p, n in
             zip(ds.images.path.tolist(), ds.images.file_name.tolist())}
    texts = [k for k in keys if isinstance(k, str)]
    numeric = [k for k in texts if k.strip().lstrip("-").isdigit() and int(k) in ids]
    if texts and len(numeric) >= 0.9 * len(keys):
        return f" (image ids written as strings: {numeric[0]!r} is the id {int(numeric[0])} as text)"
    named = [k for k in texts if k in stems or k.rsplit("/", 1)[-1].rsplit(".", 1)[0] in stems]
    if texts and len(named) >= 0.9 * len(keys):
        return f" (file names where image ids belong: {named[0]!r} is an image's file name, not its id)"
    numbers = [integral(k) for k in keys]
    by_stem = [k for k in numbers if k is not None and (str(k) in stems or f"{k:012d}" in stems)]
    if by_stem and len(by_stem) >= 0.9 * len(keys):
        return f" (file numbers where image ids belong: {by_stem[0]} is an image's file name, not its id)"
    return ""
