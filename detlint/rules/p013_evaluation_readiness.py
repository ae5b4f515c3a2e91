"""evaluation-readiness (P013): what pycocotools will do with the predictions file.

One finding per predictions file (severity info): a summary, before you run an evaluation, of
what the evaluator will make of the detections, so a wrong file does not show up as a silent
0.0 mAP or an exception from deep inside the evaluator.

For COCO results checked against a COCO dataset (declared image and category ids) it predicts,
without running pycocotools, what ``COCO.loadRes`` and ``COCOeval(gt, dt, "bbox").evaluate()``
(pycocotools 2.0) do:

- whether ``loadRes`` raises, and what: ``AssertionError: results in not an array of objects``
  (a dataset given as results), ``AssertionError: Results do not correspond to current coco
  set`` (an ``image_id`` the dataset lacks, by Python's equality: ``1.0`` matches ``1``, the
  string ``"1"`` does not), ``IndexError`` (an empty list), ``KeyError: 'bbox'`` (the first
  entry has a box, a later one none), ``KeyError: 'id'`` (the first entry has no ``bbox``),
  ``KeyError: 'image_id'`` or ``'category_id'`` (an entry without one);
- whether ``evaluate`` raises: ``KeyError: 'score'`` for a detection of a known class without a
  score (a detection of an unknown class is dropped before its score is read);
- how many images it evaluates (every image of the dataset, with detections or not), how many
  detections take part, and how many it drops without a word: those whose ``category_id`` is
  not a category id of the dataset (an off-by-one id, YOLO's 0-based index, a class name), and
  those past ``maxDets`` (``max-dets``, 100) per image AND class, the lowest scores first (a
  NaN score counts as the lowest).

For other combinations (YOLO prediction text files, a dataset without declared ids) it says
what an evaluator does in general: detections of unknown images and classes are not evaluated,
and at most ``max-dets`` per image and class are.

The numbers are in the finding's ``data["evaluation"]``. Options: ``max-dets`` (default 100).

Example: ``pycocotools COCOeval (bbox, maxDets 100) would evaluate 4,998 images (12 of them
without detections), use 49,800 of 50,000 detections: 150 of unknown classes ignored, 50 past
maxDets ignored``.

Fix: none; the other P codes say what to change (P002 unknown images, P003 unknown classes,
P004 scores, P009 too many detections, P012 a dataset given as results).
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset, Predictions
from detlint.rules._cocoeval import predict
from detlint.rules._helpers import RuleContext
from detlint.rules._options import MAX_DETS, Options
from detlint.rules._predictions import at_file

CODE = "P013"
NAME = "evaluation-readiness"
SEVERITY = "info"
FIX = None
NEEDS = "predictions"  # runs only with check --predictions
OPTIONS = Options(MAX_DETS)


def pycocotools_applies(ds: Dataset, preds: Predictions) -> bool:
    """COCO results (ids, JSON) against a dataset that declares image and category ids."""
    return (format_of(ds).has(Trait.DECLARED_IDS) and preds.class_basis == "id"
            and preds.pointer_prefix is not None)


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    preds = ctx.predictions
    if preds is None:
        return []
    evaluation = predict(ds, preds, max_dets=int(ctx.get(OPTIONS, "max-dets")),
                         pycocotools=pycocotools_applies(ds, preds))
    return [at_file(preds, CODE, evaluation.text, data={"evaluation": evaluation.data()})]
