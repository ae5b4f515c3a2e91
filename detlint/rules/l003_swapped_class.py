"""swapped-class (L003): a confident prediction of another class sits on a label: the wrong class chosen?

Why it matters: a box with the wrong class trains the detector to confuse the two classes, and
evaluation counts a correct detection as both a false positive and a miss.

Runs with ``check --predictions FILE --label-issues K``: cleanlab's ObjectLab (the
``labelissues`` extra: ``pip install 'detlint[labelissues]'``) scores each image's labels against
the predictions, and the K images of lowest label quality are reported. A label's score is one
minus its similarity (0.9 IoU + 0.1 centre distance) to the most similar prediction of another
class with a score above 0.95 (a label stacked on a label of another class scores lowest); each
reported image names its worst box, and every box whose ObjectLab score is at or below
cleanlab's own threshold (its class's scaled average precision times 0.8). Located at the label;
``data`` gives the annotation row, the image row, the detection row and the label quality, for
reporters to draw both boxes.

The predictions must be out-of-sample: from a model that never trained on these images, e.g.
K-fold cross-validation (train on K-1 folds, predict the held-out one, K times). A model scores
its own training labels as correct, including their mistakes, so in-sample predictions hide
exactly the errors looked for here. detlint does not train that model: its smoke step is far too
short to give useful predictions.

Example: a box labelled "dog" on which the model predicts "cat" (score 0.99).
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.labelissues.objectlab import SWAPPED
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, box_text
from detlint.rules._label_issues import at_label, of_kind, prediction_text, quality_text

CODE = "L003"
NAME = "swapped-class"
SEVERITY = "info"
NEEDS = "label-issues"  # runs only with --predictions and --label-issues K
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    ann, findings = ds.annotations, []
    for found in of_kind(ds, ctx, SWAPPED):
        label = (f'{quality_text(ds, found)}: the box {box_text(ann.boxes[found.row])} labelled '
                 f'"{ds.categories.names[int(ann.category[found.row])]}"')
        if found.detection < 0:
            message = f"{label} lies on a label of another class"
        else:
            message = (f"{label} is predicted {prediction_text(ds, preds, found.detection)}: "
                       "a swapped class? Check which class it is")
        findings.append(at_label(ds, found, CODE, message))
    return findings
