"""One image holding every box: the worst case for per-image rules (B006 duplicate boxes).

    python benchmarks/bench_dense.py                       # 100k boxes (VOC: 50k), median of 3
    python benchmarks/bench_dense.py --boxes 20000 --repeat 1 --timeout 120

Builds, under ``benchmarks/data/dense/<format>_<variant>`` (deterministic; rebuilt when the box
count differs), one image of 4000x4000 px with N boxes of one class, as COCO, YOLO and VOC
(VOC gets ``--voc-boxes``, default 50k objects, in one XML), in three variants:

- ``identical``: every box the same (N-1 exact duplicates);
- ``distinct``: a grid of N boxes that do not touch (no duplicate);
- ``overlap``: N large boxes jittered around one object (every pair overlaps; a few percent
  of the pairs are near duplicates).

Each run is ``detlint check ROOT --images none --no-cache --output-format json`` in a fresh
process; wall time and the child's peak RSS (``os.wait4`` rusage) are recorded, median of
``--repeat``; a run past ``--timeout`` or ``--max-rss-gib`` is killed and marked. A Markdown
table goes to stdout and the raw numbers to ``benchmarks/out/dense.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from harness.measure import _rss_now  # one reader of a child's RSS

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "dense"
OUT = HERE / "out"
SIDE = 4000  # image width and height, px
VARIANTS = ("identical", "distinct", "overlap")
FORMATS = ("coco", "yolo", "voc")


def boxes_xywh(variant: str, n: int) -> np.ndarray:
    """(n, 4) pixel boxes x, y, w, h inside a SIDE x SIDE image."""
    if variant == "identical":
        return np.tile([1000.0, 1000.0, 800.0, 600.0], (n, 1))
    if variant == "distinct":
        per_row = int(np.ceil(np.sqrt(n)))
        cell = SIDE / per_row
        i = np.arange(n)
        x, y = (i % per_row) * cell, (i // per_row) * cell
        size = np.full(n, cell * 0.8)
        return np.column_stack([x, y, size, size]).round(3)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(500, 700, n), rng.uniform(500, 700, n)
    w, h = rng.uniform(2000, 2400, n), rng.uniform(2000, 2400, n)
    return np.column_stack([x, y, w, h]).round(3)


def write_image(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (SIDE, SIDE)).save(path, optimize=True)


def write_coco(root: Path, boxes: np.ndarray) -> None:
    write_image(root / "images" / "a.png")
    annotations = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": 0, "segmentation": []} for i, box in enumerate(boxes.tolist())]
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": SIDE, "height": SIDE}],
           "categories": [{"id": 1, "name": "thing"}], "annotations": annotations}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "instances.json").write_text(json.dumps(doc))


def write_yolo(root: Path, boxes: np.ndarray) -> None:
    write_image(root / "images" / "train" / "a.png")
    x, y, w, h = (boxes / SIDE).T
    rows = np.column_stack([x + w / 2, y + h / 2, w, h])
    labels = root / "labels" / "train"
    labels.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"0 {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}\n" for cx, cy, bw, bh in rows.tolist())
    (labels / "a.txt").write_text(lines)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [thing]\n")


def write_voc(root: Path, boxes: np.ndarray) -> None:
    write_image(root / "JPEGImages" / "a.png")
    objects = "".join(
        f"<object><name>thing</name><difficult>0</difficult><bndbox><xmin>{x + 1:g}</xmin><ymin>{y + 1:g}</ymin>"
        f"<xmax>{x + w:g}</xmax><ymax>{y + h:g}</ymax></bndbox></object>\n" for x, y, w, h in boxes.tolist())
    xml = (f"<annotation><filename>a.png</filename><size><width>{SIDE}</width><height>{SIDE}</height>"
           f"<depth>1</depth></size>\n{objects}</annotation>\n")
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / "a.xml").write_text(xml)


WRITERS = {"coco": write_coco, "yolo": write_yolo, "voc": write_voc}


def ensure(fmt: str, variant: str, n: int) -> Path:
    root = DATA / f"{fmt}_{variant}"
    stamp = root / ".boxes"
    if stamp.exists() and stamp.read_text() == str(n):
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    WRITERS[fmt](root, boxes_xywh(variant, n))
    stamp.write_text(str(n))
    return root


def run_once(root: Path, timeout: float, max_rss: float) -> dict:
    command = [sys.executable, "-m", "detlint.cli", "check", str(root), "--images", "none", "--no-cache",
               "--output-format", "json"]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
        status, rss, why = _wait(proc, timeout, max_rss)
        wall = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    record = {"wall_s": round(wall, 2), "peak_rss_mib": round(rss / 2**20), "status": why or "ok"}
    if why is None and status not in (0, 1):
        record["status"] = f"exit {status}: {err.decode(errors='replace').strip()[-200:]}"
    elif why is None:
        # counted without parsing the report: the parent's memory would show in the next child's
        # peak RSS (Linux keeps the high-water mark of the forked copy across exec)
        codes = Counter(code.decode() for code in re.findall(rb'"code":\s*"([A-Z]\d{3})"', out))
        record["findings"] = dict(sorted(codes.items()))
        record["stderr"] = err.decode(errors="replace").strip()[-200:]
    del out
    return record


def _wait(proc: subprocess.Popen, timeout: float, max_rss: float) -> tuple[int | None, int, str | None]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, None
        why = f"killed: over {timeout:.0f} s" if time.monotonic() > deadline else None
        if why is None and _rss_now(proc.pid) > max_rss:
            why = f"killed: RSS over {max_rss / 2**30:.1f} GiB"
        if why:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return None, usage.ru_maxrss * 1024, why
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=100_000)
    parser.add_argument("--voc-boxes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--max-rss-gib", type=float, default=4)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    results = []
    print("| format | variant | boxes | wall (median) | peak RSS (median) | findings | status |")
    print("|---|---|---|---|---|---|---|")
    for fmt in args.formats.split(","):
        for variant in args.variants.split(","):
            n = args.voc_boxes if fmt == "voc" else args.boxes
            root = ensure(fmt, variant, n)
            runs = []
            for _ in range(args.repeat):
                runs.append(run_once(root, args.timeout, args.max_rss_gib * 2**30))
                if runs[-1]["status"] != "ok":
                    break  # a killed run is not repeated
            ok = [r for r in runs if r["status"] == "ok"]
            row = {"format": fmt, "variant": variant, "boxes": n, "runs": runs,
                   "wall_s": statistics.median(r["wall_s"] for r in ok) if ok else None,
                   "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in ok) if ok else None}
            results.append(row)
            wall = f"{row['wall_s']:.2f} s" if ok else f">{runs[-1]['wall_s']:.0f} s"
            rss = f"{row['peak_rss_mib']:.0f} MiB" if ok else f">={runs[-1]['peak_rss_mib']} MiB"
            findings = ", ".join(f"{k} {v}" for k, v in ok[0]["findings"].items()) if ok else ""
            print(f"| {fmt} | {variant} | {n:,} | {wall} | {rss} | {findings} | {runs[-1]['status']} |", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "dense.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
