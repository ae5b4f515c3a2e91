"""Verdicts per target: ratios of detlint to a peer or a floor in one run, on wall, op and CPU time."""

from __future__ import annotations

from collections.abc import Callable

from harness.tasks import FLOOR_TOOLS, TASKS

Row = tuple[str, str, str, str, str]
COCO_TASKS = ("load_coco", "load_coco_poly", "check_coco", "check_coco_poly", "coco2yolo", "coco2voc")
POLY = {"load_coco": "load_coco", "load_coco_poly": "load_coco_poly", "check_coco": "load_coco",
        "check_coco_poly": "load_coco_poly", "coco2yolo": "load_coco", "coco2voc": "load_coco"}


def _get(doc: dict | None, task: str, tool: str) -> dict | None:
    if not doc:
        return None
    s = doc["results"].get(task, {}).get(tool)
    return s if s and s.get("status") == "ok" else None


def _ratio(a: dict | None, b: dict | None, key: str, extra_s: float = 0.0, factor: float = 1.0) -> float | None:
    """a / (factor * b + extra_s): a budget of "factor times b plus extra_s" reads as <= 1.0."""
    return a[key] / (factor * b[key] + extra_s) if a and b and (factor * b[key] + extra_s) else None


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= limit else "MISSED"


def _adder(rows: list) -> Callable[..., None]:
    def add(name: str, a: dict | None, b: dict | None, limit: float, label: str = "", extra_s: float = 0.0,
            factor: float = 1.0) -> None:
        """One row: the ratio on wall, op and CPU time; the verdict on wall (and CPU if it differs)."""
        wall, op, cpu = (_ratio(a, b, key, extra_s, factor) for key in ("wall_s", "op_s", "cpu_s"))
        rows.append((name + label, _fmt_ratio(wall), _fmt_ratio(op), _fmt_ratio(cpu),
                     _verdict(wall, limit) + ("" if _verdict(cpu, limit) == _verdict(wall, limit)
                                              else f" (on CPU time: {_verdict(cpu, limit)})")))
    return add


def _best_peer(doc: dict, task: str, key: str) -> tuple[str | None, dict | None]:
    """The fastest peer (not a floor) whose counts are right."""
    best = (None, None)
    for tool in TASKS[task][1]:
        if tool == "detlint" or tool in FLOOR_TOOLS:
            continue
        s = _get(doc, task, tool)
        if s and s.get("counts_ok", True) and (best[1] is None or s[key] < best[1][key]):
            best = (tool, s)
    return best


def earlier_targets(doc: dict) -> list[Row]:
    """The targets of the issues before 21 (load, check and convert against orjson, pycocotools, globox)."""
    rows: list[Row] = []
    d = lambda task: _get(doc, task, "detlint")  # noqa: E731
    add = _adder(rows)
    for task in ("load_coco", "load_coco_poly"):
        add(f"{task}: detlint <= 1.3x orjson.loads", d(task), _get(doc, task, "orjson"), 1.3)
        add(f"{task}: detlint <= 0.7x pycocotools", d(task), _get(doc, task, "pycocotools"), 0.7)
        a, b = d(task), _get(doc, task, "pycocotools")
        rss = a["peak_rss"] / b["peak_rss"] if a and b else None
        rows.append((f"{task}: detlint peak RSS <= pycocotools", _fmt_ratio(rss), "", "", _verdict(rss, 1.0)))
    for check, load in (("check_coco", "load_coco"), ("check_coco_poly", "load_coco_poly")):
        add(f"{check}: <= 1.5x orjson.loads", d(check), _get(doc, load, "orjson"), 1.5)
    for task in ("load_voc", "load_yolo", "coco2yolo", "yolo2coco", "coco2voc"):
        tool, best = _best_peer(doc, task, "wall_s")
        add(f"{task}: detlint <= 1/3 of best peer", d(task), best, 1 / 3, f" ({tool or 'none'})")
    return rows


def _rss_row(rows: list, name: str, a: dict | None, b: dict | None) -> None:
    rss = a["peak_rss"] / b["peak_rss"] if a and b else None
    rows.append((name, _fmt_ratio(rss), "", "", _verdict(rss, 1.0)))


def _absolute(rows: list, name: str, value: float | None, limit: float, unit: str) -> None:
    shown = "n/a" if value is None else f"{value:,.2f} {unit}"
    rows.append((name, shown, "", "", _verdict(value, limit)))


def issue21_targets(doc: dict, full: dict | None) -> list[Row]:
    """The targets of issue 21 (Rust anchors, worst cases), for one scale's results."""
    if doc["scale"] == "worst":
        return _worst_targets(doc, full)
    rows: list[Row] = []
    add = _adder(rows)
    d = lambda task: _get(doc, task, "detlint")  # noqa: E731
    healthcheck = _get(doc, "check_coco", "hotcoco")
    add("check_coco: detlint <= 0.8x panlabel validate", d("check_coco"), _get(doc, "check_coco", "panlabel"), 0.8)
    add("check_coco: detlint <= 1.0x hotcoco load + healthcheck (`coco healthcheck`: one process that loads and checks)",
        d("check_coco"), healthcheck, 1.0)
    add("check_coco_poly: detlint <= 1.5x orjson.loads", d("check_coco_poly"), _get(doc, "load_coco_poly", "orjson"), 1.5)
    for task in ("check_voc", "check_yolo"):
        add(f"{task}: detlint <= 0.8x panlabel validate", d(task), _get(doc, task, "panlabel"), 0.8)
    for task in ("coco2yolo", "yolo2coco", "coco2voc"):
        add(f"{task}: detlint <= 0.8x panlabel convert", d(task), _get(doc, task, "panlabel"), 0.8)
        add(f"{task}: detlint <= 1/3 of globox", d(task), _get(doc, task, "globox"), 1 / 3)
    version = d("version")
    _absolute(rows, "detlint --version <= 0.15 s (wall)", version and version["wall_s"], 0.15, "s")
    if doc["scale"] == "10k":  # the ratio is check / (1.3 x orjson.loads + 0.15 s)
        add("check_coco at 10k: detlint <= 1.3x orjson.loads + 0.15 s (ratio to that budget)", d("check_coco"),
            _get(doc, "load_coco", "orjson"), 1.0, extra_s=0.15, factor=1.3)
    for task in COCO_TASKS:
        _rss_row(rows, f"{task}: detlint peak RSS <= pycocotools (load of that file)", d(task),
                 _get(doc, POLY[task], "pycocotools"))
    return rows


def _worst_targets(doc: dict, full: dict | None) -> list[Row]:
    rows: list[Row] = []
    d = lambda task: _get(doc, task, "detlint")  # noqa: E731
    for task in ("check_dense_coco", "check_dense_yolo", "check_dense_voc"):
        s = d(task)
        _absolute(rows, f"{task}: detlint <= 2 s (wall)", s and s["wall_s"], 2.0, "s")
        _absolute(rows, f"{task}: detlint <= 500 MB peak RSS", s and s["peak_rss"] / 1e6, 500, "MB")
    preds, boxes = d("check_coco_preds"), doc["truth"]["boxes"]
    base = _get(full, "check_coco", "detlint")
    if preds and base:  # linear: a predictions box costs no more than 1.5x a full-scale box
        per_box = preds["cpu_s"] / boxes
        base_per_box = base["cpu_s"] / full["truth"]["boxes"]
        ratio = per_box / base_per_box
        rows.append((f"check_coco_preds: detlint CPU per box <= 1.5x the full-scale check's "
                     f"({per_box * 1e6:.1f} against {base_per_box * 1e6:.1f} us/box)", _fmt_ratio(ratio), "", "",
                     _verdict(ratio, 1.5)))
    add = _adder(rows)
    add("check_coco_preds: detlint <= 1.5x orjson.loads", preds, _get(doc, "check_coco_preds", "orjson"), 1.5)
    add("check_coco_preds: detlint <= 0.8x panlabel validate", preds, _get(doc, "check_coco_preds", "panlabel"), 0.8)
    add("check_coco_preds: detlint <= 1.0x hotcoco healthcheck", preds, _get(doc, "check_coco_preds", "hotcoco"), 1.0)
    _rss_row(rows, "check_coco_preds: detlint peak RSS <= pycocotools", preds, _get(doc, "check_coco_preds", "pycocotools"))
    return rows
