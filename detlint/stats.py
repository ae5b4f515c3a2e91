"""Dataset statistics: counts per split, class histogram, box size and aspect distributions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detlint.model import Dataset
from detlint.safetext import escape_text
from detlint.stats_plot import measured_boxes

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)
SIZE_BUCKETS = (("small", 0, 32**2), ("medium", 32**2, 96**2), ("large", 96**2, np.inf))  # COCO's


def _distribution(values: np.ndarray) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return {}
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))} | {
        "mean": float(values.mean())}


def compute(ds: Dataset) -> dict[str, Any]:
    ann, images = ds.annotations, ds.images
    measured = measured_boxes(ann)  # the plot draws exactly these boxes
    is_box, valid, w, h = measured.is_box, measured.valid, measured.width, measured.height
    area = w * h
    splits = {}
    for split in ds.splits:
        in_split = images.split == split
        rows = np.flatnonzero(in_split)
        ann_in = np.isin(ann.image, rows)
        splits[split or "(all)"] = {"images": int(in_split.sum()), "annotations": int(ann_in.sum()),
                                    "unannotated_images": int(len(rows) - len(np.unique(ann.image[ann_in])))}
    counts = np.bincount(ann.category[ann.category >= 0], minlength=len(ds.categories))
    per_image = np.bincount(ann.image[ann.image >= 0], minlength=len(images)) if len(images) else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(valid, w / h, np.nan)
    return {
        "path": str(ds.root), "format": ds.format, "images": len(images), "annotations": len(ann),
        "boxes": int(is_box.sum()), "categories": len(ds.categories), "splits": splits,
        "classes": {name: int(c) for name, c in zip(ds.categories.names, counts.tolist())},
        "unknown_class_annotations": int((ann.category < 0).sum()),
        "boxes_per_image": _distribution(per_image.astype(np.float64)),
        "box_width": _distribution(np.where(valid, w, np.nan)),
        "box_height": _distribution(np.where(valid, h, np.nan)),
        "box_aspect_ratio": _distribution(aspect),
        "box_size_buckets": {name: int((valid & (area >= lo) & (area < hi)).sum()) for name, lo, hi in SIZE_BUCKETS},
    }


def render_text(stats: dict[str, Any]) -> str:
    """The text report. Names (path, splits, classes) are escaped before the columns are aligned
    (``escape_text``): a newline or a lone surrogate in a class name neither breaks nor fakes a line."""
    lines = [f"{escape_text(stats['path'])} ({stats['format']}): {stats['images']} images, {stats['annotations']} "
             f"annotations ({stats['boxes']} boxes), {stats['categories']} classes", "", "splits:"]
    for split, row in stats["splits"].items():
        lines.append(f"  {escape_text(split):<12} {row['images']:>8} images {row['annotations']:>9} annotations "
                     f"{row['unannotated_images']:>7} without annotations")
    lines += ["", "classes:"]
    classes = {escape_text(name): count for name, count in stats["classes"].items()}  # one to one: no merge
    total = max(sum(classes.values()), 1)
    width = max((len(n) for n in classes), default=4)
    peak = max(classes.values(), default=0) or 1
    for name, count in sorted(classes.items(), key=lambda kv: -kv[1]):
        bar = "#" * int(round(30 * count / peak))
        lines.append(f"  {name:<{width}} {count:>8} {100 * count / total:5.1f}% {bar}")
    if stats["unknown_class_annotations"]:
        lines.append(f"  {'(unknown)':<{width}} {stats['unknown_class_annotations']:>8}")
    lines += ["", "distributions (p0 p5 p25 p50 p75 p95 p100):"]
    for key in ("boxes_per_image", "box_width", "box_height", "box_aspect_ratio"):
        dist = stats[key]
        values = " ".join(f"{dist[f'p{p}']:.4g}" for p in PERCENTILES) if dist else "-"
        lines.append(f"  {key:<17} {values}")
    buckets = stats["box_size_buckets"]
    lines.append("  COCO size buckets: " + ", ".join(f"{k} {v}" for k, v in buckets.items()))
    return "\n".join(lines) + "\n"


def plot(ds: Dataset, path: Path) -> None:
    """Class counts, box-centre heat map and width/height scatter in one PNG (needs matplotlib);
    lives in :mod:`detlint.stats_plot`."""
    from detlint.stats_plot import plot as _plot

    _plot(ds, path)
