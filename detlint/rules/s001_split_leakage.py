"""split-leakage (S001): the same image is in two splits.

Why it matters: a validation or test image that is also in train measures memory, not
generalisation: the metrics look better than the model is. Detected by path at every image
level, and by content hash (identical bytes under different names) with ``--images decode``.

Example: ``images/train/0001.jpg`` listed in both ``train.txt`` and ``val.txt``.

Fix: remove the image from one split (usually keep it in train).
"""

from __future__ import annotations

from typing import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "S001"
NAME = "split-leakage"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    first_split: dict[str, tuple[str, int]] = {}
    images = ds.images
    for row, (split, path) in enumerate(zip(images.split.tolist(), images.path.tolist())):
        if not path:
            continue
        if path in first_split and first_split[path][0] != split:
            yield at_image(ds, row, CODE, f"'{path}' is in split '{split}' and in split '{first_split[path][0]}'")
        first_split.setdefault(path, (split, row))
