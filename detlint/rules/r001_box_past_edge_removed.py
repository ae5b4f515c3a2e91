"""box-past-edge-removed (R001): a box a hair past the image edge, within B002's tolerance, that
torchvision's ``SanitizeBoundingBoxes`` removes.

Runs only with ``detlint check --target torchvision``.

Why it matters: B002 accepts an overshoot up to ``out-of-image-tolerance`` (0.5 px) because most
loaders clip it. ``torchvision.transforms.v2.SanitizeBoundingBoxes`` does not clip: it removes
every box with a coordinate below 0 or past the canvas (``functional/_misc.py``,
``_get_sanitize_bounding_boxes_mask``, torchvision 0.29.1), so with it in the transform pipeline
such a box silently never trains. Boxes further out are B002/B003 (with the same consequence).

Example: ``[600, 10, 640.4, 90]`` on a 640 px wide image is removed.

Fix: clip the box to the image (``detlint check --fix --unsafe-fixes`` clips B002 boxes), or put
``ClampBoundingBoxes`` before ``SanitizeBoundingBoxes``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Annotations, Dataset
from detlint.rules._helpers import RuleContext, at_annotation, box_text
from detlint.rules._options import Options

CODE = "R001"
NAME = "box-past-edge-removed"
SEVERITY = "warning"
SCOPE = "image"
FIX = None
OPTIONS = Options()
TARGET = "torchvision"

TRAINABLE_KINDS = (Annotations.KIND_BOX, Annotations.KIND_POLYGON, Annotations.KIND_OBB)  # what detlint.torch trains
SANITIZE_MIN_SIZE = 1.0  # SanitizeBoundingBoxes(min_size=1.0, min_area=1.0): its defaults
SANITIZE_MIN_AREA = 1.0


def trainable_mask(ds: Dataset) -> np.ndarray:
    """Rows ``detlint.torch`` puts in a target: box/polygon, finite box, known category."""
    ann = ds.annotations
    known = (ann.category >= 0) & (ann.category < len(ds.categories))
    return np.isin(ann.kind, TRAINABLE_KINDS) & ann.has_box & np.isfinite(ann.boxes).all(axis=1) & known


def pixel_targets(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float32 boxes as ``detlint.torch`` builds them, canvas W, canvas H) per annotation; the
    canvas is NaN where the image size is unknown (normalised rows without one, no image)."""
    ann = ds.annotations
    linked = (ann.image >= 0) & (ann.image < len(ds.images))
    w = np.full(len(ann), np.nan)
    h = np.full(len(ann), np.nan)
    w[linked] = ds.images.width[ann.image[linked]]
    h[linked] = ds.images.height[ann.image[linked]]
    w[w <= 0], h[h <= 0] = np.nan, np.nan
    boxes = ann.boxes.copy()
    scale = np.column_stack([w, h, w, h])
    boxes[ann.normalized] *= scale[ann.normalized]  # as DetectionDataset._load_target
    return boxes.astype(np.float32), w, h


def sanitize_removed(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(removed, outside): the trainable rows ``SanitizeBoundingBoxes()`` removes, and those of them
    removed for a coordinate outside the canvas. The mask of torchvision 0.29.1
    ``_get_sanitize_bounding_boxes_mask``, in float32 as on the tensors ``detlint.torch`` builds:
    ``w >= min_size & h >= min_size & all(box >= 0) & w * h >= min_area & x1, x2 <= W & y1, y2 <= H``."""
    boxes, w, h = pixel_targets(ds)
    known = trainable_mask(ds) & np.isfinite(w) & np.isfinite(h)
    with np.errstate(invalid="ignore", over="ignore"):
        ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        small = (ws < SANITIZE_MIN_SIZE) | (hs < SANITIZE_MIN_SIZE) | (ws * hs < SANITIZE_MIN_AREA)
        outside = ((boxes < 0).any(axis=1) | (boxes[:, 0] > w) | (boxes[:, 2] > w)
                   | (boxes[:, 1] > h) | (boxes[:, 3] > h))
    return known & (small | outside), known & outside & ~small


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    from detlint.rules.b002_box_out_of_image import OPTIONS as B002_OPTIONS
    from detlint.rules.b002_box_out_of_image import overshoot

    tolerance = float(ctx.get(B002_OPTIONS, "out-of-image-tolerance"))
    _, outside = sanitize_removed(ds)
    boxes, w, h = pixel_targets(ds)
    with np.errstate(invalid="ignore"):
        over = overshoot(ds, ctx).max(axis=1)
        within = outside & ~ds.annotations.normalized & (over <= tolerance)
    for row in np.flatnonzero(within).tolist():
        yield at_annotation(ds, row, CODE, f"box {box_text(ds.annotations.boxes[row])} is {over[row]:.4g} px past "
                            f"the edge of the {w[row]:g}x{h[row]:g} image (within B002's tolerance): "
                            "SanitizeBoundingBoxes removes it", data={"row": row})
