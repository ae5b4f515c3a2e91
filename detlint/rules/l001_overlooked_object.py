"""overlooked-object (L001): a confident prediction that no label covers: an object the annotators missed?

Why it matters: an unlabelled object is trained as background, so the detector learns to miss
exactly such objects, and evaluation counts a correct detection of it as a false positive.

Runs with ``check --predictions FILE --label-issues K``: cleanlab's ObjectLab (the
``labelissues`` extra: ``pip install 'detlint[labelissues]'``) scores each image's labels against
the predictions, and the K images of lowest label quality are reported. A prediction is a
candidate when its score is at least 0.95 and it overlaps no label of the image at all (one
lying mostly inside a COCO crowd region is left out: a crowd's objects are not labelled); each
reported image names its worst box, and every box whose ObjectLab score is at or below
cleanlab's own threshold (its class's scaled average precision times 0.8). Located at the
file that holds the image's labels; ``data`` gives the image row, the detection row and the
label quality, for reporters to draw the predicted box.

The predictions must be out-of-sample: from a model that never trained on these images, e.g.
K-fold cross-validation (train on K-1 folds, predict the held-out one, K times). A model scores
its own training labels as correct, including their mistakes, so in-sample predictions hide
exactly the errors looked for here. detlint does not train that model: its smoke step is far too
short to give useful predictions.

Example: an image labelled with one "car" and a prediction "person" (score 0.98) beside it.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.labelissues.objectlab import OVERLOOKED
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext
from detlint.rules._label_issues import at_image_labels, first_annotations, of_kind, prediction_text, quality_text

CODE = "L001"
NAME = "overlooked-object"
SEVERITY = "info"
NEEDS = "label-issues"  # runs only with --predictions and --label-issues K
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    issues = of_kind(ds, ctx, OVERLOOKED)
    first = first_annotations(ds) if issues else np.zeros(0, np.int64)
    return [at_image_labels(ds, found, CODE, f"{quality_text(ds, found)}: the model predicts "
                            f"{prediction_text(ds, preds, found.detection)} where no label is: an overlooked "
                            "object? Label it, or confirm it is background", first)
            for found in issues]
