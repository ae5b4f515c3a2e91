"""Incremental re-check: a full cold check vs a re-check after changing one annotation file.

    python benchmarks/generate.py --images 118287 --out benchmarks/data/full --formats yolo,voc
    python benchmarks/bench_incremental.py benchmarks/data/full/yolo benchmarks/data/full/voc

Wall time of the whole ``detlint check`` process, as a user or pre-commit sees it (median of
``--repeat`` runs), in two modes:

whole dataset (``detlint check DATASET --images none``, the parse cache):
- cold: ``--no-cache`` (every file parsed, every image header probed);
- first cached run: builds the parse cache (a cold run plus writing the cache);
- one file changed: one label file / XML rewritten with a moved box, then a cached re-check.

pre-commit (``detlint check FILE``, as the ``detlint`` hook runs it, default ``--images header``):
- cold: ``--no-cache``; first cached run: a full read that writes the dataset snapshot;
- one file changed: the file rewritten in place, then re-checked from the snapshot;
- renamed over: the file replaced by a rename (vim, ``sed -i``): the folder changed, so a full
  read through the parse cache.

It also checks that cached and uncached JSON reports are identical after the edit, in both
modes. The changed file is restored at the end. The cache goes to a temporary
``DETLINT_CACHE_DIR``. Results: a Markdown table on stdout and ``benchmarks/out/incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(dataset: Path, env: dict[str, str], *extra: str, images: str | None = "none") -> tuple[float, bytes]:
    level = ["--images", images] if images else []
    command = [sys.executable, "-m", "detlint.cli", "check", str(dataset), *level, "--output-format", "json", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"detlint failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return elapsed, done.stdout


def one_annotation_file(dataset: Path) -> Path:
    for pattern in ("labels/**/*.txt", "Annotations/*.xml", "**/*.txt", "**/*.xml"):
        for path in sorted(dataset.glob(pattern)):
            if path.stat().st_size > 0:
                return path
    raise SystemExit(f"{dataset}: no label or XML file to change")


def edited(text: str, step: int) -> str:
    """The file with one box moved by ``step`` (a real change of content and usually size)."""
    if "<xmin>" in text:
        start = text.index("<xmin>") + len("<xmin>")
        end = text.index("</xmin>", start)
        value = float(text[start:end]) + 0.5 * step
        return text[:start] + f"{value:g}" + text[end:]
    lines = text.splitlines()
    tokens = lines[0].split()
    tokens[1] = f"{min(0.99, float(tokens[1]) + 0.001 * step):.6f}"
    lines[0] = " ".join(tokens)
    return "\n".join(lines) + "\n"


def bench(dataset: Path, repeat: int) -> dict:
    cache = tempfile.mkdtemp(prefix="detlint-bench-cache-")
    env = {**os.environ, "DETLINT_CACHE_DIR": cache, "PRE_COMMIT": "1"}
    cold = [run(dataset, env, "--no-cache")[0] for _ in range(repeat)]
    first, _ = run(dataset, env)
    target = one_annotation_file(dataset)
    original = target.read_bytes()
    warm: list[float] = []
    same = True
    try:
        for step in range(1, repeat + 1):
            target.write_text(edited(original.decode("utf-8"), step), encoding="utf-8")
            stat = target.stat()  # an edit in the past: outside the "just modified" window
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10_000_000_000 + step))
            elapsed, cached_report = run(dataset, env)
            warm.append(elapsed)
        _, uncached_report = run(dataset, env, "--no-cache")
        same = cached_report == uncached_report
    finally:
        target.write_bytes(original)
    unchanged = [run(dataset, env)[0] for _ in range(repeat)]
    return {"dataset": str(dataset), "cold_s": statistics.median(cold), "first_cached_s": first,
            "one_file_changed_s": statistics.median(warm), "nothing_changed_s": statistics.median(unchanged),
            "changed_file": str(target.relative_to(dataset)), "reports_identical": same,
            "runs": {"cold": cold, "one_file_changed": warm, "nothing_changed": unchanged},
            "hook": bench_hook(target, env, repeat)}


def bench_hook(target: Path, env: dict[str, str], repeat: int) -> dict:
    """``detlint check FILE`` as the pre-commit hook runs it."""
    original = target.read_bytes()
    cold = [run(target, env, "--no-cache", images=None)[0] for _ in range(repeat)]
    first, _ = run(target, env, images=None)
    warm: list[float] = []
    try:
        for step in range(1, repeat + 1):
            _write_past(target, edited(original.decode("utf-8"), step), step, in_place=True)
            elapsed, cached_report = run(target, env, images=None)
            warm.append(elapsed)
        same = cached_report == run(target, env, "--no-cache", images=None)[1]
        _write_past(target, edited(original.decode("utf-8"), repeat + 1), repeat + 1, in_place=False)
        renamed, renamed_report = run(target, env, images=None)
        same = same and renamed_report == run(target, env, "--no-cache", images=None)[1]
    finally:
        target.write_bytes(original)
    return {"cold_s": statistics.median(cold), "first_cached_s": first, "one_file_changed_s": statistics.median(warm),
            "renamed_over_s": renamed, "reports_identical": same, "runs": {"cold": cold, "one_file_changed": warm}}


def _write_past(target: Path, text: str, step: int, in_place: bool) -> None:
    """Write ``text`` in place or by a rename over ``target``; its mtime 10 s in the past."""
    if in_place:
        target.write_text(text, encoding="utf-8")
    else:
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10_000_000_000 + step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", type=Path,
                        default=[Path("benchmarks/data/full/yolo"), Path("benchmarks/data/full/voc")])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/incremental.json"))
    args = parser.parse_args()
    results = [bench(dataset, args.repeat) for dataset in args.datasets if dataset.exists()]
    print("| dataset | cold (--no-cache) | first cached run | one file changed | nothing changed | same report |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['dataset']} | {r['cold_s']:.2f} s | {r['first_cached_s']:.2f} s | "
              f"{r['one_file_changed_s']:.2f} s | {r['nothing_changed_s']:.2f} s | {r['reports_identical']} |")
    print("\npre-commit (`detlint check FILE`):\n")
    print("| dataset | cold (--no-cache) | first run (writes the snapshot) | one file changed in place | "
          "renamed over | same report |")
    print("|---|---|---|---|---|---|")
    for r in results:
        h = r["hook"]
        print(f"| {r['dataset']} | {h['cold_s']:.2f} s | {h['first_cached_s']:.2f} s | {h['one_file_changed_s']:.2f} s | "
              f"{h['renamed_over_s']:.2f} s | {h['reports_identical']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
