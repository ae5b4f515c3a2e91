"""voc-convention-mismatch (F010): VOC coordinates that contradict the pixel convention.

Why it matters: Pascal VOC devkit pixels are 1-based and inclusive (``xmin=1`` is the first
pixel column, ``xmax=W`` the last). Many tools write 0-based values into VOC files. Read with the
wrong convention every box shifts by one pixel, and boxes touching the edge appear to overshoot it.
detlint reads VOC as 1-based by default (``voc-origin = 1``); a box with ``xmin=0`` or ``ymin=0``
can only come from a 0-based writer, and ``xmax=W+1`` (``ymax=H+1``), exactly one past the last
pixel, from a writer that adds 1 to exclusive ends; with ``voc-origin = 0``, ``xmax=W+1`` can only
come from a 1-based writer read as 0-based. The 1-pixel overshoot is reported here, not as B002.

Example: ``<xmin>0</xmin>`` under the default 1-based convention.

Fix: set ``voc-origin = 0`` in the config if the whole dataset was written 0-based, or correct
the exporter.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation, image_sizes

CODE = "F010"
NAME = "voc-convention-mismatch"
SEVERITY = "warning"
FIX = None
OPTIONS: dict = {}


def convention_shift(ds: Dataset, ctx: RuleContext) -> np.ndarray:
    """float64[N, 4]: the overshoot (left, top, right, bottom) explained by the convention."""
    shift = np.zeros((len(ds.annotations), 4))
    if not format_of(ds).has(Trait.PIXEL_CONVENTION):
        return shift
    raw = ds.annotations.raw
    w, h = image_sizes(ds, ctx)
    with np.errstate(invalid="ignore"):
        if int(ds.meta.get("voc_origin", 1)) == 1:
            shift[:, 0] = raw[:, 0] == 0
            shift[:, 1] = raw[:, 1] == 0
        # one past the last pixel: impossible under either convention, the signature of an
        # exclusive end written with a +1 shift
        shift[:, 2] = raw[:, 2] == w + 1  # NaN (unknown size) never matches
        shift[:, 3] = raw[:, 3] == h + 1
    return shift


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    shift = convention_shift(ds, ctx)
    origin = int(ds.meta.get("voc_origin", 1))
    names = ("xmin", "ymin", "xmax", "ymax")
    for row in np.flatnonzero(shift.any(axis=1)).tolist():
        tags = ", ".join(f"{names[k]}={ds.annotations.raw[row, k]:g}" for k in np.flatnonzero(shift[row]))
        if origin == 1 and shift[row, :2].any():
            message = (f"{tags} is impossible with 1-based VOC pixels: the file was written 0-based "
                       "(set voc-origin = 0 if the whole dataset is); read as 1-based, every box of a "
                       "0-based file is shifted by one pixel")
        elif origin == 1:
            message = (f"{tags} is one past the image edge with 1-based VOC pixels: the writer added 1 to "
                       "an exclusive end; loaders that check bounds reject or clip the box")
        else:
            message = (f"{tags} passes the image edge under voc-origin = 0: the file looks 1-based "
                       "(the devkit convention; remove voc-origin = 0)")
        yield at_annotation(ds, row, CODE, message, field_name=None)
