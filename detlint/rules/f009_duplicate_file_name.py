"""duplicate-file-name (F009): two image entries resolve to the same file, or would collide on export.

Why it matters: the same picture is loaded twice with two different sets of labels (one of
them wrong), and converters that flatten folders (YOLO, VOC use the file stem as the label name)
overwrite one image's labels with the other's.

Checked within one split: the same resolved file or declared name twice, and different files
whose names differ only in folder or letter case (``a/0001.jpg`` and ``b/0001.jpg``). The same
image in two splits is S001.

Fix: rename one of the files, or merge the two entries.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "F009"
NAME = "duplicate-file-name"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _stem(path: str) -> str:
    """Case-folded file stem, by string methods (os.path is slow over 100k+ names)."""
    base = path.rpartition("/")[2]
    stem, dot, _ = base.rpartition(".")
    return (stem if dot else base).casefold()


def _first_of_each(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows whose key appeared earlier, the row of that earlier occurrence)."""
    unique, first, inverse = np.unique(np.array(keys, dtype=object), return_index=True, return_inverse=True)
    earlier = first[inverse]
    repeated = np.flatnonzero(earlier != np.arange(len(keys)))
    return repeated, earlier[repeated]


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    images = ds.images
    identities = [path or name for path, name in zip(images.path.tolist(), images.file_name.tolist())]
    splits = images.split.tolist()
    named = [row for row, identity in enumerate(identities) if identity]
    if len(named) < 2:
        return
    same_file = [f"{splits[r]}\0{identities[r]}" for r in named]
    repeated, first = _first_of_each(same_file)
    duplicate_rows = {named[r] for r in repeated.tolist()}
    for r, f in zip(repeated.tolist(), first.tolist()):
        yield at_image(ds, named[r], CODE, f"'{identities[named[r]]}' is also image entry {named[f] + 1} of this "
                       "split: one file, two sets of labels", field_name="file_name")
    distinct = [row for row in named if row not in duplicate_rows]
    stems = [f"{splits[r]}\0{_stem(identities[r])}" for r in distinct]
    repeated, first = _first_of_each(stems)
    for r, f in zip(repeated.tolist(), first.tolist()):
        row, other = distinct[r], distinct[f]
        yield at_image(ds, row, CODE, f"'{identities[row]}' and '{identities[other]}' have the same file stem: "
                       "their labels collide when exported to YOLO or VOC", field_name="file_name")
