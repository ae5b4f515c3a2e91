"""duplicate-image (I007): two image entries of one split have identical content.

Why it matters: the same picture under two names is trained on twice (over-weighted), and if
the copies carry different labels, one of them is wrong. Detected with ``--images decode`` by a
hash of the file bytes; the same path listed twice is F009 instead.

Example: ``images/IMG_0001.jpg`` and ``images/IMG_0001 (1).jpg`` from a double download.

Fix: remove one copy (merge its labels into the other if they differ).
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.images import exact_groups, report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "I007"
NAME = "duplicate-image"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}
IMAGES = "decode"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    split = ds.images.split
    for rows in exact_groups(report):
        first_in_split: dict[str, int] = {}
        for row in rows:
            first = first_in_split.setdefault(split[row], row)
            if first != row and report.paths[first] != report.paths[row]:
                yield at_image(ds, row, CODE, f"'{report.paths[row]}' has the same bytes as '{report.paths[first]}'",
                               field_name="file_name", data={"image_row": row, "other_row": first})
