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

import os
from typing import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "F009"
NAME = "duplicate-file-name"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    images = ds.images
    first_path: dict[tuple[str, str], int] = {}
    first_stem: dict[tuple[str, str], int] = {}
    for row, (split, path, name) in enumerate(zip(images.split.tolist(), images.path.tolist(),
                                                  images.file_name.tolist())):
        identity = path or name
        if not identity:
            continue
        key = (split, identity)
        if key in first_path:
            yield at_image(ds, row, CODE, f"'{identity}' is also image entry {first_path[key] + 1} of this "
                           "split: one file, two sets of labels", field_name="file_name")
            continue
        first_path[key] = row
        stem_key = (split, os.path.splitext(os.path.basename(identity))[0].casefold())
        if stem_key in first_stem:
            other = images.path[first_stem[stem_key]] or images.file_name[first_stem[stem_key]]
            yield at_image(ds, row, CODE, f"'{identity}' and '{other}' have the same file stem: their labels "
                           "collide when exported to YOLO or VOC", field_name="file_name")
        else:
            first_stem[stem_key] = row
