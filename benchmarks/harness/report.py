"""RESULTS.md, rebuilt from ``results/<scale>.json`` alone (``run.py --report-only``)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.targets import _get, earlier_targets, issue21_targets
from harness.tasks import FLOOR_TOOLS, HERE, OPEN_IMAGES, RESULTS, SCALES, TASK_TITLES, TASKS


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def table(doc: dict) -> list[str]:
    truth_ = doc["truth"]
    lines = ["| task | tool | wall s (median) | op s | CPU s | peak RSS MiB | n | counts | measured |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for task, by_tool in doc["results"].items():
        for tool in TASKS.get(task, (None, tuple(by_tool)))[1]:
            s = by_tool.get(tool)
            if s is None:
                continue
            name = f"{tool} (floor)" if tool in FLOOR_TOOLS else tool
            if s["status"] != "ok":
                lines.append(f"| {TASK_TITLES.get(task, task)} | {name} | {s['status'][:160].replace('|', '/')} | | | | | | {s.get('date', 'before')} |")
                continue
            counts = _counts(s)
            lines.append(f"| {TASK_TITLES.get(task, task)} | {name} | {s['wall_s']:.2f} | {s['op_s']:.2f} | {s['cpu_s']:.2f} | "
                         f"{_mib(s['peak_rss'])} | {s['n']} | {counts} | {s.get('date', 'before')} |")
    lines.append("")
    layouts = truth_.get("layouts", {})
    if doc["scale"] == "worst":
        lines.append("Truth: " + "; ".join(f"{fmt}: {t['images']:,} images, {t['boxes']:,} boxes" for fmt, t in layouts.items()) + ".")
    else:
        lines.append(f"Truth from the generator: {truth_['images']:,} images, {truth_['boxes']:,} boxes.")
    return lines


def _counts(s: dict) -> str:
    """Loaded or written counts against the truth; a check's findings with their codes."""
    parts = []
    if s.get("images") is not None:
        parts.append("counts ok" if s.get("counts_ok", True) else f"**WRONG**: {s.get('counts_note')}")
    if s.get("findings") is not None:
        codes = ", ".join(f"{code} {n:,}" for code, n in (s.get("by_code") or {}).items())
        parts.append(f"{s['findings']:,} findings" + (f" ({codes})" if codes else ""))
    return "; ".join(parts)


def memory_and_projection(small: dict, full: dict) -> list[str]:
    """Bytes per box (RSS slope between the scales) and an Open-Images-size projection."""
    d_boxes = full["truth"]["boxes"] - small["truth"]["boxes"]
    lines = ["| task | tool | bytes/box (RSS slope) | s per 1M boxes (wall slope) | projected wall, 16M boxes | projected peak RSS, 16M boxes |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for task in TASKS:
        for tool in TASKS[task][1]:
            a, b = _get(small, task, tool), _get(full, task, tool)
            if TASKS[task][0] is None:
                continue  # no dataset: nothing grows with it
            if not a or not b:
                continue
            rss_slope = (b["peak_rss"] - a["peak_rss"]) / d_boxes
            time_slope = (b["wall_s"] - a["wall_s"]) / d_boxes
            extra = OPEN_IMAGES["boxes"] - full["truth"]["boxes"]
            wall = b["wall_s"] + time_slope * extra
            rss = b["peak_rss"] + rss_slope * extra
            lines.append(f"| {TASK_TITLES[task]} | {tool} | {rss_slope:,.0f} | {time_slope * 1e6:.2f} | "
                         f"{wall:,.0f} s | {rss / 2**30:.1f} GiB |")
    return lines


def write_report() -> Path:
    docs = {scale: json.loads((RESULTS / f"{scale}.json").read_text())
            for scale in SCALES if (RESULTS / f"{scale}.json").exists()}
    for scale, doc in docs.items():
        doc.setdefault("scale", scale)
    lines = _preamble(docs)
    checks = RESULTS / "checks.md"  # hand-written: what each tool checks, from its docs and output
    if checks.exists():
        lines += [checks.read_text().rstrip(), ""]
    for scale, doc in docs.items():
        lines += _scale_section(scale, doc, docs.get("full"))
    if "10k" in docs and "full" in docs:
        lines += ["## Memory per box and an Open-Images-size projection", "",
                  f"Slopes between the 10k and full scales; projection to {OPEN_IMAGES['images']:,} images and "
                  f"{OPEN_IMAGES['boxes']:,} boxes by extending the full-scale measurement along the per-box "
                  "slope (linear; ignores swapping, and Open Images has ~8.4 boxes per image against 7.3 here).", ""]
        lines += memory_and_projection(docs["10k"], docs["full"])
        lines.append("")
    path = HERE / "RESULTS.md"
    notes = RESULTS / "notes.md"  # hand-written observations (profiles, caveats) appended as is
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))
    return path


def _scale_section(scale: str, doc: dict, full: dict | None) -> list[str]:
    t = doc["truth"]
    title = (f"## Scale {scale}: {t['images']:,} images, {t['boxes']:,} boxes" if scale != "worst" else
             "## Worst cases (issue 21 item 3): one image with every box; 1M predictions-like boxes on 10k images")
    lines = [title, "", "Measured by these runs (a later run replaces the rows of the tasks and tools it ran):", ""]
    for entry in doc.get("history", [{"date": doc["date"], "command": doc["command"]}]):
        lines.append(f"- {entry['date']}: `{entry['command']}`")
    lines.append("")
    lines += table(doc)
    header = ["| target | ratio (wall) | ratio (op) | ratio (CPU) | verdict (wall) |", "| --- | ---: | ---: | ---: | --- |"]
    lines += ["", f"### Targets of issue 21 at {scale}", "", *header]
    lines += [f"| {a} | {b} | {c} | {d} | {v} |" for a, b, c, d, v in issue21_targets(doc, full)]
    if scale != "worst":
        lines += ["", f"### Earlier targets at {scale}", "", *header]
        lines += [f"| {a} | {b} | {c} | {d} | {v} |" for a, b, c, d, v in earlier_targets(doc)]
    lines.append("")
    return lines


def _preamble(docs: dict) -> list[str]:
    any_doc = next(iter(docs.values()), None)
    lines = ["# Benchmarks: detlint against its peers", "",
             "Generated by `benchmarks/run.py` (see benchmarks/README.md); raw numbers in "
             "`benchmarks/results/<scale>.json`. Each cell is one fresh process per run; **wall** is the "
             "whole process (interpreter start, imports, the task), **op** is the task alone as timed "
             "inside the process (a CLI peer run as its own program has no inner timing: op = wall); **CPU** is the "
             "child's user+system time (all threads, and the processes it waited for), the steadiest number on "
             "a loaded machine; peak RSS is the child's `ru_maxrss`, plus the peak of its helper processes if it "
             "started any (detlint forks one for a big COCO file; both peaks are added as if they coincided, and "
             "pages the two share are counted twice). Verdicts use wall time; where CPU time gives another verdict "
             "it is said. Tools of one task run round-robin per repeat (A, B, C, A, B, C, ...). **measured** is the "
             "date of the run a row comes from (`before`: a run before 2026-12-07, which did not record it); "
             "ratios between rows of different dates compare different machine loads.", ""]
    if any_doc:
        m = any_doc["machine"]
        lines += ["## Machine", "",
                  f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_bytes'] / 2**30:.0f} GiB; {m['platform']}",
                  f"- Python {m['python']}",
                  "- Shared machine: other engineers ran tests at the same time, so the numbers are noisy; "
                  "`load1` (1-minute load average before each run) is kept in the raw JSON.", ""]
        versions: dict[str, str] = {}
        for doc in docs.values():
            for by_tool in doc["results"].values():
                for s in by_tool.values():
                    versions.update(s.get("versions", {}))
        lines.append("- Packages: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        lines.append("")
    return lines
