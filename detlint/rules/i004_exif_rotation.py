"""exif-rotation (I004): EXIF orientation 5-8 swaps width and height relative to the stored pixels.

Why it matters: viewers (and Ultralytics, and detlint) show the image rotated, but
``PIL.Image.open``, OpenCV with some flags and ``torchvision.io.decode_jpeg`` return the stored,
unrotated pixels. Labels drawn on one and trained on the other land in the wrong place. The
message says which size the image's boxes fit: boxes that extend past the displayed size but
fit the stored size were drawn on the unrotated pixels.

Example: a phone photo stored 4032x3024 with orientation 6 is shown 3024x4032.

Fix: bake the rotation into the pixels (``ImageOps.exif_transpose``) and drop the tag, then make
sure the labels match the rotated image; or make the loader apply EXIF orientation consistently.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.images import SWAPPING_ORIENTATIONS, ImageReport, report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, finite_box_mask

CODE = "I004"
NAME = "exif-rotation"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}
IMAGES = "header"
TOLERANCE = 0.5  # px, as out-of-image-tolerance


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    rotated = report.readable & report.first_of_file & np.isin(report.orientation, list(SWAPPING_ORIENTATIONS))
    rows = np.flatnonzero(rotated).tolist()
    if not rows:
        return
    max_x, max_y = _box_extent(ds, ctx)
    for row in rows:
        shown = f"{report.real_width[row]}x{report.real_height[row]}"
        stored = f"{report.stored_width[row]}x{report.stored_height[row]}"
        message = (f"'{report.paths[row]}' has EXIF orientation {report.orientation[row]}: viewers show "
                   f"{shown}, the stored pixels are {stored}; {_which_fits(ds, report, row, max_x, max_y)}")
        yield at_image(ds, row, CODE, message, field_name="file_name")


def _box_extent(ds: Dataset, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the largest x2 and y2 of its pixel boxes (-inf without any)."""
    ann = ds.annotations
    max_x = np.full(len(ds.images), -np.inf)
    max_y = np.full(len(ds.images), -np.inf)
    pixel = finite_box_mask(ds, ctx) & ~ann.normalized & (ann.image >= 0)
    np.maximum.at(max_x, ann.image[pixel], ann.boxes[pixel, 2])
    np.maximum.at(max_y, ann.image[pixel], ann.boxes[pixel, 3])
    return max_x, max_y


def _which_fits(ds: Dataset, report: ImageReport, row: int, max_x: np.ndarray, max_y: np.ndarray) -> str:
    if format_of(ds).has(Trait.NORMALIZED_COORDINATES):
        return ("the YOLO labels are read against the displayed size (as Ultralytics does); a loader "
                "that ignores EXIF puts them in the wrong place")
    if not np.isfinite(max_x[row]):
        return "the image has no boxes to tell which size its labels use"
    fits_shown = max_x[row] <= report.real_width[row] + TOLERANCE and \
        max_y[row] <= report.real_height[row] + TOLERANCE
    fits_stored = max_x[row] <= report.stored_width[row] + TOLERANCE and \
        max_y[row] <= report.stored_height[row] + TOLERANCE
    if fits_shown and fits_stored:
        return "the boxes fit both sizes, so it is unclear which one they were drawn on"
    if fits_shown:
        return "the boxes fit the displayed size"
    if fits_stored:
        return ("the boxes extend past the displayed size but fit the stored size: they were probably "
                "drawn on the unrotated pixels")
    return "the boxes fit neither size"
