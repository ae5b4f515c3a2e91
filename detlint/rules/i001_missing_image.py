"""missing-image (I001): an annotated image file does not exist.

Why it matters: the DataLoader raises ``FileNotFoundError`` in a worker, minutes or hours into
training, or the loader skips the sample and its labels silently. Also fires when a data.yaml
split folder does not exist (the resolved path is printed).

Example: COCO ``"file_name": "000123.jpg"`` with no such file next to the JSON or under
``images/``.

Fix: restore the image, fix the name, or remove the entry.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "I001"
NAME = "missing-image"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
IMAGES = "header"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    images = ds.images
    for row in np.flatnonzero(images.path == "").tolist():
        name = images.file_name[row] or "(no file name)"
        yield at_image(ds, row, CODE, f"image '{name}' not found", field_name="file_name")
