"""Oriented boxes for a writer that has none (no ``Trait.ORIENTED_BOXES``: COCO, VOC, ...):
each kind-3 row becomes the smallest axis-aligned box holding its corners (the box the model
already keeps in ``boxes``), a listed loss with the count and how much area the boxes grew."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detlint.formats.protocol import WriteOptions
from detlint.geometry.obb import growth
from detlint.model import Annotations, Dataset

LOSS = "oriented box written as its enclosing axis-aligned box"


def axis_aligned(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` with its oriented boxes as axis-aligned boxes (``ds`` itself unchanged)."""
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
    options.lose(LOSS, len(rows), detail)
    out = ann.take(np.arange(len(ann)))
    out.kind[rows] = Annotations.KIND_BOX
    out.segmentation[rows] = None
    return replace(ds, annotations=out)
