"""missing-image-size (F011): an image entry without a usable width and height.

Why it matters: bounds checks, YOLO conversion and COCOeval's area buckets all need the size;
loaders that trust the declared size crash or mis-scale. VOC ``<size>`` missing or 0 and COCO
``width``/``height`` missing or 0 are common in hand-made and converted datasets.

Example: VOC ``<size><width>0</width><height>0</height></size>``.

Fix (safe): fill the size in from the image header (needs the image file).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding, Fix
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._fixes import fill_size_fix
from detlint.rules._helpers import RuleContext, at_image

CODE = "F011"
NAME = "missing-image-size"
SEVERITY = "warning"
REQUIRES = (Trait.DECLARED_SIZES,)
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = "safe"
FIX_PRIORITY = 10  # fixes run in this order; drops run last
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    images = ds.images
    # entries without a declaring file (listed in a split file only) have no size to fix
    missing = ((images.width <= 0) | (images.height <= 0)) & (images.src_file >= 0)
    where = format_of(ds).image_size_label
    for row in np.flatnonzero(missing).tolist():
        fix = Fix("safe", "fill the size from the image header") if images.path[row] else None
        yield at_image(ds, row, CODE, f"image has no usable {where} ({images.width[row]} x {images.height[row]}): "
                       "bounds checks and YOLO conversion need it, loaders that trust it mis-scale boxes",
                       fix, field_name="width")


fix = fill_size_fix  # sizes from the image headers
