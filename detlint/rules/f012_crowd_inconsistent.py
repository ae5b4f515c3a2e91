"""crowd-inconsistent (F012): COCO ``iscrowd`` disagrees with the segmentation kind.

Why it matters: in COCO, ``iscrowd: 1`` marks a region of many objects described by an RLE
mask; COCOeval ignores detections matched to it, and most converters and trainers (torchvision's
references, ultralytics' COCO converter) skip crowd annotations entirely. ``iscrowd: 1`` with a
polygon, or an RLE with ``iscrowd: 0``, means the flag or the mask is wrong. When most
annotations are crowd, those tools train on nearly nothing: that is reported once per file.

Example: ``"iscrowd": 1, "segmentation": []``.

Fix: set ``iscrowd`` to 0 for single objects, or give crowd regions an RLE mask.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation, segmentation_kinds

CODE = "F012"
NAME = "crowd-inconsistent"
SEVERITY = "warning"
REQUIRES = (Trait.CROWD_REGIONS,)
FIX = None
OPTIONS: dict = {}
MOSTLY_CROWD = 0.5


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    ann = ds.annotations
    _, is_rle = segmentation_kinds(ds, ctx)
    crowd = ann.iscrowd == 1
    for row in np.flatnonzero(crowd & ~is_rle).tolist():
        yield at_annotation(ds, row, CODE, "iscrowd is 1 but the segmentation is not an RLE mask: "
                            "converters and COCOeval treat it as a crowd region and skip it",
                            field_name="iscrowd")
    for row in np.flatnonzero(is_rle & (ann.iscrowd == 0)).tolist():
        yield at_annotation(ds, row, CODE, "segmentation is an RLE mask but iscrowd is 0: tools disagree on it "
                            "(converters that expect polygons for single objects fail or drop the mask)",
                            field_name="iscrowd")
    for file_index in np.unique(ann.src_file).tolist():
        in_file = ann.src_file == file_index
        share = float(crowd[in_file].mean()) if in_file.any() else 0.0
        if share > MOSTLY_CROWD:
            yield Finding(CODE, f"{share:.0%} of the annotations are iscrowd=1: torchvision's references and "
                          "ultralytics' converter skip crowd annotations, leaving almost nothing to train on",
                          file=ds.file_of(file_index), pointer="/annotations")
