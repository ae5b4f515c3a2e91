"""too-few-points (F016): a COCO polygon with fewer than 3 points, or an odd count of numbers.

Why it matters: pycocotools' ``frPyObjects`` (which ``COCO.annToMask``, COCOeval's segm mode and
torchvision's COCO reference loader all call) raises on a polygon of fewer than 6 numbers, and an
odd count leaves a coordinate without its pair: training or evaluation stops at that annotation,
or the mask is silently wrong.

Only pixel polygon lists (``"segmentation": [[x1, y1, ...], ...]``) are checked here; a YOLO
label row with too few values is F006 (malformed-label-line), reported by the reader.

Example: ``"segmentation": [[10, 10, 20, 20]]`` (2 points), ``[[10, 10, 20, 20, 30]]`` (odd).

Fix: remove the part or the annotation, or redraw it in the labelling tool.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations, polygon_parts

CODE = "F016"
NAME = "too-few-points"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    parts = polygon_parts(ds, ctx)
    bad = ~parts.normalized & ((parts.lengths < 6) | (parts.lengths % 2 == 1))
    if not bad.any():
        return iter(())
    rows, first = np.unique(parts.row[bad], return_index=True)
    part, length = parts.part[bad][first].tolist(), parts.lengths[bad][first].tolist()
    messages = [f"polygon {p} has {n} numbers ({'an odd count' if n % 2 else f'{n // 2} points'}): a polygon "
                "needs 3 points (6 numbers, in x y pairs); pycocotools' frPyObjects raises on it"
                for p, n in zip(part, length)]
    data = [{"row": row, "part": p} for row, p in zip(rows.tolist(), part)]
    return iter(at_annotations(ds, rows.tolist(), CODE, messages, None, "segmentation", data))
