"""badly-located-box (L002): a label's box overlaps its best same-class prediction poorly: a box drawn off the object?

Why it matters: a box that cuts the object or takes in background teaches the detector to
regress to the wrong edges, and evaluation at IoU 0.5 to 0.95 marks correct detections wrong.

Runs with ``check --predictions FILE --label-issues K``: cleanlab's ObjectLab (the
``labelissues`` extra: ``pip install 'detlint[labelissues]'``) scores each image's labels against
the predictions, and the K images of lowest label quality are reported. A label's score is its
similarity (0.9 IoU + 0.1 centre distance) to the most similar prediction of its class with a
score above 0.5 that overlaps it; each reported image names its worst box, and every box whose
ObjectLab score is at or below cleanlab's own threshold (its class's scaled average precision
times 0.8). Located at the label; ``data`` gives the annotation row, the image row, the detection
row and the label quality, for reporters to draw both boxes.

The predictions must be out-of-sample: from a model that never trained on these images, e.g.
K-fold cross-validation (train on K-1 folds, predict the held-out one, K times). A model scores
its own training labels as correct, including their mistakes, so in-sample predictions hide
exactly the errors looked for here. detlint does not train that model: its smoke step is far too
short to give useful predictions.

Example: a "dog" labelled ``[200, 200, 300, 300]`` and predicted ``[240, 240, 340, 340]``
(score 0.97): IoU 0.22.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.labelissues.objectlab import BADLY_LOCATED
from detlint.model import Dataset
from detlint.rules._duplicates import iou
from detlint.rules._helpers import RuleContext, box_text
from detlint.rules._label_issues import at_label, of_kind, prediction_text, quality_text

CODE = "L002"
NAME = "badly-located-box"
SEVERITY = "info"
NEEDS = "label-issues"  # runs only with --predictions and --label-issues K
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    ann, findings = ds.annotations, []
    boxes = ann.boxes
    for found in of_kind(ds, ctx, BADLY_LOCATED):
        name = ds.categories.names[int(ann.category[found.row])]
        label = f'{quality_text(ds, found)}: the "{name}" box {box_text(boxes[found.row])}'
        if found.detection < 0:
            message = f"{label} has no overlapping prediction of its class"
        else:
            overlap = float(iou(boxes[[found.row]], preds.detections.boxes[[found.detection]])[0])
            message = (f"{label} overlaps the model's {prediction_text(ds, preds, found.detection)} with IoU "
                       f"{overlap:.2f} only: a badly located box? Check its edges")
        findings.append(at_label(ds, found, CODE, message))
    return findings
