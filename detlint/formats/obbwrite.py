"""Oriented boxes for a writer that has none (no ``Trait.ORIENTED_BOXES``: COCO, VOC, ...):
each kind-3 row becomes the smallest axis-aligned box holding its corners (the box the model
already keeps in ``boxes``), a listed loss with the count and how much area the boxes grew. A
writer that keeps pixel polygons beside a box (COCO ``segmentation``) keeps the corners as a
4-point polygon, so the orientation survives as geometry a later conversion can read back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detlint.formats.protocol import WriteOptions
from detlint.geometry.obb import growth
from detlint.model import Annotations, Dataset

LOSS = "oriented box written as its enclosing axis-aligned box"


def axis_aligned(ds: Dataset, options: WriteOptions, keep_corners: bool = False) -> Dataset:
    """``ds`` with its oriented boxes as axis-aligned boxes (``ds`` itself unchanged); with
    ``keep_corners``, each keeps its corners (in pixels) as its polygon."""
    ann = ds.annotations
    rows = np.flatnonzero(ann.kind == Annotations.KIND_OBB)
    if not len(rows):
        return ds
    corners = np.array([ann.segmentation[i] for i in rows.tolist()], np.float64).reshape(-1, 8)
    ratio = growth(corners)
    finite = ratio[np.isfinite(ratio)]
    upright = int((np.abs(finite - 1) <= 1e-9).sum())  # already axis-aligned: only the corner order goes
    detail = (f"area grew by {100 * (finite.mean() - 1):.1f}% on average, {100 * (finite.max() - 1):.1f}% at most; "
              f"{upright} already axis-aligned (exact)" if len(finite) else "")
    out = ann.take(np.arange(len(ann)))
    out.kind[rows] = Annotations.KIND_BOX
    out.segmentation[rows] = None
    kept = rows[~ann.normalized[rows]] if keep_corners else rows[:0]
    for row, points in zip(kept.tolist(), corners[~ann.normalized[rows]].tolist() if keep_corners else []):
        out.segmentation[row] = [points]
    if len(kept):
        detail += f"; the corners of {len(kept)} kept as their polygon (segmentation)"
    options.lose(LOSS, len(rows), detail)
    return replace(ds, annotations=out)
