"""self-intersecting-polygon (B010): a polygon's outline crosses itself (a bow-tie).

Why it matters: rasterisers disagree on a crossing outline. pycocotools and OpenCV ``fillPoly``
fill it even-odd, so the lobes' overlap becomes a hole and a bow-tie loses the part between its
crossing edges; the mask then differs from what the annotator drew, and its area (COCOeval's
size buckets) with it. Usually a vertex was dragged across an edge in the labelling tool.

Checked with shapely's validity test on every ring of 4 points or more, in bulk (COCO polygon
parts and YOLO rings alike). A ring that comes back to a vertex it already passed is not
reported: that is the zero-width bridge by which ultralytics' ``convert_coco`` (and ``detlint
convert --geometry mask``) join an object's parts and holes into one YOLO row.

Example: ``[[0, 0, 10, 10, 10, 0, 0, 10]]``: the edges (0,0)-(10,10) and (10,0)-(0,10) cross.

Fix: move the vertex back in the labelling tool.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotations, polygon_parts

CODE = "B010"
NAME = "self-intersecting-polygon"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    from detlint.geometry.polygons import self_intersecting

    parts = polygon_parts(ds, ctx)
    if not len(parts):
        return iter(())
    crossing = self_intersecting(parts)
    if not crossing.any():
        return iter(())
    rows, first = np.unique(parts.row[crossing], return_index=True)
    part = parts.part[crossing][first].tolist()
    ring = parts.normalized[crossing][first].tolist()
    names = ["the polygon" if yolo else f"polygon {p}" for p, yolo in zip(part, ring)]
    messages = [f"{name} crosses itself: pycocotools and OpenCV fill a crossing outline even-odd, so the "
                "mask loses the region between the crossing edges" for name in names]
    data = [{"row": row, "part": p} for row, p in zip(rows.tolist(), part)]
    return iter(at_annotations(ds, rows.tolist(), CODE, messages, None, "segmentation", data))
