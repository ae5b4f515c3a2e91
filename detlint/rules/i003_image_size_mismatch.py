"""image-size-mismatch (I003): declared width/height differ from the image (after EXIF).

Why it matters: boxes are drawn against the declared size; if the real image is larger or
smaller, every box lands in the wrong place, and tools that normalise by the declared size
(COCO to YOLO conversion, resizing transforms) scale them wrongly. The real size is the size a
viewer shows, i.e. after EXIF orientation.

Not checked for YOLO, whose image size is read from the image itself.

Example: COCO ``{"file_name": "a.jpg", "width": 640, "height": 480}`` for a 1280x960 image.

Fix (safe): take the real size from the image header.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait
from detlint.images import SWAPPING_ORIENTATIONS, report_for
from detlint.model import Dataset
from detlint.rules._fixes import fill_size_fix
from detlint.rules._helpers import RuleContext, at_image

CODE = "I003"
NAME = "image-size-mismatch"
SEVERITY = "error"
REQUIRES = (Trait.DECLARED_SIZES,)
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
FIX_PRIORITY = 10  # fixes run in this order; drops run last
OPTIONS: dict = {}
IMAGES = "header"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    width, height = ds.images.width, ds.images.height
    differs = (width != report.real_width) | (height != report.real_height)
    for row in np.flatnonzero(report.readable & (width > 0) & (height > 0) & differs).tolist():
        real = f"{report.real_width[row]}x{report.real_height[row]}"
        message = f"declared size {width[row]}x{height[row]} but '{report.paths[row]}' is {real}"
        if int(report.orientation[row]) in SWAPPING_ORIENTATIONS:
            message += (f" as displayed (EXIF orientation {report.orientation[row]}; stored pixels "
                        f"{report.stored_width[row]}x{report.stored_height[row]})")
        yield at_image(ds, row, CODE, message, fix=Fix("safe", f"set the size to {real}"), field_name="width",
                       data={"image_row": row, "width": int(report.real_width[row]),
                             "height": int(report.real_height[row])})


fix = fill_size_fix  # the real size, from the image header
