"""mmdet-image-below-min-size (R020): the image's short side is under mmdet's ``min_size``, and
mmdet leaves it out of training.

Why it matters: MMDetection's ``CocoDataset.filter_data`` keeps an image only if
``min(width, height) >= min_size``, with the width and height the annotation file declares
(``mmdet/datasets/coco.py``, mmdet 3.3.0). The COCO configs set
``filter_cfg=dict(filter_empty_gt=True, min_size=32)`` (``configs/_base_/datasets/
coco_detection.py``), so a 20x20 crop trains nothing and all its boxes are lost; mmdet logs
nothing per image. I009 warns about tiny images for every trainer; R020 says this one drops them.

Example: ``{"file_name": "crop_17.jpg", "width": 24, "height": 300}`` is dropped (24 < 32).

Fix: remove or replace the image, or lower ``min_size`` in the training config and set
``mmdet-min-size`` to the same value. Runs with ``--target mmdet``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image
from detlint.rules._options import Option, Options

CODE = "R020"
NAME = "mmdet-image-below-min-size"
SEVERITY = "warning"
FIX = None
SCOPE = "image"
TARGET = "mmdet"
OPTIONS = Options(Option("mmdet-min-size", 32, "integer",
                         "mmdet's filter_cfg min_size: short image side, in px, below which R020 fires "
                         "and the mmdet target drops the image.", minimum=0))


def below_min_size(ds: Dataset, min_size: int) -> np.ndarray:
    """Rows of listed images with a known size whose short side is under ``min_size``."""
    width, height = ds.images.width, ds.images.height
    known = (width > 0) & (height > 0) & (ds.images.path.astype(str) != "")
    return np.flatnonzero(known & (np.minimum(width, height) < min_size))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    min_size = int(ctx.get(OPTIONS, "mmdet-min-size"))
    for row in below_min_size(ds, min_size).tolist():
        side = min(int(ds.images.width[row]), int(ds.images.height[row]))
        yield at_image(ds, row, CODE, f"image is {ds.images.width[row]}x{ds.images.height[row]}: mmdet's "
                       f"filter_data drops images whose short side is under min_size {min_size} "
                       f"(here {side} px)", field_name="width")
