"""split-near-duplicate (S002): an image in one split looks the same as one in another split.

Why it matters: a resized or re-encoded copy of a training image in validation or test
inflates the metrics just like an exact copy (S001), but no file hash finds it. Found with
``--images decode`` by a 64-bit DCT perceptual hash within ``near-duplicate-distance`` bits
(default 6). Exact copies are reported as S001 only. The finding is placed at the later entry.

Example: ``val/0042.jpg`` is ``train/0042.jpg`` saved again at quality 70.

Fix: remove the copy from one split.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.images import near_copies, report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image
from detlint.rules._options import NEAR_DUPLICATE_DISTANCE, Options

CODE = "S002"
NAME = "split-near-duplicate"
SEVERITY = "warning"
FIX = None
OPTIONS = Options(NEAR_DUPLICATE_DISTANCE)
IMAGES = "decode"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    paths, split = report_for(ds, ctx).paths, ds.images.split
    distance = int(ctx.get(OPTIONS, "near-duplicate-distance"))
    for row, other, bits in near_copies(ds, ctx, distance, across_splits=True):
        yield at_image(ds, row, CODE, f"'{paths[row]}' in split '{split[row]}' looks like "
                       f"'{paths[other]}' in split '{split[other]}' (perceptual hash distance {bits})",
                       field_name="file_name", data={"image_row": row, "other_row": other})
