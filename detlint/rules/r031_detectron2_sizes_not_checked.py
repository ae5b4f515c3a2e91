"""detectron2-sizes-not-checked (R031): image sizes were not read, so detlint cannot say whether
detectron2 will raise ``SizeMismatchError``.

Why it matters: detectron2 compares every decoded image with the width/height of the annotation
file and stops training on the first difference (R030, ``check_image_size`` in
``detectron2/data/detection_utils.py``). With ``--images none`` detlint reads no image file, so
the ``--target detectron2`` summary cannot include those crashes: "0 crashes" then means "none
found in the annotations", not "none".

Example: ``detlint check data/ --images none --target detectron2``.

Fix: run with ``--images header`` (the default; it reads only the image headers). Runs with
``--target detectron2``.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext

CODE = "R031"
NAME = "detectron2-sizes-not-checked"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
REQUIRES = (Trait.DECLARED_SIZES,)
TARGET = "detectron2"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if ctx.images != "none" or not len(ds.images):
        return
    # about the annotation file as a whole, not about one image
    yield Finding(CODE, f"image sizes not read (--images none): whether detectron2 raises SizeMismatchError on "
                  f"any of the {len(ds.images)} images is unknown; check with --images header",
                  file=ds.file_of(int(ds.images.src_file[0])))
