"""ultralytics-labels-not-found (R010): ultralytics looks for this image's labels somewhere else.

Why it matters: ultralytics never pairs labels the way detlint does. It takes the image path,
replaces the last ``/images/`` folder with ``/labels/`` and the extension with ``.txt``
(``ultralytics/data/utils.py`` ``img2label_paths``, ultralytics 8.4.190). A label file anywhere
else (beside the image, under ``annotations/``, in a folder named ``Images``) is never read: the
image trains as a background with all its boxes lost, and nothing is printed per image.

Example: ``train/img/0001.jpg`` with ``train/img/0001.txt``: ultralytics reads
``train/img/0001.txt`` only if the path contains ``/images/``; here it finds no label.

Fix: move the label files to where ultralytics looks (``images/`` -> ``labels/``), or convert
with ``detlint convert --to yolo``, which writes that layout. Runs with ``--target ultralytics``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from detlint.findings import Finding
from detlint.formats.protocol import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "R010"
NAME = "ultralytics-labels-not-found"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}
SCOPE = "image"
TARGET = "ultralytics"
REQUIRES = (Trait.LABEL_ROWS,)


def where_it_looks(image: str) -> str:
    """The label path ultralytics derives from an image path (``img2label_paths``, 8.4.190)."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def misplaced(ds: Dataset) -> list[tuple[int, str, str]]:
    """(image row, label file detlint paired, label path ultralytics reads) where they differ."""
    root, image_dir = Path(ds.root).absolute(), ds.image_dir.absolute()
    found = []
    for row in range(len(ds.images)):
        path, label = str(ds.images.path[row]), ds.file_of(int(ds.images.src_file[row]))
        if not path or label is None:
            continue
        looks = where_it_looks(str(image_dir / path))
        if os.path.normpath(looks) != os.path.normpath(str(root / label)):
            shown = os.path.relpath(looks, root) if looks.startswith(str(root)) else looks
            found.append((row, label, Path(shown).as_posix()))
    return found


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    for row, label, looks in misplaced(ds):
        yield at_image(ds, row, CODE, f"labels are in {label}, but ultralytics reads {looks}: "
                       "it trains the image as a background")
