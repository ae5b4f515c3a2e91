"""Side-by-side benchmark: detlint against the tools a user would pick instead.

    python benchmarks/run.py --scale full,worst --data /work/main/benchmarks/data --single-run-over 60 \
        --tools detlint,orjson,pycocotools,hotcoco,panlabel,globox   # the issue-21 table
    python benchmarks/run.py                      # 10k and full scale, every task, median of 3
    python benchmarks/run.py --scale 10k --repeat 3
    python benchmarks/run.py --scale full --tasks load_coco,check_coco
    python benchmarks/run.py --skip-peers         # detlint (and nothing else)
    python benchmarks/run.py --report-only        # rewrite RESULTS.md from results/*.json

Datasets come from ``benchmarks/generate.py`` (deterministic; reused when present) under
``<--data>/<scale>``: 10k images (~73k boxes) and COCO-train2017 scale (118,287 images, ~864k
boxes), as COCO (box-only and with polygons), VOC and YOLO; the ``worst`` scale (issue 21 item 3)
is one image with 100k boxes (``bench_dense.py``'s data) and a COCO file with 1M predictions-like
boxes on 10k images, both built under ``benchmarks/data``.

Every (task, tool) run is a fresh process so imports, start-up and peak RSS are those a user sees:
this file in ``--child`` mode for a Python tool, the program itself for a CLI (panlabel, hotcoco's
``coco healthcheck``/``coco convert``, ``detlint --version``). The parent measures wall time, CPU
time and the child's peak RSS (``os.wait4`` rusage); counts (images, boxes, findings) are compared
with the generator's truth: a tool that gets them wrong is marked, not dropped.

detlint runs with this interpreter (the project's environment); the peers run with
``benchmarks/.venv-peers`` (``--peers-python``), set up by ``--setup-peers``. A peer that is
missing, fails, cannot do the task, or runs past ``--timeout`` is recorded as such. Results go to
``benchmarks/results/<scale>.json``; ``benchmarks/RESULTS.md`` is written from all result files.

Only the standard library is imported at module level (and by ``harness``): the child mode runs
in either environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from harness.datasets import ensure_data, truth
from harness.measure import run_once, summarize
from harness.peers import setup_peers
from harness.report import write_report
from harness.tasks import OUT, PEERS_VENV, REPO, RESULTS, SCALES, TASKS, tasks_for

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------ machine

def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_bytes": mem, "python": platform.python_version(),
            "platform": platform.platform(), "load1_start": round(os.getloadavg()[0], 2)}


def _run_task(task: str, tools: list[str], root: Path, scale: str, args: argparse.Namespace) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    if task.endswith("_warm"):  # an untimed run fills the parse cache a re-check then reads
        shutil.rmtree(OUT / "cache", ignore_errors=True)
        run_once("detlint", task, root, OUT / scale / task / "prime", args)
    for k in range(args.repeat):
        # round-robin over the tools, so load from other work on the machine hits them alike
        for tool in tools:
            previous_runs = runs[tool]
            if previous_runs and (previous_runs[-1]["status"] != "ok"
                                  or previous_runs[0]["wall_s"] > args.single_run_over):
                continue  # a failure repeats itself; a very long run is not worth three
            out = OUT / scale / task / tool / f"run{k}"
            previous_runs.append(run_once(tool, task, root, out, args))
            shutil.rmtree(out, ignore_errors=True)
    return runs


def _check_counts(summary: dict, expected: dict) -> None:
    wrong = [f"{key} {summary[key]} != {expected[key]}" for key in ("images", "boxes")
             if summary.get(key) is not None and summary[key] != expected[key]]
    summary["counts_ok"] = not wrong
    if wrong:
        summary["counts_note"] = "; ".join(wrong)


def run_scale(scale: str, args: argparse.Namespace) -> dict:
    tasks = tasks_for(scale, args.tasks)
    layouts = {TASKS[t][0] for t in tasks} - {None}
    roots = ensure_data(scale, layouts, Path(args.data))
    expected = truth(scale)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "detlint")], check=False)
    path = RESULTS / f"{scale}.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    results = previous.get("results", {})
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    command = "python " + " ".join(sys.argv)
    history = previous.get("history", []) + [{"date": now, "command": command}]
    doc = {"scale": scale, "truth": expected, "machine": machine(), "command": command, "date": now,
           "history": history, "results": results}
    for task in tasks:
        fmt, tools, _ = TASKS[task]
        tools = [t for t in tools if not (args.skip_peers and t != "detlint") and not (args.tools and t not in args.tools)]
        root = roots.get(fmt, HERE) if fmt else HERE
        runs = _run_task(task, tools, root, scale, args)
        for tool in tools:
            summary = summarize(runs[tool])
            if summary["status"] == "ok" and fmt:
                _check_counts(summary, expected["layouts"][fmt])
            summary["date"] = now[:10]  # rows of earlier runs stay beside new ones: say which is which
            results.setdefault(task, {})[tool] = summary
            print(f"  {scale} {task:16s} {tool:12s} {_line(summary)}", flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, path)  # a concurrent --report-only never reads half a file
    return doc


def _line(s: dict) -> str:
    if s["status"] != "ok":
        return s["status"]
    counts = "" if s.get("counts_ok", True) else f"  WRONG COUNTS: {s['counts_note']}"
    findings = f"  findings {s['findings']}" if s.get("findings") is not None else ""
    return (f"wall {s['wall_s']:8.2f} s  op {s['op_s']:8.2f} s  cpu {s['cpu_s']:8.2f} s  "
            f"rss {s['peak_rss'] / 2**20:8.0f} MiB  n={s['n']}{findings}{counts}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="10k,full",
                        help=f"comma-separated scales: {','.join(SCALES)} ('both' = 10k,full; 'all' = all three)")
    parser.add_argument("--data", default=str(HERE / "data"),
                        help="folder holding the generated <scale>/ datasets (read only when complete)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per (task, tool); the median is kept")
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=None,
                        help=f"comma-separated subset of: {','.join(TASKS)}")
    parser.add_argument("--tools", type=lambda s: s.split(","), default=None,
                        help="comma-separated subset of: detlint,orjson,pycocotools,hotcoco,panlabel,globox,supervision,datumaro")
    parser.add_argument("--skip-peers", action="store_true", help="run detlint only")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a run is cut off")
    parser.add_argument("--single-run-over", type=float, default=120,
                        help="a first run longer than this many seconds is not repeated")
    parser.add_argument("--peers-python", default=str(PEERS_VENV / "bin" / "python"))
    parser.add_argument("--max-rss-gib", type=float, default=8,
                        help="kill a run whose RSS passes this (before the OOM killer hits a neighbour)")
    parser.add_argument("--setup-peers", action="store_true", help="create benchmarks/.venv-peers first")
    parser.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md")
    return parser


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from harness.children import child_main

        child_main(*sys.argv[2:6])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--count":
        from harness.counting import count_main

        count_main(*sys.argv[2:4])
        return
    parser = _parser()
    args = parser.parse_args()
    scales = {"both": ["10k", "full"], "all": list(SCALES)}.get(args.scale, args.scale.split(","))
    if set(scales) - set(SCALES):
        parser.error(f"unknown scales: {', '.join(sorted(set(scales) - set(SCALES)))}")
    if args.tasks and set(args.tasks) - set(TASKS):
        parser.error(f"unknown tasks: {', '.join(sorted(set(args.tasks) - set(TASKS)))}")
    if args.setup_peers:
        outcome = setup_peers()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "peers-install.json").write_text(json.dumps(outcome, indent=1) + "\n")
        print(json.dumps(outcome, indent=1))
    if not args.report_only:
        for scale in scales:
            print(f"scale {scale}", flush=True)
            run_scale(scale, args)
    print(write_report())


if __name__ == "__main__":
    main()
