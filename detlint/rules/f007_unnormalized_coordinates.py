"""unnormalized-coordinates (F007): a YOLO value outside [0, 1]: pixels where fractions belong.

Why it matters: YOLO rows hold ``cx cy w h`` as fractions of the image size. Ultralytics
rejects any label file with a value above 1 or below 0 ("non-normalized or out of bounds
coordinates") and trains the image as if it had no objects; other loaders multiply pixels by
the image size and produce boxes thousands of pixels wide. The message says how many images
ultralytics would drop.

Options: ``normalized-tolerance`` (default 0.01) accepted beyond [0, 1] before firing;
smaller overshoots of the box edges are B002.

Example: ``0 320 240 50 80`` (pixel values).

Fix: divide by the image width/height in the exporter.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotation

CODE = "F007"
NAME = "unnormalized-coordinates"
SEVERITY = "error"
FIX = None
OPTIONS = {"normalized-tolerance": 0.01}


def _polygon_out_of_range(ds: Dataset, tolerance: float) -> np.ndarray:
    ann = ds.annotations
    out = np.zeros(len(ann), bool)
    for row in np.flatnonzero(ann.kind == Annotations.KIND_POLYGON).tolist():
        points = np.asarray(ann.segmentation[row] or [], dtype=np.float64)
        out[row] = bool(len(points)) and bool(((points < -tolerance) | (points > 1 + tolerance)).any())
    return out


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if ds.format != "yolo":
        return
    tolerance = float(ctx.get(OPTIONS, "normalized-tolerance"))
    ann = ds.annotations
    with np.errstate(invalid="ignore"):
        box_out = (ann.kind == Annotations.KIND_BOX) & ((ann.raw < -tolerance) | (ann.raw > 1 + tolerance)).any(axis=1)
    bad = box_out | _polygon_out_of_range(ds, tolerance)
    rows = np.flatnonzero(bad)
    if not len(rows):
        return
    n_images = len(np.unique(ann.image[rows]))
    looks_like_pixels = bool((ann.raw[rows] > 2).any())
    hint = "looks like pixel coordinates; " if looks_like_pixels else ""
    for row in rows.tolist():
        values = " ".join(f"{v:g}" for v in ann.raw[row]) if ann.kind[row] == Annotations.KIND_BOX else "polygon"
        yield at_annotation(ds, row, CODE, f"values '{values}' are outside [0, 1] ({hint}ultralytics drops "
                            f"the labels of the whole image: {n_images} image(s) in this dataset)")
