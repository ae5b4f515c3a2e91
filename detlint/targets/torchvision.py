"""torchvision detection models fed by ``detlint.torch.DetectionDataset``: what they raise on and
what ``SanitizeBoundingBoxes`` removes.

Read from torchvision 0.29.1 (``models/detection/generalized_rcnn.py``, ``retinanet.py``,
``fcos.py``, ``ssd.py``: ``forward``; ``transforms/v2/_misc.py`` ``SanitizeBoundingBoxes`` and
``transforms/v2/functional/_misc.py`` ``_get_sanitize_bounding_boxes_mask``) and detlint's own
``detlint/torch.py`` (which rows it puts in a target). ``detlint smoke`` runs :func:`assess` as
its pre-check, so the two never disagree.

What the models check and a dataset cannot get wrong through ``detlint.torch``: targets present
in train mode, ``boxes`` a float ``[N, 4]`` tensor, ``labels`` int64 (it always builds them so).
"""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset
from detlint.rules._helpers import box_text, image_name
from detlint.rules.r001_box_past_edge_removed import pixel_targets, sanitize_removed, trainable_mask
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "torchvision"
TITLE = "torchvision detection models"
SOURCE = ("torchvision 0.29.1: models/detection/generalized_rcnn.py, retinanet.py, fcos.py, ssd.py (forward); "
          "transforms/v2/_misc.py SanitizeBoundingBoxes, transforms/v2/functional/_misc.py "
          "_get_sanitize_bounding_boxes_mask; detlint/torch.py DetectionDataset")
RAISE_PREFIX = "All bounding boxes should have positive height and width."
SANITIZE = "SanitizeBoundingBoxes removes it, when in the transform pipeline"


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    outcome = Outcome(NAME)
    _left_out(ds, outcome)
    degenerate = _degenerate_raises(ds, outcome)
    _sanitized(ds, outcome, degenerate)
    _missing_images(ds, outcome)
    return outcome


def _left_out(ds: Dataset, outcome: Outcome) -> None:
    """detlint/torch.py ``trainable_mask``: a target holds only box/polygon rows with finite
    coordinates and a known category; the others are left out of training (smoke's T007 note
    counts the unknown classes)."""
    ann = ds.annotations
    shaped = ann.has_box & np.isin(ann.kind, (ann.KIND_BOX, ann.KIND_POLYGON, ann.KIND_OBB))  # torch.TRAINABLE_KINDS
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(ann.boxes).all(axis=1)
    unknown = (ann.category < 0) | (ann.category >= len(ds.categories))
    outcome.drop_boxes(np.flatnonzero(shaped & ~finite), "detlint.torch leaves it out (non-finite coordinate)")
    outcome.drop_boxes(np.flatnonzero(shaped & finite & unknown), "detlint.torch leaves it out (unknown class)")


def _degenerate_raises(ds: Dataset, outcome: Outcome) -> np.ndarray:
    """generalized_rcnn.py / retinanet.py / fcos.py / ssd.py ``forward`` (torchvision 0.29.1), in
    train mode after the model's own resize: ``degenerate = boxes[:, 2:] <= boxes[:, :2]``; the
    first such box of a target raises "All bounding boxes should have positive height and width.
    Found invalid box [...] for target at index i." (i: the sample's position in the batch). The
    resize scales both corners alike, so the float32 test on the unresized box decides it.
    Returns the degenerate rows."""
    boxes, _, _ = pixel_targets(ds)
    with np.errstate(invalid="ignore"):
        bad = trainable_mask(ds) & ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))
    rows = np.flatnonzero(bad)
    images = ds.annotations.image[rows]
    firsts = rows[np.unique(images, return_index=True)[1]]  # rows are in order: the first box per image
    outcome.raises.extend(
        Raised(f"{RAISE_PREFIX} Found invalid box {box_text(boxes[row])} for target at index i (at batch time; "
               f"i: the position of {image_name(ds, int(ds.annotations.image[row]))} in its batch, the box as "
               "scaled by the model's resize)",
               image_row=int(ds.annotations.image[row]), annotation_row=int(row))
        for row in firsts.tolist())
    return bad


def _sanitized(ds: Dataset, outcome: Outcome, degenerate: np.ndarray) -> None:
    """transforms/v2/_misc.py ``SanitizeBoundingBoxes(min_size=1.0, min_area=1.0)`` (torchvision
    0.29.1) removes a box, and its label, when a side is below ``min_size``, its area is below
    ``min_area``, or a coordinate is below 0 or past the canvas; it never clips. Degenerate boxes
    are removed too, but without it they raise (above), which is what they are reported as."""
    removed, outside = sanitize_removed(ds)
    rows = np.flatnonzero(removed & ~degenerate)
    _, w, h = pixel_targets(ds)
    reasons = [f"{SANITIZE} (a coordinate outside the {w[r]:g}x{h[r]:g} canvas)" if outside[r]
               else f"{SANITIZE} (side below min_size 1 or area below min_area 1)" for r in rows.tolist()]
    outcome.drop_boxes(rows, reasons)


def _missing_images(ds: Dataset, outcome: Outcome) -> None:
    """detlint/torch.py ``DetectionDataset._image_path``: an image entry without a file found
    under the image root raises FileNotFoundError when the sample loads (I001)."""
    rows = np.flatnonzero(np.array([not p for p in ds.images.path.tolist()], bool))
    outcome.raises.extend(Raised(f"FileNotFoundError: image {image_name(ds, int(r))!r} was not found (when its "
                                 "sample loads)", image_row=int(r)) for r in rows.tolist())
