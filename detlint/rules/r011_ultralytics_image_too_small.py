"""ultralytics-image-too-small (R011): an image side is under 10 px, and ultralytics drops it.

Why it matters: ultralytics checks each image before training and skips, with its labels, any
image whose height or width (after EXIF rotation) is not above 9 px: "image size (h, w) <10
pixels" (``ultralytics/data/utils.py`` ``check_image``, called by ``verify_image_label``,
ultralytics 8.4.190). I009 warns about tiny images for every trainer; R011 says this one drops
them.

Example: a 1x1 tracking pixel saved as ``images/train/0042.jpg`` with two boxes: both are lost.

Fix: replace the image with the real one or remove it. Runs with ``--target ultralytics``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "R011"
NAME = "ultralytics-image-too-small"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
SCOPE = "image"
IMAGES = "header"
TARGET = "ultralytics"
MIN_SIDE = 10  # check_image: assert (shape[0] > 9) & (shape[1] > 9)


def too_small(ds: Dataset) -> np.ndarray:
    """Rows of images with a known size whose shorter side is under ``MIN_SIDE``."""
    width, height = ds.images.width, ds.images.height
    known = (width > 0) & (height > 0) & (ds.images.path.astype(str) != "")
    return np.flatnonzero(known & (np.minimum(width, height) < MIN_SIDE))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    for row in too_small(ds).tolist():
        size = f"{ds.images.width[row]}x{ds.images.height[row]}"
        yield at_image(ds, row, CODE, f"image is {size}: ultralytics skips images with a side under "
                       f"{MIN_SIDE} px", field_name="file_name")
