"""detectron2-size-mismatch (R030): the declared width/height differ from the image file, and
detectron2 stops training with ``SizeMismatchError``.

Why it matters: detectron2's ``DatasetMapper`` decodes each image (``read_image``, which applies
the EXIF orientation) and calls ``check_image_size``, which raises ``SizeMismatchError:
Mismatched image shape for image ..., got (w, h), expect (W, H).`` when the decoded size is not
the ``width``/``height`` of the annotation file (``detectron2/data/detection_utils.py``,
facebookresearch/detectron2 c0ccab0). The error comes from a data-loader worker, at whatever
iteration first samples the image, possibly hours into a run. I003 reports the mismatch for
every trainer; R030 says this one crashes on it.

Needs ``--images header`` (the default) or ``decode``: with ``--images none`` the sizes are not
read and R031 says so.

Example: ``{"file_name": "a.jpg", "width": 640, "height": 480}`` for a 480x640 photo.

Fix: take the real size from the image (``detlint check --fix`` fixes I003). Runs with
``--target detectron2``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.images import report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "R030"
NAME = "detectron2-size-mismatch"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
SCOPE = "image"
IMAGES = "header"
REQUIRES = (Trait.DECLARED_SIZES,)
TARGET = "detectron2"


def message(file_name: str, got: tuple[int, int], expect: tuple[int, int]) -> str:
    """``check_image_size``'s message, as detectron2 formats it."""
    return (f"SizeMismatchError: Mismatched image shape for image {file_name}, got {got}, expect {expect}. "
            "Please check the width/height in your annotation.")


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    width, height = ds.images.width, ds.images.height
    differs = (width != report.real_width) | (height != report.real_height)
    for row in np.flatnonzero(report.readable & (width > 0) & (height > 0) & differs).tolist():
        got, expect = (int(report.real_width[row]), int(report.real_height[row])), (int(width[row]), int(height[row]))
        yield at_image(ds, row, CODE, f"declared {expect[0]}x{expect[1]} but the image is {got[0]}x{got[1]}: "
                       "detectron2 raises SizeMismatchError when it loads it", field_name="width",
                       data={"image_row": row, "width": got[0], "height": got[1],
                             "raises": message(str(report.paths[row]), got, expect)})
