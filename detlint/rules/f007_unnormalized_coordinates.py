"""unnormalized-coordinates (F007): a YOLO value outside [0, 1]: pixels where fractions belong.

Why it matters: YOLO rows hold ``cx cy w h`` as fractions of the image size. Ultralytics
rejects any label file with a value above 1 or below 0 ("ignoring corrupt image/label:
non-normalized or out of bounds coordinates") and drops the whole image from training; other
loaders multiply pixels by the image size and produce boxes thousands of pixels wide. The
message says how many images ultralytics would drop. Such rows are not also reported as boxes
out of the image (B002, B003).

Options: ``normalized-tolerance`` (default 0.01) accepted beyond [0, 1] before firing;
smaller overshoots of the box edges are B002.

Example: ``0 320 240 50 80`` (pixel values).

Fix: divide by the image width/height in the exporter.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotation
from detlint.rules._options import Option, Options
from detlint.safetext import counted

CODE = "F007"
NAME = "unnormalized-coordinates"
SEVERITY = "error"
REQUIRES = (Trait.NORMALIZED_COORDINATES,)
FIX = None
OPTIONS = Options(Option("normalized-tolerance", 0.01, "number",
                          "How far beyond [0, 1] a normalised YOLO coordinate may be before F007 fires.", minimum=0))


def _polygon_out_of_range(ds: Dataset, tolerance: float) -> np.ndarray:
    ann = ds.annotations
    out = np.zeros(len(ann), bool)
    for row in np.flatnonzero(ann.kind == Annotations.KIND_POLYGON).tolist():
        points = np.asarray(ann.segmentation[row] or [], dtype=np.float64)
        out[row] = bool(len(points)) and bool(((points < -tolerance) | (points > 1 + tolerance)).any())
    return out


def unnormalized_mask(ds: Dataset, tolerance: float = OPTIONS["normalized-tolerance"]) -> np.ndarray:
    """bool[N]: YOLO rows with a value outside [0, 1] beyond ``tolerance``."""
    ann = ds.annotations
    if not format_of(ds).has(Trait.NORMALIZED_COORDINATES):
        return np.zeros(len(ann), bool)
    with np.errstate(invalid="ignore"):
        box_out = (ann.kind == Annotations.KIND_BOX) & ((ann.raw < -tolerance) | (ann.raw > 1 + tolerance)).any(axis=1)
    return box_out | _polygon_out_of_range(ds, tolerance)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    rows = np.flatnonzero(unnormalized_mask(ds, float(ctx.get(OPTIONS, "normalized-tolerance"))))
    if not len(rows):
        return
    n_images = len(np.unique(ann.image[rows]))
    for row in rows.tolist():
        if ann.kind[row] == Annotations.KIND_BOX:
            values = " ".join(f"{v:g}" for v in ann.raw[row])
            pixels = bool((ann.raw[row] > 2).any())
        else:
            values = "polygon points"
            pixels = bool((np.asarray(ann.segmentation[row] or [0.0], dtype=np.float64) > 2).any())
        hint = " (they look like pixel coordinates)" if pixels else ""
        yield at_annotation(ds, row, CODE, f"values '{values}' are outside [0, 1]{hint}: ultralytics rejects "
                            "the whole image as corrupt ('non-normalized or out of bounds coordinates') and "
                            f"trains without it; {counted(n_images, 'image')} of this dataset "
                            f"{'is' if n_images == 1 else 'are'} affected")
