"""``detlint stats --plot``: readable class bars, visible scatter markers, and the same boxes as the
text stats (#15 item 11). The PNG is rendered for real; the assertions read the figure objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from helpers import make_yolo  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from PIL import Image  # noqa: E402

import detlint  # noqa: E402
from detlint import stats  # noqa: E402
from detlint.cli import main  # noqa: E402


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every figure the plot closes, kept for inspection (works for any plot implementation)."""
    closed: list = []
    real_close = plt.close

    def keep(fig: object = None) -> None:
        closed.append(fig)
        real_close(fig)

    monkeypatch.setattr(plt, "close", keep)
    return closed


def eighty_classes(root: Path) -> Path:
    """80 classes, each used a different number of times (class k: k % 7 + 1 boxes)."""
    labels = {}
    for image in range(20):
        rows = [f"{k} 0.5 0.5 0.2 0.3" for k in range(image * 4, image * 4 + 4) for _ in range(k % 7 + 1)]
        labels[f"img{image:02d}"] = "\n".join(rows) + "\n"
    return make_yolo(root, labels, [f"a_rather_long_class_name_{k:02d}" for k in range(80)])


def bar_axes(fig: object) -> object:
    return next(ax for ax in fig.axes if ax.get_title() == "annotations per class")


def scatter_of(fig: object) -> object:
    ax = next(ax for ax in fig.axes if ax.get_title().startswith("box width vs height"))
    return ax.collections[0]


def test_eighty_class_labels_do_not_overlap(tmp_path: Path, figures: list) -> None:
    root = eighty_classes(tmp_path / "yolo")
    out = tmp_path / "stats.png"
    result = CliRunner().invoke(main, ["stats", str(root), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).format == "PNG"
    fig = figures[-1]
    ax = bar_axes(fig)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert len(labels) <= 31
    assert "other (50 classes)" in labels
    bars = ax.patches
    assert sum(bar.get_width() for bar in bars) == sum(k % 7 + 1 for k in range(80))  # no annotation lost
    named = [bar.get_width() for bar, label in zip(bars, labels) if not label.startswith("other")]
    assert sorted(named) == sorted(k % 7 + 1 for k in range(80))[-30:]  # the 30 most frequent classes
    canvas = FigureCanvasAgg(fig)  # the closed figure, drawn again to measure its labels
    canvas.draw()
    extents = sorted((label.get_window_extent(canvas.get_renderer()) for label in ax.get_yticklabels()),
                     key=lambda e: e.y0)
    overlaps = [i for i in range(len(extents) - 1) if extents[i].y1 > extents[i + 1].y0]
    assert not overlaps


def test_scatter_counts_the_boxes_the_text_counts(tmp_path: Path, figures: list) -> None:
    root = make_yolo(tmp_path / "yolo", {
        "a": "0 0.5 0.5 0.25 0.5\n0 0.5 0.5 0 0.5\n",  # the second box has zero width (B001)
        "b": "1 0.25 0.25 0.5 0.5\n1 0.75 0.75 0.25 0.25\n",
    }, ["cat", "dog"])
    text = json.loads(CliRunner().invoke(main, ["stats", str(root), "--output-format", "json"]).stdout)
    measured = sum(text["box_size_buckets"].values())
    assert measured == 3 and text["boxes"] == 4
    stats.plot(detlint.load(root), tmp_path / "stats.png")  # the old entry point still works
    scatter = scatter_of(figures[-1])
    points = scatter.get_offsets()
    assert len(points) == measured
    assert min(points[:, 0]) > 0
    assert min(scatter.get_sizes()) >= 9  # a marker of about 1 px is invisible
    assert 0 < scatter.get_alpha() < 1


def test_many_boxes_get_a_lower_alpha(tmp_path: Path, figures: list) -> None:
    rows = "".join(f"0 0.5 0.5 {0.1 + i / 2000:.4f} 0.2\n" for i in range(1000))
    few = make_yolo(tmp_path / "few", {"a": "0 0.5 0.5 0.1 0.2\n"}, ["cat"])
    many = make_yolo(tmp_path / "many", {"a": rows}, ["cat"])
    stats.plot(detlint.load(few), tmp_path / "few.png")
    stats.plot(detlint.load(many), tmp_path / "many.png")
    few_scatter, many_scatter = scatter_of(figures[-2]), scatter_of(figures[-1])
    assert len(many_scatter.get_offsets()) == 1000
    assert many_scatter.get_alpha() < few_scatter.get_alpha()


def test_boxes_of_one_size_plot_without_float_noise_and_counts_agree(tmp_path: Path, figures: list) -> None:
    # 640 x 0.02 = 12.8 px is 12.800000000000011 in floats: the axis must not read 1e-11+1.28e1
    labels = {f"img{k}": "0 0.5 0.5 0.02 0.02\n0 0.3 0.3 0.02 0.02\n" for k in range(3)}
    labels["img0"] += "0 0.5 0.5 0 0.1\n"  # zero width: not measured
    root = make_yolo(tmp_path / "yolo", labels, ["a", "b"], size=(640, 480))
    result = CliRunner().invoke(main, ["stats", str(root), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert "distributions (p0 p5 p25 p50 p75 p95 p100) of 6 boxes; 1 of zero size or non-finite left out:" \
        in result.stdout
    [fig] = [f for f in figures if f is not None]
    ax = next(ax for ax in fig.axes if ax.get_title().startswith("box width vs height"))
    assert "(6 of 7 boxes; 1 of zero size or non-finite left out)" in ax.get_title()
    FigureCanvasAgg(fig).draw()
    assert ax.xaxis.get_major_formatter().get_offset() == "" and ax.yaxis.get_major_formatter().get_offset() == ""


def test_other_bar_says_how_many_of_its_classes_are_unused() -> None:
    from detlint.stats_plot import class_bars

    counts = np.array([5] * 30 + [2, 0, 0])
    labels, values = class_bars([f"c{k}" for k in range(33)], counts)
    assert labels[-1] == "other (1 class, 2 unused)" and values[-1] == 2


def test_html_size_panel_of_one_box_size_has_readable_ticks(tmp_path: Path) -> None:
    from detlint.stats_plot import panels

    labels = {f"img{k}": "0 0.5 0.5 0.02 0.02\n" for k in range(3)}
    ds = detlint.load(make_yolo(tmp_path / "yolo", labels, ["a"], size=(640, 480)))
    fig_axes: list = []
    real_close = plt.close

    def keep(fig: object = None) -> None:
        fig_axes.append(fig.axes[0])
        real_close(fig)

    original, plt.close = plt.close, keep
    try:
        panels(ds, plt)
    finally:
        plt.close = original
    size_axes = fig_axes[1]
    ticks = [t for t in size_axes.get_xticks() if size_axes.get_xlim()[0] <= t <= size_axes.get_xlim()[1]]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert all(float(t).is_integer() for t in size_axes.get_yticks())
