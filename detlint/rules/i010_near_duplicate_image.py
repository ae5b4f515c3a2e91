"""near-duplicate-image (I010): two images of one split look the same (perceptual hash).

Why it matters: resized, re-encoded or slightly cropped copies over-weight one scene and, when
the dataset is later split at random, leak between train and validation. Found with
``--images decode`` by a 64-bit DCT perceptual hash; two images are near copies when their hashes
differ in at most ``near-duplicate-distance`` bits (default 6). The default keeps photos of one
background with different objects apart; raise it to catch heavier crops, lower it for fewer
reports. Exact copies are reported as I007 only.

Example: ``train/0001.jpg`` and ``train/0001_small.jpg`` (the same photo at half size).

Fix: keep one of the copies.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.images import near_copies, report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image
from detlint.rules._options import NEAR_DUPLICATE_DISTANCE, Options

CODE = "I010"
NAME = "near-duplicate-image"
SEVERITY = "info"
FIX = None
OPTIONS = Options(NEAR_DUPLICATE_DISTANCE)
IMAGES = "decode"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    paths = report_for(ds, ctx).paths
    distance = int(ctx.get(OPTIONS, "near-duplicate-distance"))
    for row, other, bits in near_copies(ds, ctx, distance, across_splits=False):
        yield at_image(ds, row, CODE, f"'{paths[row]}' looks like '{paths[other]}' "
                       f"(perceptual hash distance {bits})", field_name="file_name",
                       data={"image_row": row, "other_row": other})
