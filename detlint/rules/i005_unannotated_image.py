"""unannotated-image (I005): an image has no annotations.

Why it matters: fine for deliberate negatives (they teach the detector what is background), but
an unexpected one is often a lost label file. Some loaders (older torchvision references,
``remove_images_without_annotations``) drop them, changing the dataset size. Informational,
listed so that you can confirm the negatives are intended. Not reported for images that are
missing (I001), for label files without an image (I006) or whose text cannot be read (F001).

Also reported by a reader for an image file that its format never reaches: in a VOC folder, an
image that no XML declares and no ``ImageSets/Main`` list names. Trainers iterate the XML files
(or the lists), so such an image is neither trained on nor used as a negative, and ``convert``
leaves it out; add an XML without objects to make it a negative.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems, unreadable_files
from detlint.rules.i001_missing_image import orphan_label_entries

CODE = "I005"
NAME = "unannotated-image"
SEVERITY = "info"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    images = ds.images
    image_rows = ds.annotations.image[ds.annotations.image >= 0]
    counts = np.bincount(image_rows, minlength=len(images))
    # a missing image (I001), an orphan label (I006) or an unreadable label file (F001) is
    # already reported; calling it a negative sample would be wrong
    unreadable = np.isin(images.src_file, np.fromiter(unreadable_files(ds), np.int64))
    listed = (counts == 0) & (images.path != "") & ~orphan_label_entries(ds) & ~unreadable
    for row in np.flatnonzero(listed).tolist():
        yield at_image(ds, row, CODE, "image has no annotations: trained as a background-only "
                       "(negative) sample, or dropped by loaders that skip empty images; fine if intended")
