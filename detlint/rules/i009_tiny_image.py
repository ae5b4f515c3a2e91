"""tiny-image (I009): an image side is shorter than ``min-image-size`` pixels (default 10).

Why it matters: such files are usually thumbnails, placeholders, tracking pixels or failed
exports; resized to the network's input size they are noise, and crop-based augmentations
can fail on them.

Example: a 1x1 GIF saved as ``images/0042.jpg`` by a scraper.

Fix: replace the image with the real one or remove the entry. Set ``min-image-size`` to change
the limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.images import report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image
from detlint.rules._options import Option, Options

CODE = "I009"
NAME = "tiny-image"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS = Options(Option("min-image-size", 10, "integer", "Image side, in px, below which I009 fires.",
                          minimum=1))
IMAGES = "header"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    limit = int(ctx.get(OPTIONS, "min-image-size"))
    report = report_for(ds, ctx)
    tiny = report.readable & report.first_of_file & (np.minimum(report.real_width, report.real_height) < limit)
    for row in np.flatnonzero(tiny).tolist():
        size = f"{report.real_width[row]}x{report.real_height[row]}"
        yield at_image(ds, row, CODE, f"'{report.paths[row]}' is {size}, smaller than {limit} px",
                       field_name="file_name")
