"""extreme-aspect-ratio (B007): a box much longer than it is wide (or the reverse).

Why it matters: anchor-based detectors use aspect ratios around 0.5-2; a 1:40 box matches no
anchor and is silently ignored in training. Real objects this thin exist (poles, cables), but
more often the box is a slip of the mouse or a swapped coordinate.

Options: ``max-aspect-ratio`` (default 20): fires when max(w/h, h/w) is larger.

Example: ``[10, 10, 410, 15]`` is 400 x 5, ratio 80.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask
from detlint.rules._options import Option, Options

CODE = "B007"
NAME = "extreme-aspect-ratio"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS = Options(Option("max-aspect-ratio", 20.0, "number", "B007 fires when max(w/h, h/w) is larger.",
                          minimum=1))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    limit = float(ctx.get(OPTIONS, "max-aspect-ratio"))
    x1, y1, x2, y2 = box_columns(ds)
    w, h = x2 - x1, y2 - y1
    # aspect ratios of normalised rows depend on the unknown image shape, so only pixel boxes
    valid = finite_box_mask(ds, ctx) & (w > 0) & (h > 0) & ~ds.annotations.normalized
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(valid, np.maximum(w / h, h / w), 0.0)
    for row in np.flatnonzero(ratio > limit).tolist():
        yield at_annotation(ds, row, CODE, f"box {box_text(ds.annotations.boxes[row])} has aspect ratio "
                            f"{ratio[row]:.1f} (> max-aspect-ratio {limit:g}); no anchor matches it")
