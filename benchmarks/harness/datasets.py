"""The datasets a scale's tasks read, and the truth their counts are compared with. Built in
processes of their own (numpy, a 1M-box JSON): see ``harness.counting`` for why the parent stays small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.tasks import DENSE_BOXES, DENSE_VOC_BOXES, FORMATS, HERE, PREDICTIONS_PER_IMAGE, SCALES

WORST = HERE / "data" / "worst"  # generated here, never in a shared --data folder


def truth(scale: str) -> dict:
    """Images and boxes per layout; at the generated scales also the scale's own {"images", "boxes"}."""
    n = SCALES[scale]
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); from generate import make_tables; "
            f"print(json.dumps(int(len(make_tables({n})['image_of']))))")
    if scale == "worst":
        return {"images": n, "boxes": n * PREDICTIONS_PER_IMAGE, "layouts": {
            "dense_coco": {"images": 1, "boxes": DENSE_BOXES}, "dense_yolo": {"images": 1, "boxes": DENSE_BOXES},
            "dense_voc": {"images": 1, "boxes": DENSE_VOC_BOXES},
            "coco_preds": {"images": n, "boxes": n * PREDICTIONS_PER_IMAGE}}}
    boxes = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    return {"images": n, "boxes": boxes, "layouts": {fmt: {"images": n, "boxes": boxes} for fmt in FORMATS}}


def _ensure_worst(formats: set[str]) -> dict[str, Path]:
    roots = {}
    for fmt in sorted(formats):
        if fmt.startswith("dense_"):  # bench_dense.py's one-image data, its hardest variant
            kind = fmt.removeprefix("dense_")
            n = DENSE_VOC_BOXES if kind == "voc" else DENSE_BOXES
            code = f"import bench_dense; print(bench_dense.ensure({kind!r}, 'overlap', {n}))"
            done = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, check=True)
            roots[fmt] = Path(done.stdout.strip().splitlines()[-1])
        elif fmt == "coco_preds":
            if not (WORST / "coco_preds" / "annotations" / "instances_train.json").exists():
                subprocess.run([sys.executable, str(HERE / "generate.py"), "--images", str(SCALES["worst"]),
                                "--out", str(WORST), "--formats", "coco_preds",
                                "--predictions-per-image", str(PREDICTIONS_PER_IMAGE)], check=True)
            roots[fmt] = WORST / "coco_preds"
    return roots


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


def ensure_data(scale: str, formats: set[str], data: Path) -> dict[str, Path]:
    """The root of each layout a scale's tasks read, generated where missing."""
    if scale == "worst":
        return _ensure_worst(formats)
    scale_dir = data / scale
    while _generator_running(scale_dir) and not all(_complete(scale_dir, f) for f in formats):
        print(f"  waiting for another generate.py writing {scale_dir} ...", flush=True)
        time.sleep(30)
    missing = [f for f in FORMATS if f in formats and not _complete(scale_dir, f)]
    if missing:
        print(f"  generating {scale}: {','.join(missing)}", flush=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--images", str(SCALES[scale]),
                        "--out", str(scale_dir), "--formats", ",".join(missing)], check=True)
    return {fmt: scale_dir / fmt for fmt in formats}
