"""unannotated-image (I005): an image has no annotations.

Why it matters: fine for deliberate negatives (they teach the detector what is background), but
an unexpected one is often a lost label file. Some loaders (older torchvision references,
``remove_images_without_annotations``) drop them, changing the dataset size. Informational,
listed so that you can confirm the negatives are intended.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "I005"
NAME = "unannotated-image"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    images = ds.images
    image_rows = ds.annotations.image[ds.annotations.image >= 0]
    counts = np.bincount(image_rows, minlength=len(images))
    for row in np.flatnonzero(counts == 0).tolist():
        yield at_image(ds, row, CODE, "image has no annotations (a negative sample, if intended)")
