"""Image access: header probe (size after EXIF orientation, mode) without decoding pixels."""

from __future__ import annotations

from pathlib import Path

EXIF_ORIENTATION_TAG = 0x0112
SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as a viewer shows the image (after EXIF orientation), from the header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
            if _orientation(im) in SWAPPING_ORIENTATIONS:
                width, height = height, width
            return int(width), int(height)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None


def _orientation(im) -> int:
    try:
        return int(im.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
    except Exception:  # a broken EXIF block must not hide the image size
        return 1
