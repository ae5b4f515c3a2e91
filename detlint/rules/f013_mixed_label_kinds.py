"""mixed-label-kinds (F013): a YOLO dataset mixes box rows and polygon rows.

Why it matters: a detection trainer keeps the box rows (ultralytics converts polygons to boxes
for detection, but a segmentation trainer drops the box rows and warns once); either way one
kind is silently degraded or lost. Roboflow exports of projects annotated with both tools do this.

Example: ``0 0.5 0.5 0.2 0.2`` in one file and ``0 0.1 0.1 0.3 0.1 0.2 0.4`` in another.

Fix: export one kind only (boxes for detection, polygons for segmentation).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotation
from detlint.safetext import counted

CODE = "F013"
NAME = "mixed-label-kinds"
SEVERITY = "warning"
REQUIRES = (Trait.LABEL_ROWS,)
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    kind = ds.annotations.kind
    n_box = int((kind == Annotations.KIND_BOX).sum())
    # a YOLO-OBB row is a 4-point polygon row to ultralytics' label check ("labels mix segment and
    # detection rows"), so oriented boxes count with the polygons
    shaped = np.isin(kind, (Annotations.KIND_POLYGON, Annotations.KIND_OBB))
    n_polygon = int(shaped.sum())
    if not (n_box and n_polygon):
        return
    rows = np.flatnonzero(shaped if n_polygon <= n_box else kind == Annotations.KIND_BOX)
    first_per_file = rows[np.unique(ds.annotations.src_file[rows], return_index=True)[1]]
    for row in np.sort(first_per_file).tolist():
        yield at_annotation(ds, row, CODE, f"the dataset mixes {counted(n_box, 'box row')} and "
                            f"{counted(n_polygon, 'polygon row')}: "
                            "a detection trainer degrades the polygons, a segmentation trainer drops the boxes")
