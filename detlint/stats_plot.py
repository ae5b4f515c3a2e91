"""The boxes the statistics measure, ``detlint stats --plot`` (one PNG of class counts, box
centres and box width against height) and the stats panels of the HTML report.

:func:`measured_boxes` is the one selection of boxes behind every number and picture of a box's
size: ``stats.compute`` (the text and JSON report), :func:`plot` and the HTML report's panels,
so a plot never shows a box the text leaves out (a zero-width box is in neither).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detlint.model import Annotations, Dataset
from detlint.safetext import counted, escape_text

TOP_CLASSES = 30  # bars of their own; the rest share one "other" bar so the labels stay readable
BAR_INCHES = 0.22  # figure height per bar: room for one 8 pt label
MAX_CLASSES_PLOTTED = 40  # bars of the HTML report's class panel
MARKER_SIZE = 12.0  # scatter marker area in pt^2 (about 4 px across at 100 dpi)


@dataclass(frozen=True)
class MeasuredBoxes:
    """``is_box``: rows that are boxes in pixels (a kind with a box, not YOLO-normalised for want of
    an image size); ``valid``: those with finite, positive width and height, the boxes that sizes,
    aspect ratios, size buckets and plots are about. ``width``/``height``: per row, in pixels."""

    is_box: np.ndarray
    valid: np.ndarray
    width: np.ndarray
    height: np.ndarray


def measured_boxes(ann: Annotations) -> MeasuredBoxes:
    boxes = ann.boxes
    is_box = ann.has_box & (ann.kind != Annotations.KIND_NONE) & ~ann.normalized
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    with np.errstate(invalid="ignore"):
        valid = is_box & np.isfinite(width) & np.isfinite(height) & (width > 0) & (height > 0)
    return MeasuredBoxes(is_box, valid, width, height)


def class_bars(names: list[str], counts: np.ndarray, top: int = TOP_CLASSES) -> tuple[list[str], list[int]]:
    """(labels, counts), most frequent first: the ``top`` classes, then one ``other (N classes)``
    bar with the rest, so 80 COCO classes give 31 readable bars instead of 80 overlapping ones."""
    order = np.argsort(-counts, kind="stable")
    labels = [escape_text(names[i]) for i in order[:top]]
    values = [int(counts[i]) for i in order[:top]]
    rest = order[top:]
    if len(rest):
        unused = int((counts[rest] == 0).sum())
        used = counted(len(rest) - unused, "class", "classes")
        labels.append(f"other ({used}, {unused} unused)" if unused else f"other ({used})")
        values.append(int(counts[rest].sum()))
    return labels, values


def box_centres(ds: Dataset, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of annotation ``rows`` as fractions of their image's width and height (finite only)."""
    ann, images = ds.annotations, ds.images
    rows = rows[ann.image[rows] >= 0]
    boxes = ann.boxes[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 / images.width[ann.image[rows]].astype(np.float64)
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 / images.height[ann.image[rows]].astype(np.float64)
    finite = np.isfinite(cx) & np.isfinite(cy)
    return cx[finite], cy[finite]


def scatter_count(measured: MeasuredBoxes) -> str:
    """How many boxes the size plots show, and how many boxes they leave out (zero or negative
    size, non-finite), in the words of ``detlint stats``."""
    shown, boxes = int(measured.valid.sum()), int(measured.is_box.sum())
    if shown == boxes:
        return counted(shown, "box")
    return f"{shown} of {counted(boxes, 'box')}; {boxes - shown} of zero size or non-finite left out"


def scatter_style(n: int) -> dict[str, float]:
    """Marker size and alpha for ``n`` points: visible markers, and an alpha that falls with the
    count so dense regions read darker instead of one solid blob."""
    return {"s": MARKER_SIZE, "alpha": float(np.clip(300.0 / max(n, 1), 0.05, 0.8)), "linewidths": 0}


def figure(ds: Dataset) -> Any:
    """The matplotlib figure of :func:`plot` (callers close it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ann = ds.annotations
    counts = np.bincount(ann.category[ann.category >= 0], minlength=len(ds.categories))
    labels, values = class_bars(list(ds.categories.names), counts)
    fig, axes = plt.subplots(1, 3, figsize=(16, max(5.0, BAR_INCHES * len(labels) + 1.2)))
    colours = ["#3b82f6"] * len(labels)
    if len(labels) > TOP_CLASSES:  # the bar of many classes together, told apart from the others
        colours[-1] = "#9ca3af"
    axes[0].barh(labels[::-1], values[::-1], color=colours[::-1])
    axes[0].tick_params(axis="y", labelsize=8)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 ticks
    axes[0].set_title("annotations per class")
    measured = measured_boxes(ann)
    rows = np.flatnonzero(measured.valid)
    cx, cy = box_centres(ds, rows)
    axes[1].hist2d(cx, cy, bins=50, range=[[0, 1], [0, 1]], cmap="viridis", cmin=1)
    axes[1].set_xlim(0, 1)
    axes[1].set_ylim(1, 0)  # image orientation: y grows downwards
    axes[1].set_title("box centres (normalised)")
    # rounded to 1e-6 px: float noise in equal sizes would give an axis offset like 1e-11+1.28e1
    axes[2].scatter(np.round(measured.width[rows], 6), np.round(measured.height[rows], 6),
                    **scatter_style(len(rows)))
    axes[2].set_xlabel("width (px)")
    axes[2].set_ylabel("height (px)")
    axes[2].set_title(f"box width vs height\n({scatter_count(measured)})", fontsize=10)
    fig.tight_layout()
    return fig


def plot(ds: Dataset, path: Path) -> None:
    """Class counts, box-centre heat map and width/height scatter in one PNG (needs matplotlib)."""
    fig = figure(ds)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    from detlint.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


# -- the HTML report's panels ---------------------------------------------------------------------

def _figure_png(fig: Any, plt: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def _plain_log_ticks(ax: Any, low: float, high: float) -> None:
    """Ticks of a log axis at 1, 2, 4, 8, ... px written as plain numbers (``32``, not ``10^1.5``)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ticks = [2.0 ** k for k in range(int(np.floor(np.log2(low))), int(np.ceil(np.log2(high))) + 1)]
    ticks = [t for t in ticks if low <= t <= high] or [low, high]
    ticks = ticks[::-(-len(ticks) // 8)]  # at most 8 labels: 1, 4, 16, ... over a wide range
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def panels(ds: Dataset, plt: Any) -> list[tuple[str, bytes]]:
    """(title, PNG) for the HTML report: the class histogram, box-size distribution and box centres."""
    from matplotlib.ticker import MaxNLocator

    ann = ds.annotations
    panels = []
    counts = np.bincount(ann.category[ann.category >= 0], minlength=len(ds.categories))
    if len(ds.categories):
        order = np.argsort(-counts, kind="stable")[:MAX_CLASSES_PLOTTED]
        fig, ax = plt.subplots(figsize=(5, max(2.5, 0.18 * len(order) + 1)))
        ax.barh([escape_text(ds.categories.names[i]) for i in order][::-1], counts[order][::-1], color="#3b82f6")
        ax.set_xlabel("annotations")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        panels.append(("annotations per class" + (f" (top {MAX_CLASSES_PLOTTED})" if len(counts) > len(order)
                                                  else ""), _figure_png(fig, plt)))
    measured = measured_boxes(ann)  # the boxes of ``detlint stats``, no zero-width one
    rows = np.flatnonzero(measured.valid)
    if len(rows):
        side = np.sqrt(measured.width[rows] * measured.height[rows])
        fig, ax = plt.subplots(figsize=(5, 3.2))
        # at least one octave either side: boxes of one size would give a range of a few
        # hundredths with overlapping tick labels and no visible bar
        bins = np.geomspace(max(side.min() / 2, 0.1), max(side.max() * 2, 1.0), 40)
        ax.hist(side, bins=bins, color="#10b981")
        _plain_log_ticks(ax, bins[0], bins[-1])
        for threshold in (32, 96):  # COCO's small / medium / large
            ax.axvline(threshold, color="#6b7280", linestyle="--", linewidth=1)
        ax.set_xlabel("sqrt(box area) in px (dashed: COCO small/medium/large)")
        ax.set_ylabel("boxes")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        panels.append(("box-size distribution", _figure_png(fig, plt)))
    cx, cy = box_centres(ds, rows)
    if len(cx):
        fig, ax = plt.subplots(figsize=(4, 3.6))
        ax.hist2d(cx, cy, bins=40, range=[[0, 1], [0, 1]], cmap="viridis", cmin=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(1, 0)  # image orientation: y grows downwards
        ax.set_xlabel("x / width")
        ax.set_ylabel("y / height")
        panels.append(("box centres (normalised; outside [0, 1] not shown)", _figure_png(fig, plt)))
    return panels
