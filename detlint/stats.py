"""Dataset statistics: counts per split, class histogram, box size and aspect distributions.

``boxes`` counts the annotations with a measurable pixel box (a polygon's outline included: the
distributions measure them all); ``polygons`` how many of those are polygons, so the text says
``(N boxes, M polygons)`` with the two apart. Distribution values are rounded to ``DECIMALS``
places: a percentile between two integers is ``16.0``, not ``15.999999999999993``.
The files the reader could not parse (F001, nothing read from them) and the label lines it could not
parse (F006) are what the counts leave out: :func:`unreadable` lists them, located as ``check``
locates them, and ``detlint stats`` prints them on stderr and exits 1, as ``check`` does for F001.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from detlint.findings import Finding
from detlint.model import Annotations, Dataset
from detlint.safetext import counted, escape_text
from detlint.stats_plot import measured_boxes

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)
SIZE_BUCKETS = (("small", 0, 32**2), ("medium", 32**2, 96**2), ("large", 96**2, np.inf))  # COCO's
DECIMALS = 6  # pixel sizes and ratios: finer than any annotation tool writes, coarser than float noise
SPLIT_WIDTH = 12  # the split column's least width; a longer name widens it


def _distribution(values: np.ndarray) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return {}
    found = np.round(np.append(np.percentile(values, PERCENTILES), values.mean()), DECIMALS).tolist()
    return {f"p{p}": v for p, v in zip(PERCENTILES, found)} | {"mean": found[-1]}


def _also_in_splits(ds: Dataset) -> dict[str, list[int]]:
    """The image rows each split also holds: one row per image file, in the first split that
    reaches it, the others in ``extra["also_in_splits"]`` (a leak, S001), counted in each."""
    also: dict[str, list[int]] = {}
    for row, extra in enumerate(ds.images.extra.tolist()):
        if extra and isinstance(extra, dict) and extra.get("also_in_splits"):
            for split in extra["also_in_splits"]:
                also.setdefault(str(split), []).append(row)
    return also


def compute(ds: Dataset) -> dict[str, Any]:
    ann, images = ds.annotations, ds.images
    measured = measured_boxes(ann)  # the plot draws exactly these boxes
    is_box, valid, w, h = measured.is_box, measured.valid, measured.width, measured.height
    area = w * h
    splits = {}
    also = _also_in_splits(ds)
    for split in dict.fromkeys(ds.splits + list(also)):
        rows = np.union1d(np.flatnonzero(images.split == split), also.get(split, []))
        ann_in = np.isin(ann.image, rows)
        splits[split or "(all)"] = {"images": len(rows), "annotations": int(ann_in.sum()),
                                    "unannotated_images": int(len(rows) - len(np.unique(ann.image[ann_in])))}
    counts = np.bincount(ann.category[ann.category >= 0], minlength=len(ds.categories))
    per_image = np.bincount(ann.image[ann.image >= 0], minlength=len(images)) if len(images) else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(valid, w / h, np.nan)
    return {
        "path": str(ds.root), "format": ds.format, "images": len(images), "annotations": len(ann),
        "boxes": int(is_box.sum()), "polygons": int((is_box & (ann.kind == Annotations.KIND_POLYGON)).sum()),
        "masks": _mask_counts(ds),
        "measured_boxes": int(valid.sum()),  # what the distributions and the plot measure
        "categories": len(ds.categories), "splits": splits,
        "classes": {name: int(c) for name, c in zip(ds.categories.names, counts.tolist())},
        "unknown_class_annotations": int((ann.category < 0).sum()),
        "boxes_per_image": _distribution(per_image.astype(np.float64)),
        "box_width": _distribution(np.where(valid, w, np.nan)),
        "box_height": _distribution(np.where(valid, h, np.nan)),
        "box_aspect_ratio": _distribution(aspect),
        "box_size_buckets": {name: int((valid & (area >= lo) & (area < hi)).sum()) for name, lo, hi in SIZE_BUCKETS},
    }


def unreadable(ds: Dataset) -> list[Finding]:
    """The F001 findings (in report order) of the files nothing was read from, and the F006 of the
    label lines not parsed: their annotations are missing from every count. A file a lenient parser
    still read (COCO that is not strict JSON) gave its rows, so it is counted, not listed."""
    rows = (ds.categories.src_file, ds.annotations.src_file)  # an image row names its label file, read or not
    read = {ds.file_of(int(i)) for i in np.unique(np.concatenate(rows)) if i >= 0}
    return sorted((p for p in ds.problems if (p.code == "F001" and p.file not in read) or p.code == "F006"),
                  key=Finding.sort_key)


def render_unreadable(findings: list[Finding], dataset: str) -> str:
    """``check``'s concise lines for ``findings`` (paths as ``dataset`` was given), then what it
    means for the statistics."""
    from detlint.report import concise
    from detlint.report._common import Paths

    paths = Paths()
    located = [dataclasses.replace(f, dataset=dataset) for f in findings]
    lines = [escape_text(f"{concise.location(f, paths)}: {f.code} {f.message}") for f in located]
    files = len({f.file for f in findings if f.code == "F001"})
    rows = sum(f.code == "F006" for f in findings)
    parts = ([f"{counted(files, 'file')} that could not be read"] if files else []) + \
            ([f"{counted(rows, 'label line')} that could not be parsed"] if rows else [])
    return "\n".join([*lines, f"stats leave out {' and '.join(parts)}"]) + "\n"


def _cell(n: int, noun: str, width: int) -> str:
    """``n`` right-aligned in ``width`` and its noun in number, padded to its plural's width."""
    number, word = counted(n, noun).split(" ", 1)
    return f"{number:>{width}} {word:<{len(counted(2, noun)) - 2}}"


def _mask_counts(ds: Dataset) -> dict[str, int]:
    """Annotations by mask kind: pixel polygon lists (one part, several), RLE masks, YOLO rings."""
    ann = ds.annotations
    column = ann.segmentation[ann.kind == Annotations.KIND_BOX].tolist()
    parts = [len(s) for s in column if type(s) is list and s]
    rle = sum(1 for s in column if type(s) is dict)
    multi = sum(1 for n in parts if n > 1)
    return {"polygon": len(parts) - multi, "multi_polygon": multi, "rle": rle,
            "yolo_polygon": int((ann.kind == Annotations.KIND_POLYGON).sum())}


def render_text(stats: dict[str, Any]) -> str:
    """The text report. Names (path, splits, classes) are escaped before the columns are aligned
    (``escape_text``): a newline or a lone surrogate in a class name neither breaks nor fakes a line."""
    polygons = stats.get("polygons", 0)
    lines = [f"{escape_text(stats['path'])} ({stats['format']}): {counted(stats['images'], 'image')}, "
             f"{counted(stats['annotations'], 'annotation')} ({counted(stats['boxes'] - polygons, 'box')}, "
             f"{counted(polygons, 'polygon')}), {counted(stats['categories'], 'class')}"]
    masks = stats.get("masks", {})
    if masks.get("polygon") or masks.get("multi_polygon") or masks.get("rle"):
        lines.append(f"masks: {counted(masks['polygon'], 'one-part polygon')}, "
                     f"{counted(masks['multi_polygon'], 'multi-part polygon')}, {counted(masks['rle'], 'RLE mask')}")
    lines += ["", "splits:"]
    splits = {escape_text(split): row for split, row in stats["splits"].items()}
    width = max((len(name) for name in splits), default=0)
    for split, row in splits.items():
        lines.append(f"  {split:<{max(width, SPLIT_WIDTH)}} {_cell(row['images'], 'image', 8)} "
                     f"{_cell(row['annotations'], 'annotation', 9)} {row['unannotated_images']:>7} without annotations")
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
    left_out = stats["boxes"] - stats.get("measured_boxes", stats["boxes"])
    if left_out:
        lines[-1] = (f"distributions (p0 p5 p25 p50 p75 p95 p100) of {stats['measured_boxes']} boxes; "
                     f"{left_out} of zero size or non-finite left out:")
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
