"""percent-out-of-range (F015): a Label Studio coordinate outside 0-100 percent, or a box past the right or bottom edge.

Why it matters: Label Studio stores ``value.x``, ``y``, ``width`` and ``height`` in percent of
``original_width`` / ``original_height``. A value below 0, or ``x + width`` / ``y + height``
above 100, puts the box (or polygon point) off the image: an import script or a ML backend
that wrote pixels where percent belong, or a region dragged past the edge. Label Studio's own
converter multiplies by the size without clipping, so YOLO files get values above 1, which
ultralytics rejects together with the whole image.

Options: ``percent-tolerance`` (default 0.5) accepted beyond [0, 100] before firing. Such
regions are not also reported as boxes out of the image (B002).

Example: ``"x": 95, "width": 10`` (ends at 105 %).

Fix: clip the region to the image in Label Studio, or rescale a pre-annotation that was in pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation
from detlint.rules._options import Option, Options

CODE = "F015"
NAME = "percent-out-of-range"
SEVERITY = "error"
REQUIRES = (Trait.PERCENT_COORDINATES,)
FIX = None
OPTIONS = Options(Option("percent-tolerance", 0.5, "number",
                          "How far beyond [0, 100] a percent coordinate may be before F015 fires.", minimum=0))
_KEYS = ("x", "y", "width", "height")


def out_of_range(raw: np.ndarray, tolerance: float) -> np.ndarray:
    """bool[N, 4]: which of ``x y width height`` (percent) puts the region off the image."""
    x, y, w, h = raw.T
    with np.errstate(invalid="ignore"):
        return np.column_stack([(x < -tolerance) | (x > 100 + tolerance), (y < -tolerance) | (y > 100 + tolerance),
                                (w < 0) | (x + w > 100 + tolerance), (h < 0) | (y + h > 100 + tolerance)])


def percent_mask(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    """bool[N]: rows this rule reports (B002 leaves them to it); none for pixel formats."""
    if not format_of(ds).has(Trait.PERCENT_COORDINATES):
        return np.zeros(len(ds.annotations), bool)
    return out_of_range(ds.annotations.raw, float(ctx.get(OPTIONS, "percent-tolerance"))).any(axis=1)


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    bad = out_of_range(ann.raw, float(ctx.get(OPTIONS, "percent-tolerance")))
    polygon = np.fromiter((isinstance(s, list) and bool(s) and isinstance(s[0], list) for s in ann.segmentation),
                          bool, len(ann))
    for row in np.flatnonzero(bad.any(axis=1)).tolist():
        key = _KEYS[int(np.argmax(bad[row]))]
        x, y, w, h = (f"{v:g}" for v in ann.raw[row])
        if polygon[row]:
            message, field = f"polygon points reach outside 0-100 % (bounds x {x}, y {y}, width {w}, height {h})", \
                "value/points"
        else:
            message, field = f"x {x}, y {y}, width {w}, height {h} (percent) reach outside the image", f"value/{key}"
        yield at_annotation(ds, row, CODE, f"{message}: Label Studio's own YOLO export then writes values "
                            "outside [0, 1] and ultralytics drops the whole image", field_name=field)
