"""rotation-not-exported (F018): a rotated rectangle that axis-aligned exports write as if it were upright.

Why it matters: Label Studio lets annotators rotate a rectangle (``value.rotation``, degrees
clockwise about its top-left corner ``(x, y)``), but its own COCO, Pascal VOC and YOLO exports
(``label-studio-converter``) ignore ``rotation`` and write ``x, y, width, height`` as an upright
box at the unrotated position: the box covers a different part of the image than the one the
annotator drew, silently. Axis-aligned detectors cannot represent the rotation at all.

What detlint does instead: it reads the rectangle as an oriented box (its four corners). A
conversion to an axis-aligned format writes the corners' enclosing box and lists that as a loss;
``convert --to labelstudio`` keeps the rotation. So the finding says what Label Studio's own
export would do with the box, and where the rotated rectangles are.

Example: ``"rotation": 45`` on a ``rectanglelabels`` result.

Fix: train an oriented-box model (YOLO-OBB, DOTA) on a ``detlint convert`` of the export, or
export through detlint rather than Label Studio's converter; if rotation was not intended,
disable it in the labelling config (``<RectangleLabels canRotate="false">``) and redraw.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotations

CODE = "F018"
NAME = "rotation-not-exported"
SEVERITY = "warning"
REQUIRES = (Trait.PERCENT_COORDINATES,)
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    rows = np.flatnonzero(ann.kind == Annotations.KIND_OBB).tolist()
    messages = []
    for row in rows:
        angle = (ann.extra[row] or {}).get("rotation", float("nan"))
        messages.append(f"rectangle rotated by {angle:g} degrees: Label Studio's COCO/VOC/YOLO export writes it "
                        "upright at its unrotated position; detlint writes its enclosing box to axis-aligned formats")
    yield from at_annotations(ds, rows, CODE, messages, None, "value/rotation", [{"row": r} for r in rows])
