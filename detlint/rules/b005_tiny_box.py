"""tiny-box (B005): a box whose shorter side is below ``min-box-size`` pixels.

Why it matters: after the usual resize to the model's input, such a box covers less than a
pixel of the feature map; anchors never match it and it only adds label noise. Often a stray
click in the labelling tool.

Options: ``min-box-size`` (default 1 px). Degenerate boxes (side <= 0) are B001 instead.

Example: ``[10, 10, 10.4, 30]`` is 0.4 px wide.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask
from detlint.rules._options import Option, Options

CODE = "B005"
NAME = "tiny-box"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS = Options(Option("min-box-size", 1.0, "number", "Shorter box side, in px, below which B005 fires.",
                          minimum=0))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    minimum = float(ctx.get(OPTIONS, "min-box-size"))
    x1, y1, x2, y2 = box_columns(ds)
    # normalised rows: compare in pixels only where the image size is known
    scale_w = np.where(ds.annotations.normalized, np.nan, 1.0)
    shorter = np.minimum((x2 - x1) * scale_w, (y2 - y1) * scale_w)
    with np.errstate(invalid="ignore"):
        tiny = finite_box_mask(ds, ctx) & (shorter > 0) & (shorter < minimum)
    for row in np.flatnonzero(tiny).tolist():
        yield at_annotation(ds, row, CODE, f"box {box_text(ds.annotations.boxes[row])} has a "
                            f"{shorter[row]:.3g} px side (< min-box-size {minimum:g}): after resizing it is smaller "
                            "than a feature-map cell, so no anchor matches it and it only adds label noise")
