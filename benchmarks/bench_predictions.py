"""``check --predictions`` at COCO-train2017 scale: 1M detections over 118,287 images.

    python benchmarks/generate.py --images 118287 --out benchmarks/data/full --formats coco,coco_results
    python benchmarks/bench_predictions.py --repeat 3

Each measurement runs in a fresh process, median of ``--repeat``:

- ``orjson.loads``: parsing the results file alone (the floor issue 17 sets the target by:
  reading and checking the predictions in at most 2x this), as a user would time it and with
  Python's cyclic garbage collector paused (a million fresh dicts make it run over and over);
- ``detlint read``: ``detlint.formats.predictions.load`` (parse, columns, image and class
  matching) with the dataset already loaded;
- ``detlint P rules``: every P rule (``run_rules(select=["P"])``) on those columns;
- ``pycocotools loadRes``: the peer's own reading of the same file against the same dataset
  (``COCO(gt).loadRes(results)``, the dataset load not timed), for scale;
- the whole command: ``detlint check DATA --images none --no-cache --output-format json`` with
  and without ``--predictions`` (wall time; the difference is what the predictions cost a user).

A Markdown table goes to stdout and the raw numbers to ``benchmarks/out/predictions.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "full"
OUT = HERE / "out"

_CHILD = {
    "orjson.loads": """
import orjson, time
data = open(RESULTS, 'rb').read()
t = time.perf_counter(); orjson.loads(data); print(time.perf_counter() - t)
""",
    "orjson.loads, gc off": """
import gc, orjson, time
data = open(RESULTS, 'rb').read()
gc.disable(); t = time.perf_counter(); orjson.loads(data); print(time.perf_counter() - t)
""",
    "detlint read + P rules": """
import time, pathlib, detlint
from detlint.config import Config
from detlint.engine import run_rules
from detlint.formats import predictions
from detlint.rules.context import RuleContext
ds = detlint.load(pathlib.Path(DATASET))
t = time.perf_counter(); preds = predictions.load(pathlib.Path(RESULTS), ds); read = time.perf_counter() - t
t = time.perf_counter()
findings = run_rules(ds, Config(select=["P"], images="none"), ctx=RuleContext(predictions=preds, images="none"))
rules = time.perf_counter() - t
print(read + rules, read, rules, len(preds), len(findings))
""",
    "pycocotools loadRes": """
import contextlib, io, time
from pycocotools.coco import COCO
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(DATASET_JSON)
    t = time.perf_counter(); gt.loadRes(RESULTS); took = time.perf_counter() - t
print(took)
""",
}


def _child(name: str, paths: dict[str, str]) -> list[float]:
    code = "".join(f"{key} = {value!r}\n" for key, value in paths.items()) + _CHILD[name]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [float(v) for v in out.split()]


def _command(dataset: Path, results: Path | None) -> float:
    args = [sys.executable, "-m", "detlint", "check", str(dataset), "--images", "none", "--no-cache",
            "--output-format", "json", *(["--predictions", str(results)] if results else [])]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr.decode()[-500:])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dataset = args.data / "coco"
    results = args.data / "coco_results" / "results.json"
    paths = {"DATASET": str(dataset), "DATASET_JSON": str(dataset / "annotations" / "instances_train.json"),
             "RESULTS": str(results)}
    raw: dict[str, list] = {name: [_child(name, paths) for _ in range(args.repeat)] for name in _CHILD}
    raw["check"] = [[_command(dataset, None)] for _ in range(args.repeat)]
    raw["check --predictions"] = [[_command(dataset, results)] for _ in range(args.repeat)]
    median = {name: [statistics.median(run[k] for run in runs) for k in range(len(runs[0]))]
              for name, runs in raw.items()}
    floor = median["orjson.loads"][0]
    total, read, rules, detections, findings = median["detlint read + P rules"]
    rows = [("orjson.loads (floor)", floor), ("orjson.loads, cyclic GC paused", median["orjson.loads, gc off"][0]),
            ("detlint read", read), ("detlint P rules", rules),
            ("detlint read + P rules", total), ("pycocotools loadRes", median["pycocotools loadRes"][0]),
            ("detlint check (no predictions)", median["check"][0]),
            ("detlint check --predictions", median["check --predictions"][0])]
    print(f"{int(detections):,} detections, {int(findings):,} P findings; median of {args.repeat}\n")
    print("| step | seconds | x orjson.loads |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / floor:.2f} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "predictions.json").write_text(json.dumps({"raw": raw, "median": median}, indent=1))


if __name__ == "__main__":
    main()
