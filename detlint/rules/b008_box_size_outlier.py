"""box-size-outlier (B008): a box far larger or smaller than the other boxes of its class.

Why it matters: a "person" box covering 0.01% or 100% of the typical person area is usually a
mislabelled class, a box drawn around a group, or coordinates in the wrong unit. It is informational:
rare sizes can be real.

Options: ``outlier-sigma`` (default 5): fires when log(area) is beyond mean +/- sigma standard
deviations of its class (computed on classes with at least 20 boxes).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_annotation, box_columns, box_text, finite_box_mask
from detlint.rules._options import Option, Options

CODE = "B008"
NAME = "box-size-outlier"
SEVERITY = "info"
FIX = None
OPTIONS = Options(Option("outlier-sigma", 5.0, "number",
                          "Standard deviations of log(area) from its class mean beyond which B008 fires.",
                          exclusive_minimum=0))
MIN_CLASS_BOXES = 20


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    sigma = float(ctx.get(OPTIONS, "outlier-sigma"))
    ann = ds.annotations
    x1, y1, x2, y2 = box_columns(ds)
    area = (x2 - x1) * (y2 - y1)
    valid = finite_box_mask(ds, ctx) & (area > 0) & (ann.category >= 0) & ~ann.normalized
    rows = np.flatnonzero(valid)
    if not len(rows):
        return
    log_area = np.log(area[rows])
    cats = ann.category[rows]
    n_cat = len(ds.categories)
    count = np.bincount(cats, minlength=n_cat)
    mean = np.bincount(cats, weights=log_area, minlength=n_cat) / np.maximum(count, 1)
    var = np.bincount(cats, weights=(log_area - mean[cats]) ** 2, minlength=n_cat) / np.maximum(count, 1)
    std = np.sqrt(var)
    z = np.abs(log_area - mean[cats]) / np.where(std > 0, std, np.inf)[cats]
    outlier = (count[cats] >= MIN_CLASS_BOXES) & (z > sigma)
    for k in np.flatnonzero(outlier).tolist():
        row = int(rows[k])
        typical = float(np.exp(mean[cats[k]]))
        yield at_annotation(ds, row, CODE, f"box {box_text(ann.boxes[row])} of class "
                            f"'{ds.categories.names[cats[k]]}' has area {area[row]:.4g} px², "
                            f"{z[k]:.1f} sigma from the class's typical {typical:.4g} px² (log scale): often a "
                            "wrong class, a box around a group, or coordinates in another unit")
