"""unreadable-image (I002): the image does not decode (corrupt, truncated, not an image).

Why it matters: the DataLoader worker raises in the middle of an epoch (``OSError: image file is
truncated``, ``UnidentifiedImageError``), or, with ``ImageFile.LOAD_TRUNCATED_IMAGES = True``,
trains on grey padding where the file was cut off.

With ``--images header`` only files whose header Pillow cannot read are reported (a text file
named ``.jpg``, an empty file); ``--images decode`` decodes every pixel and also finds files cut
off or corrupt after the header. The message carries Pillow's reason.

Example: ``images/0007.jpg`` is 2 KB of a 60 KB download: ``image file is truncated``.

Fix: re-download or re-export the image, or remove the entry.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.images import report_for
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "I002"
NAME = "unreadable-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}
IMAGES = "header"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    report = report_for(ds, ctx)
    for row in np.flatnonzero(report.first_of_file).tolist():
        reason = report.header_error[row] or report.decode_error[row]
        if reason:
            yield at_image(ds, row, CODE, f"image '{report.paths[row]}' does not decode: {reason}",
                           field_name="file_name")
