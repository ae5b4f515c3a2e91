"""The oriented-box rows every OBB rule reads: their row numbers and corners, once per run."""

from __future__ import annotations

import numpy as np

from detlint.model import Annotations, Dataset
from detlint.rules.context import RuleContext


def obb_corners(ds: Dataset, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    """(rows, float64[len(rows), 8] corners) of the kind-3 rows with 8 finite numbers."""
    ann = ds.annotations
    return ctx.memoized(ds, "obb_corners", (ann.kind, ann.segmentation), lambda: _corners(ann))


def _corners(ann: Annotations) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(ann.kind == Annotations.KIND_OBB)
    values = [ann.segmentation[i] for i in rows.tolist()]
    ok = np.fromiter((isinstance(v, list) and len(v) == 8 for v in values), bool, len(rows))
    corners = np.array([v for v, good in zip(values, ok) if good], np.float64).reshape(-1, 8)
    rows = rows[ok]
    finite = np.isfinite(corners).all(axis=1)
    return rows[finite], corners[finite]


def corners_text(corners: np.ndarray) -> str:
    values = np.asarray(corners, np.float64).reshape(4, 2).tolist()
    return " ".join(f"({x:.4g}, {y:.4g})" for x, y in values)
