"""unusual-image-mode (I008): the image is not 8-bit RGB or greyscale.

Why it matters: loaders disagree on these. CMYK JPEGs come out colour-inverted or fail in some
decoders; 16-bit images are clipped or rescaled differently by Pillow, OpenCV and torchvision;
palette images give indices unless converted; an alpha channel makes a 4-channel tensor that a
3-channel backbone rejects (or a transform silently drops). Pillow reads 16-bit colour PNGs as
8-bit without a word; they are reported too.

Example: ``images/scan_001.jpg`` in CMYK; ``masks/depth.png`` as ``I;16``; a logo PNG with alpha.

Fix: convert the images to 8-bit RGB once, before training, or convert in the loader
(``Image.open(p).convert("RGB")``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.images import report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "I008"
NAME = "unusual-image-mode"
SEVERITY = "warning"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}
IMAGES = "header"
USUAL_MODES = frozenset({"RGB", "L"})


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    usual = np.isin(report.mode, list(USUAL_MODES))
    for row in np.flatnonzero(report.readable & report.first_of_file & ~usual).tolist():
        mode = str(report.mode[row])
        yield at_image(ds, row, CODE, f"'{report.paths[row]}' is {mode}: {explain(mode)}", field_name="file_name")


def explain(mode: str) -> str:
    if mode == "CMYK":
        return "CMYK; some decoders invert its colours or refuse it"
    if mode.startswith("I;16") or mode.endswith(";16") or mode in ("I", "F"):
        return "more than 8 bits per channel; loaders clip or rescale it differently"
    if mode in ("P", "PA"):
        return "a palette image; without convert('RGB') a loader returns palette indices"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        return "it has an alpha channel; a 3-channel model needs it converted to RGB"
    if mode == "1":
        return "1-bit black and white"
    return "not 8-bit RGB or greyscale; loaders may read it differently"
