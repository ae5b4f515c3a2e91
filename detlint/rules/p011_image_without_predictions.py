"""image-without-predictions (P011): an image of the dataset that no detection names.

Why it matters: often fine (the model found nothing), but a run of them usually means the
predictions were made on part of the data: a crashed or sharded inference run, images skipped
for a decoding error, or file names that did not match. COCOeval still evaluates such an image,
so every object on it counts as missed.

Only images of the splits that the predictions cover are listed (predictions of the val split
say nothing about the train images), and nothing is listed when no detection matches any image
(P002 then says why). Located at the image's annotation, as I005 is.

Fix: none needed if the model really found nothing there; else rerun inference on those images.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "P011"
NAME = "image-without-predictions"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "predictions"


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    matched = preds.detections.image[preds.detections.image >= 0]
    if not len(matched):
        return []
    counts = np.bincount(matched, minlength=len(ds.images))
    splits = ds.images.split.tolist()
    named = set(ds.images.split[counts > 0].tolist())  # the splits the predictions cover
    covered = np.fromiter((split in named for split in splits), bool, len(splits))
    rows = np.flatnonzero((counts == 0) & covered)
    return [at_image(ds, row, CODE, f"no detection names this image ({preds.title}): every object on it counts "
                     "as missed; fine if the model found nothing, else inference skipped it")
            for row in rows.tolist()]
