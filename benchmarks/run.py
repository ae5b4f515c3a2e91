"""Side-by-side benchmark: detlint against the tools a user would pick instead.

    python benchmarks/run.py                      # both scales, all tasks, median of 3
    python benchmarks/run.py --scale 10k --repeat 3
    python benchmarks/run.py --scale full --tasks load_coco,check_coco
    python benchmarks/run.py --skip-peers         # detlint (and nothing else)
    python benchmarks/run.py --report-only        # rewrite RESULTS.md from results/*.json

Datasets come from ``benchmarks/generate.py`` (deterministic; reused when present) under
``benchmarks/data/<scale>``: 10k images (~73k boxes) and COCO-train2017 scale (118,287 images,
~864k boxes), as COCO (box-only and with polygons), VOC and YOLO.

Every (task, tool) run is a fresh process (this file in ``--child`` mode) so imports, start-up
and peak RSS are those a user sees. The parent measures wall time and the child's peak RSS
(``os.wait4`` rusage); the child reports the time of the operation itself and what it loaded
(image and box counts), which the parent compares with the generator's truth: a tool that gets
the counts wrong is marked, not dropped.

detlint runs with this interpreter (the project's environment); the peers (orjson, pycocotools,
globox, supervision, datumaro) run with ``benchmarks/.venv-peers`` (``--peers-python``), set up
by ``--setup-peers``. A peer that is missing, fails, or runs past ``--timeout`` is recorded as
such. Results go to ``benchmarks/results/<scale>.json``; ``benchmarks/RESULTS.md`` is written
from all result files.

Only the standard library is imported at module level: the child mode runs in either
environment.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
OUT = HERE / "out"
RESULTS = HERE / "results"
PEERS_VENV = HERE / ".venv-peers"
PEER_PACKAGES = ("orjson", "pycocotools", "globox", "supervision", "datumaro")
SCALES = {"10k": 10_000, "full": 118_287}
FORMATS = ("coco", "coco_poly", "voc", "yolo")
OPEN_IMAGES = {"images": 1_900_000, "boxes": 16_000_000}

# task -> (dataset layout it reads, tools in display order)
TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "load_coco": ("coco", ("detlint", "orjson", "pycocotools", "globox", "supervision", "datumaro")),
    "load_coco_poly": ("coco_poly", ("detlint", "orjson", "pycocotools", "globox", "supervision", "datumaro")),
    "load_voc": ("voc", ("detlint", "globox", "supervision", "datumaro")),
    "load_yolo": ("yolo", ("detlint", "globox", "supervision", "datumaro")),
    "check_coco": ("coco", ("detlint",)),
    "check_coco_poly": ("coco_poly", ("detlint",)),
    "check_voc": ("voc", ("detlint",)),
    "check_yolo": ("yolo", ("detlint",)),
    "check_voc_warm": ("voc", ("detlint",)),
    "check_yolo_warm": ("yolo", ("detlint",)),
    "coco2yolo": ("coco", ("detlint", "globox", "supervision", "datumaro")),
    "yolo2coco": ("yolo", ("detlint", "globox", "supervision", "datumaro")),
    "coco2voc": ("coco", ("detlint", "globox", "supervision", "datumaro")),
}
TARGET_OF = {"coco2yolo": "yolo", "yolo2coco": "coco", "coco2voc": "voc"}
FLOOR_TOOLS = ("orjson",)  # a lower bound, not a tool a user would pick instead


# =============================================================================== child side
# Each function runs one task with one tool and returns {"images": n, "boxes": n}.

def _coco_json(root: Path) -> Path:
    return root / "annotations" / "instances_train.json"


def _coco_images(root: Path) -> Path:
    return root / "images" / "train"


def _child_detlint(task: str, root: Path, out: Path) -> dict:
    if task.startswith("load_"):
        import detlint.formats

        ds = detlint.formats.load(root)
        return {"images": len(ds.images), "boxes": len(ds.annotations), "problems": len(ds.problems)}
    from detlint import cli

    if task.startswith("check_"):
        report = out / "report.json"
        out.mkdir(parents=True, exist_ok=True)
        args = ["check", str(root), "--images", "none", "--output-format", "json", "-o", str(report)]
        if not task.endswith("_warm"):
            args.append("--no-cache")  # cold: parse every file
    else:
        args = ["convert", str(root), str(out / "dataset"), "--to", TARGET_OF[task]]
    code = 0
    try:
        with contextlib.redirect_stdout(sys.stderr):
            cli.main(args, prog_name="detlint")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    if code not in (0, 1):
        raise RuntimeError(f"detlint {' '.join(args)} exited {code}")
    if task.startswith("check_"):
        doc = json.loads(report.read_text())
        findings = doc.get("findings", doc) if isinstance(doc, dict) else doc
        return {"exit": code, "findings": len(findings) if isinstance(findings, list) else None}
    return {"exit": code}


def _child_orjson(task: str, root: Path, out: Path) -> dict:
    import orjson

    data = orjson.loads(_coco_json(root).read_bytes())
    return {"images": len(data["images"]), "boxes": len(data["annotations"])}


def _child_pycocotools(task: str, root: Path, out: Path) -> dict:
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(sys.stderr):  # COCO() prints its progress on stdout
        coco = COCO(str(_coco_json(root)))
    return {"images": len(coco.imgs), "boxes": len(coco.anns)}


def _globox_load(fmt: str, root: Path):
    from globox import AnnotationSet

    if fmt in ("coco", "coco_poly"):
        return AnnotationSet.from_coco(_coco_json(root), verbose=False)
    if fmt == "voc":
        return AnnotationSet.from_pascal_voc(root / "Annotations", verbose=False)
    return AnnotationSet.from_yolo_v5(root / "labels" / "train", image_folder=root / "images" / "train",
                                      verbose=False)


def _child_globox(task: str, root: Path, out: Path) -> dict:
    fmt = TASKS[task][0]
    annotations = _globox_load(fmt, root)
    if task in TARGET_OF:
        labels = sorted({box.label for box in annotations.all_boxes})
        target = TARGET_OF[task]
        if target == "yolo":
            annotations.save_yolo_v5(out / "labels", label_to_id={name: i for i, name in enumerate(labels)},
                                     verbose=False)
        elif target == "coco":
            annotations.save_coco(out / "annotations.json", label_to_id={name: i + 1 for i, name in enumerate(labels)},
                                  auto_ids=True, verbose=False)
        else:
            annotations.save_pascal_voc(out / "Annotations", verbose=False)
        return {}
    return {"images": len(annotations), "boxes": sum(len(a.boxes) for a in annotations)}


def _supervision_load(fmt: str, root: Path):
    import supervision as sv

    if fmt in ("coco", "coco_poly"):
        return sv.DetectionDataset.from_coco(images_directory_path=str(_coco_images(root)),
                                             annotations_path=str(_coco_json(root)))
    if fmt == "voc":
        return sv.DetectionDataset.from_pascal_voc(images_directory_path=str(root / "JPEGImages"),
                                                   annotations_directory_path=str(root / "Annotations"))
    return sv.DetectionDataset.from_yolo(images_directory_path=str(root / "images" / "train"),
                                         annotations_directory_path=str(root / "labels" / "train"),
                                         data_yaml_path=str(root / "data.yaml"))


def _child_supervision(task: str, root: Path, out: Path) -> dict:
    dataset = _supervision_load(TASKS[task][0], root)
    target = TARGET_OF.get(task)
    if target == "yolo":  # annotations only: images_directory_path=None writes no images
        dataset.as_yolo(annotations_directory_path=str(out / "labels"), data_yaml_path=str(out / "data.yaml"))
    elif target == "coco":
        dataset.as_coco(annotations_path=str(out / "annotations.json"))
    elif target == "voc":
        dataset.as_pascal_voc(annotations_directory_path=str(out / "Annotations"))
    if target:
        return {}
    return {"images": len(dataset), "boxes": sum(len(d) for d in dataset.annotations.values())}


DATUMARO_FORMATS = {"coco": "coco_instances", "coco_poly": "coco_instances", "voc": "voc_detection",
                    "yolo": "yolo"}


def _child_datumaro(task: str, root: Path, out: Path) -> dict:
    import datumaro as dm

    fmt = TASKS[task][0]
    dataset = dm.Dataset.import_from(str(root), DATUMARO_FORMATS[fmt])
    target = TARGET_OF.get(task)
    if target:
        dataset.export(str(out / "dataset"), DATUMARO_FORMATS[target], save_media=False)
        return {}
    kinds = {dm.AnnotationType.bbox, dm.AnnotationType.polygon, dm.AnnotationType.mask}
    # a COCO polygon becomes a Polygon and a Bbox sharing the annotation id: count ids, not shapes
    boxes = sum(len({a.id for a in item.annotations if a.type in kinds}) for item in dataset)
    return {"images": len(dataset), "boxes": boxes}


def _versions(tool: str) -> dict:
    from importlib import metadata

    names = {"detlint": ("detlint", "numpy", "orjson", "lxml"), "orjson": ("orjson",),
             "pycocotools": ("pycocotools", "numpy"), "globox": ("globox",),
             "supervision": ("supervision", "numpy", "opencv-python", "opencv-python-headless"),
             "datumaro": ("datumaro",)}[tool]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def child_main(tool: str, task: str, root: str, out: str) -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    runner = globals()[f"_child_{tool}"]
    start = time.perf_counter()
    result = runner(task, Path(root), Path(out))
    result["op_s"] = time.perf_counter() - start
    result["versions"] = _versions(tool)
    import resource  # Linux/macOS; the benchmark runs there

    # the tool's helper processes (detlint forks one for big COCO files): wait4 reports the
    # largest process of the tree, so the parent adds theirs to this process's own peak
    result["self_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result["helpers_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    sys.stdout.write(json.dumps(result) + "\n")


# ============================================================================== parent side

def _python_for(tool: str, args: argparse.Namespace) -> str | None:
    if tool == "detlint":
        return sys.executable
    python = Path(args.peers_python)
    return str(python) if python.exists() else None


def _rss_now(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _peak_rss_and_wait(proc: subprocess.Popen, timeout: float,
                       max_rss: float) -> tuple[int | None, int, str | None, float]:
    """(exit status, peak RSS in bytes, why it was cut off, CPU seconds) of a child, from its rusage.

    A child past ``max_rss`` is killed before the kernel's OOM killer picks a victim on a machine
    other people share.
    """
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        if polls % 10 == 0 and _rss_now(proc.pid) > max_rss:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage.ru_maxrss * 1024, f"killed: RSS over {max_rss / 2**30:.0f} GiB", usage.ru_utime + usage.ru_stime
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024, None, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage.ru_maxrss * 1024, f"timeout (> {timeout:.0f} s)", usage.ru_utime + usage.ru_stime
        time.sleep(0.02)


def run_once(tool: str, task: str, root: Path, out: Path, args: argparse.Namespace) -> dict:
    python = _python_for(tool, args)
    if python is None:
        return {"status": "not installed"}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cmd = [python, str(Path(__file__).resolve()), "--child", tool, task, str(root), str(out)]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0",
           "DETLINT_CACHE_DIR": str(OUT / "cache")}  # warm-check tasks only; cold ones pass --no-cache
    # Installed peers have .pyc files; detlint runs from source, so let it keep its bytecode too
    # (compiled once by run_scale), as an installed detlint would.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    stdout_path, stderr_path = out.parent / f"{out.name}.stdout", out.parent / f"{out.name}.stderr"
    load_before = os.getloadavg()[0]
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=REPO, env=env)
        code, rss, cut_off, cpu = _peak_rss_and_wait(proc, args.timeout, args.max_rss_gib * 2**30)
        wall = time.perf_counter() - start
    record = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss": rss, "load1": round(load_before, 2)}
    if cut_off:
        record["status"] = cut_off
        return record
    if code == -9:
        record["status"] = "killed by SIGKILL (the kernel's out-of-memory killer on this machine)"
        return record
    if code != 0:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
        record["status"] = f"failed (exit {code}): " + " | ".join(tail)[-300:]
        return record
    lines = stdout_path.read_text().strip().splitlines()
    try:
        record.update(json.loads(lines[-1]))
    except (IndexError, json.JSONDecodeError):
        record["status"] = "failed: no result line"
        return record
    record["status"] = "ok"
    if record.get("helpers_rss"):
        record["peak_rss"] = record["self_rss"] + record["helpers_rss"]  # both peaks, as if at once
    if task in TARGET_OF:
        record.update(count_output(TARGET_OF[task], out))
    return record


def count_output(target: str, out: Path) -> dict:
    """Images and boxes a conversion wrote, counted the same way for every tool (not timed)."""
    images = boxes = 0
    if target == "coco":
        import orjson  # the parent runs in detlint's environment

        for path in out.rglob("*.json"):
            if path.name == "detlint-conversion.json":
                continue
            doc = orjson.loads(path.read_bytes())
            if isinstance(doc, dict) and "annotations" in doc:
                images += len(doc.get("images", []))
                boxes += len(doc["annotations"])
    elif target == "yolo":
        for dirpath, _, files in os.walk(out):
            for name in files:
                if name.endswith(".txt") and name not in ("classes.txt", "train.txt", "val.txt"):
                    images += 1
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        boxes += sum(1 for line in fh if line.strip())
    else:
        for dirpath, _, files in os.walk(out):
            for name in files:
                if name.endswith(".xml"):
                    images += 1
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        boxes += fh.read().count(b"<object>")
    return {"images": images, "boxes": boxes}


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        return {"status": runs[-1].get("status", "failed") if runs else "not run", "runs": runs}
    summary = {"status": "ok", "n": len(ok),
               "wall_s": statistics.median(r["wall_s"] for r in ok),
               "op_s": statistics.median(r["op_s"] for r in ok),
               "cpu_s": statistics.median(r["cpu_s"] for r in ok),
               "peak_rss": statistics.median(r["peak_rss"] for r in ok),
               "wall_min_s": min(r["wall_s"] for r in ok),
               "load1": statistics.median(r["load1"] for r in ok),
               "runs": runs}
    for key in ("images", "boxes", "findings", "versions", "problems"):
        if key in ok[-1]:
            summary[key] = ok[-1][key]
    return summary


# ------------------------------------------------------------------------------ datasets

def truth(n_images: int) -> dict:
    sys.path.insert(0, str(HERE))
    from generate import make_tables

    tables = make_tables(n_images)
    return {"images": n_images, "boxes": int(len(tables["image_of"]))}


def _complete(scale_dir: Path, fmt: str) -> bool:
    """Whether generate.py finished a layout (each one's last file is written last)."""
    last = {"coco": "coco/annotations/instances_train.json",
            "coco_poly": "coco_poly/annotations/instances_train.json",
            "voc": "voc/ImageSets/Main/train.txt", "yolo": "yolo/data.yaml"}[fmt]
    return (scale_dir / last).exists()


def _generator_running(scale_dir: Path) -> bool:
    """Another generate.py writing into the same folder (several engineers share data/)."""
    target = scale_dir.resolve()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            words = [w.decode(errors="replace") for w in (proc / "cmdline").read_bytes().split(b"\0") if w]
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if not any(w.endswith("generate.py") for w in words) or "--out" not in words[:-1]:
            continue
        if (cwd / words[words.index("--out") + 1]).resolve() == target:
            return True
    return False


def ensure_data(scale: str, formats: set[str]) -> Path:
    scale_dir = DATA / scale
    while _generator_running(scale_dir) and not all(_complete(scale_dir, f) for f in formats):
        print(f"  waiting for another generate.py writing {scale_dir} ...", flush=True)
        time.sleep(30)
    missing = [f for f in FORMATS if f in formats and not _complete(scale_dir, f)]
    if missing:
        print(f"  generating {scale}: {','.join(missing)}", flush=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--images", str(SCALES[scale]),
                        "--out", str(scale_dir), "--formats", ",".join(missing)], check=True)
    return scale_dir


def setup_peers() -> dict:
    """Create benchmarks/.venv-peers and install each peer on its own (a failure is recorded)."""
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = str(PEERS_VENV / "bin" / "pip")
    outcome = {}
    for package in PEER_PACKAGES:
        try:
            done = subprocess.run([pip, "install", "-q", package], capture_output=True, text=True, timeout=600)
            outcome[package] = "ok" if done.returncode == 0 else "failed: " + done.stderr.strip()[-300:]
        except subprocess.TimeoutExpired:
            outcome[package] = "failed: install took over 10 minutes"
    return outcome


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


# ------------------------------------------------------------------------------ main loop

def run_scale(scale: str, args: argparse.Namespace) -> dict:
    tasks = [t for t in TASKS if not args.tasks or t in args.tasks]
    formats = {TASKS[t][0] for t in tasks}
    root_dir = ensure_data(scale, formats)
    expected = truth(SCALES[scale])
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
        fmt, tools = TASKS[task]
        tools = [t for t in tools if not (args.skip_peers and t != "detlint") and not (args.tools and t not in args.tools)]
        runs: dict[str, list[dict]] = {tool: [] for tool in tools}
        if task.endswith("_warm"):  # an untimed run fills the parse cache a re-check then reads
            shutil.rmtree(OUT / "cache", ignore_errors=True)
            run_once("detlint", task, root_dir / fmt, OUT / scale / task / "prime", args)
        for k in range(args.repeat):
            # round-robin over the tools, so load from other work on the machine hits them alike
            for tool in tools:
                previous_runs = runs[tool]
                if previous_runs and (previous_runs[-1]["status"] != "ok"
                                      or previous_runs[0]["wall_s"] > args.single_run_over):
                    continue  # a failure repeats itself; a very long run is not worth three
                previous_runs.append(run_once(tool, task, root_dir / fmt, OUT / scale / task / tool / f"run{k}", args))
                shutil.rmtree(OUT / scale / task / tool / f"run{k}", ignore_errors=True)
        for tool in tools:
            summary = summarize(runs[tool])
            if summary["status"] == "ok" and "images" in summary:
                wrong = [f"{key} {summary[key]} != {expected[key]}" for key in ("images", "boxes")
                         if summary[key] != expected[key]]
                summary["counts_ok"] = not wrong
                if wrong:
                    summary["counts_note"] = "; ".join(wrong)
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
    return f"wall {s['wall_s']:8.2f} s  op {s['op_s']:8.2f} s  cpu {s['cpu_s']:8.2f} s  rss {s['peak_rss'] / 2**20:8.0f} MiB  n={s['n']}{counts}"


# ============================================================================== report

TASK_TITLES = {
    "load_coco": "Load COCO (box-only)", "load_coco_poly": "Load COCO (polygons)",
    "load_voc": "Load VOC folder", "load_yolo": "Load YOLO folder (+ image header sizes)",
    "check_coco": "detlint check --images none, COCO", "check_coco_poly": "detlint check --images none, COCO polygons",
    "check_voc": "detlint check --images none, VOC", "check_yolo": "detlint check --images none, YOLO",
    "check_voc_warm": "detlint check --images none, VOC, re-check (parse cache warm)",
    "check_yolo_warm": "detlint check --images none, YOLO, re-check (parse cache warm)",
    "coco2yolo": "Convert COCO -> YOLO", "yolo2coco": "Convert YOLO -> COCO", "coco2voc": "Convert COCO -> VOC",
}


def _get(doc: dict | None, task: str, tool: str) -> dict | None:
    if not doc:
        return None
    s = doc["results"].get(task, {}).get(tool)
    return s if s and s.get("status") == "ok" else None


def _ratio(a: dict | None, b: dict | None, key: str) -> float | None:
    return a[key] / b[key] if a and b and b[key] else None


def _fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= limit else "MISSED"


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


def targets(doc: dict) -> list[tuple[str, str, str, str, str]]:
    """(target, ratio on wall, on op, on CPU, verdict on wall) rows for one scale."""
    rows = []
    d = lambda task: _get(doc, task, "detlint")  # noqa: E731

    def add(name: str, a: dict | None, b: dict | None, limit: float, label: str = "") -> None:
        wall, op, cpu = _ratio(a, b, "wall_s"), _ratio(a, b, "op_s"), _ratio(a, b, "cpu_s")
        rows.append((name + label, _fmt_ratio(wall), _fmt_ratio(op), _fmt_ratio(cpu),
                     _verdict(wall, limit) + ("" if _verdict(cpu, limit) == _verdict(wall, limit)
                                              else f" (on CPU time: {_verdict(cpu, limit)})")))

    for task in ("load_coco", "load_coco_poly"):
        add(f"{task}: detlint <= 1.3x orjson.loads", d(task), _get(doc, task, "orjson"), 1.3)
        add(f"{task}: detlint <= 0.7x pycocotools", d(task), _get(doc, task, "pycocotools"), 0.7)
        a, b = d(task), _get(doc, task, "pycocotools")
        rss = a["peak_rss"] / b["peak_rss"] if a and b else None
        rows.append((f"{task}: detlint peak RSS <= pycocotools", _fmt_ratio(rss), "", "", _verdict(rss, 1.0)))
    for check, load in (("check_coco", "load_coco"), ("check_coco_poly", "load_coco_poly")):
        add(f"{check}: <= 1.5x orjson.loads", d(check), _get(doc, load, "orjson"), 1.5)
    for task in ("load_voc", "load_yolo", "coco2yolo", "yolo2coco", "coco2voc"):
        for key_name in ("wall_s",):
            tool, best = _best_peer(doc, task, key_name)
            add(f"{task}: detlint <= 1/3 of best peer", d(task), best, 1 / 3, f" ({tool or 'none'})")
    return rows


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def table(doc: dict) -> list[str]:
    truth_ = doc["truth"]
    lines = ["| task | tool | wall s (median) | op s | CPU s | peak RSS MiB | n | counts |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for task, by_tool in doc["results"].items():
        for tool in TASKS.get(task, (None, tuple(by_tool)))[1]:
            s = by_tool.get(tool)
            if s is None:
                continue
            name = f"{tool} (floor)" if tool in FLOOR_TOOLS else tool
            if s["status"] != "ok":
                lines.append(f"| {TASK_TITLES.get(task, task)} | {name} | {s['status'][:160].replace('|', '/')} | | | | | |")
                continue
            if "images" in s:
                counts = "ok" if s.get("counts_ok", True) else f"**WRONG**: {s.get('counts_note')}"
            else:
                counts = f"{s.get('findings')} findings" if "findings" in s else ""
            lines.append(f"| {TASK_TITLES.get(task, task)} | {name} | {s['wall_s']:.2f} | {s['op_s']:.2f} | {s['cpu_s']:.2f} | "
                         f"{_mib(s['peak_rss'])} | {s['n']} | {counts} |")
    lines.append("")
    lines.append(f"Truth from the generator: {truth_['images']:,} images, {truth_['boxes']:,} boxes.")
    return lines


def memory_and_projection(small: dict, full: dict) -> list[str]:
    """Bytes per box (RSS slope between the scales) and an Open-Images-size projection."""
    d_boxes = full["truth"]["boxes"] - small["truth"]["boxes"]
    lines = ["| task | tool | bytes/box (RSS slope) | s per 1M boxes (wall slope) | projected wall, 16M boxes | projected peak RSS, 16M boxes |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for task in TASKS:
        for tool in TASKS[task][1]:
            a, b = _get(small, task, tool), _get(full, task, tool)
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
    any_doc = next(iter(docs.values()), None)
    lines = ["# Benchmarks: detlint against its peers", "",
             "Generated by `benchmarks/run.py` (see benchmarks/README.md); raw numbers in "
             "`benchmarks/results/<scale>.json`. Each cell is one fresh process per run; **wall** is the "
             "whole process (interpreter start, imports, the task), **op** is the task alone as timed "
             "inside the process; **CPU** is the child's user+system time (all threads), the steadiest number on "
             "a loaded machine; peak RSS is the child's `ru_maxrss`, plus the peak of its helper processes if it started any (detlint forks one for a big COCO file; both peaks are added as if they coincided, and pages the two share are counted twice). Verdicts use wall time; where CPU time "
             "gives another verdict it is said.", ""]
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
    for scale, doc in docs.items():
        t = doc["truth"]
        lines += [f"## Scale {scale}: {t['images']:,} images, {t['boxes']:,} boxes", "",
                  "Measured by these runs (a later run replaces the rows of the tasks and tools it ran):", ""]
        for entry in doc.get("history", [{"date": doc["date"], "command": doc["command"]}]):
            lines.append(f"- {entry['date']}: `{entry['command']}`")
        lines.append("")
        lines += table(doc)
        lines += ["", f"### Targets at {scale}", "", "| target | ratio (wall) | ratio (op) | ratio (CPU) | verdict (wall) |",
                  "| --- | ---: | ---: | ---: | --- |"]
        lines += [f"| {a} | {b} | {c} | {d} | {v} |" for a, b, c, d, v in targets(doc)]
        lines.append("")
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


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("10k", "full", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="runs per (task, tool); the median is kept")
    parser.add_argument("--tasks", type=lambda s: s.split(","), default=None,
                        help=f"comma-separated subset of: {','.join(TASKS)}")
    parser.add_argument("--tools", type=lambda s: s.split(","), default=None,
                        help="comma-separated subset of: detlint,orjson,pycocotools,globox,supervision,datumaro")
    parser.add_argument("--skip-peers", action="store_true", help="run detlint only")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a run is cut off")
    parser.add_argument("--single-run-over", type=float, default=120,
                        help="a first run longer than this many seconds is not repeated")
    parser.add_argument("--peers-python", default=str(PEERS_VENV / "bin" / "python"))
    parser.add_argument("--max-rss-gib", type=float, default=8,
                        help="kill a run whose RSS passes this (before the OOM killer hits a neighbour)")
    parser.add_argument("--setup-peers", action="store_true", help="create benchmarks/.venv-peers first")
    parser.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md")
    args = parser.parse_args()
    if args.tasks:
        unknown = set(args.tasks) - set(TASKS)
        if unknown:
            parser.error(f"unknown tasks: {', '.join(sorted(unknown))}")
    if args.setup_peers:
        outcome = setup_peers()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "peers-install.json").write_text(json.dumps(outcome, indent=1) + "\n")
        print(json.dumps(outcome, indent=1))
    if not args.report_only:
        for scale in (("10k", "full") if args.scale == "both" else (args.scale,)):
            print(f"scale {scale}", flush=True)
            run_scale(scale, args)
    print(write_report())


if __name__ == "__main__":
    main()
