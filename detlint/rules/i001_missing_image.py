"""missing-image (I001): an annotated image file does not exist.

Why it matters: the DataLoader raises ``FileNotFoundError`` in a worker, minutes or hours into
training, or the loader skips the sample and its labels silently. Also fires when a data.yaml
split entry (folder, image or list file) or an obj.data list does not exist (the resolved path
is printed): that is a structural problem of the dataset description, reported at every image
level, ``--images none`` included; the image files themselves are checked from ``header`` on.
A COCO or YOLO name that escapes the dataset root is F008 only; a YOLO label file without an
image is I006.

Example: COCO ``"file_name": "000123.jpg"`` with no such file next to the JSON or under
``images/``.

Fix: restore the image, fix the name, or remove the entry.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.fileio import safe_relative
from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "I001"
NAME = "missing-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}
# no IMAGES level: the description's own findings come at every level; check() looks at the
# image files only from "header" on


def orphan_label_entries(ds: Dataset) -> np.ndarray:
    """bool[n_images]: YOLO placeholder entries for label files without an image (I006's business)."""
    extra = ds.images.extra
    return np.fromiter((isinstance(e, dict) and "orphan_label" in e for e in extra), bool, len(extra))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if ctx.images == "none":  # the dataset description's findings only: no image is looked at
        yield from (p for p in reader_problems(ds, CODE) if p.image is None)
        return
    yield from reader_problems(ds, CODE)
    images = ds.images
    # a COCO or YOLO name that escapes the root is F008's business (the VOC reader still looks
    # for such a file by its base name, so a VOC miss is reported)
    by_basename = format_of(ds).has(Trait.BASENAME_LOOKUP)
    unsafe = np.fromiter((not by_basename and bool(n) and safe_relative(n) is None
                          for n in images.file_name.tolist()), bool, len(images))
    for row in np.flatnonzero((images.path == "") & ~orphan_label_entries(ds) & ~unsafe).tolist():
        name = images.file_name[row] or "(no file name)"
        yield at_image(ds, row, CODE, f"image '{name}' not found: the DataLoader raises "
                       "FileNotFoundError when it reaches this entry", field_name="file_name")
