"""Benchmark the image checks: header and decode throughput against a plain Pillow loop, and a
warm-cache rerun against a cold one.

    python benchmarks/bench_images.py [--count 5000] [--runs 3]

Generates ``--count`` noisy 640x480 JPEGs once under ``benchmarks/data/images_640/`` (gitignored)
and prints a markdown table of medians over ``--runs`` runs. The OS file cache is warm for every
measurement (each is repeated), so the numbers compare CPU work, not disk reads.

"CPU cores kept busy" (CPU seconds, workers included, per wall second) shows whether the
process pool got the cores: on a machine shared with other work it cannot, and the decode
ratio then measures the share the scheduler gave, not the code.

Targets: header >= 2,000 images/s; decode >= 1.7x the plain loop on 2 cores; a warm-cache rerun
>= 20x faster than a cold run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detlint.images import ImageCache, cpu_workers, image_report, perceptual_hash  # noqa: E402
from detlint.model import Annotations, Categories, Dataset, Images  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "images_640"


def _make_image(index: int) -> None:
    from PIL import Image

    path = DATA / f"{index:06d}.jpg"
    if path.exists():
        return
    rng = np.random.default_rng(index)
    coarse = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((640, 480), Image.Resampling.BICUBIC), np.float32)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def ensure_images(count: int) -> list[str]:
    DATA.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(count) if not (DATA / f"{i:06d}.jpg").exists()]
    if missing:
        print(f"generating {len(missing)} images in {DATA} ...", file=sys.stderr)
        with ProcessPoolExecutor() as pool:
            list(pool.map(_make_image, missing, chunksize=64))
    return [f"{i:06d}.jpg" for i in range(count)]


def dataset(names: list[str]) -> Dataset:
    images = Images.empty(len(names))
    images.file_name[:] = names
    images.path[:] = names
    return Dataset(format="coco", root=DATA, categories=Categories.build([]), images=images,
                   annotations=Annotations.empty(0))


def plain_header(names: list[str]) -> None:
    from PIL import Image

    for name in names:
        with Image.open(DATA / name) as im:
            im.size, im.mode, im.getexif().get(0x0112)


def plain_decode(names: list[str], grey: bool = False) -> None:
    """The obvious loop: read, hash the bytes, decode, perceptual hash. ``grey``: decode JPEGs to
    luminance as detlint does, to separate the parallel speed-up from the cheaper decode."""
    from PIL import Image

    for name in names:
        data = (DATA / name).read_bytes()
        hashlib.blake2b(data, digest_size=16).hexdigest()
        with Image.open(io.BytesIO(data)) as im:
            if grey:
                im.draft("L", im.size)
            im.load()
            perceptual_hash(im)


def machine_load() -> str:
    try:
        pressure = Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1]
        return f"load average {os.getloadavg()[0]:.1f}, CPU pressure (some, avg10) {pressure}%"
    except (OSError, IndexError, AttributeError):
        return "load unknown"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def interleaved(measurements: dict[str, Callable[[], object]], runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, CPU cores kept busy) of each measurement. Runs are interleaved
    (round 1 of each, round 2 of each, ...) so a noisy neighbour hurts all of them alike."""
    walls: dict[str, list[float]] = {name: [] for name in measurements}
    busy: dict[str, list[float]] = {name: [] for name in measurements}
    for _ in range(runs):
        for name, fn in measurements.items():
            start, cpu = time.perf_counter(), cpu_seconds()
            fn()
            walls[name].append(time.perf_counter() - start)
            busy[name].append((cpu_seconds() - cpu) / walls[name][-1])
    return {name: (statistics.median(walls[name]), statistics.median(busy[name])) for name in measurements}


def cold_and_warm(names: list[str], level: str, runs: int) -> tuple[float, float]:
    """Median seconds of a run that fills an empty cache, and of a rerun that finds it full."""
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            cache = ImageCache(Path(folder))
            start = time.perf_counter()
            image_report(dataset(names), level, cache)
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = image_report(dataset(names), level, cache)  # a fresh Dataset: no in-memory memo
            warm.append(time.perf_counter() - start)
            if report.probed:
                raise RuntimeError(f"warm run opened {report.probed} images")
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    names = ensure_images(args.count)
    load_before = machine_load()
    n, runs = len(names), args.runs
    plain_decode(names[:50])  # warm the OS file cache and imports

    measured = interleaved({
        "header": lambda: image_report(dataset(names), "header", None),
        "header_plain": lambda: plain_header(names),
        "decode": lambda: image_report(dataset(names), "decode", None),
        "decode_plain": lambda: plain_decode(names),
        "decode_grey": lambda: plain_decode(names, grey=True),
    }, runs)
    header, header_plain, decode, decode_plain, decode_grey = (
        measured[name][0] for name in ("header", "header_plain", "decode", "decode_plain", "decode_grey"))
    header_cold, header_warm = cold_and_warm(names, "header", runs)
    decode_cold, decode_warm = cold_and_warm(names, "decode", runs)

    print(f"{n} JPEGs 640x480 ({sum((DATA / x).stat().st_size for x in names) / n / 1024:.0f} KiB each), "
          f"{cpu_workers()} CPUs, median of {runs} runs; before: {load_before}; after: {machine_load()}\n")
    print("| measurement | detlint | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| header, images/s (no cache) | {n / header:,.0f} | {n / header_plain:,.0f} (plain loop) | "
          f"{header_plain / header:.2f}x | >= 2,000/s |")
    print(f"| decode + hashes, images/s (no cache) | {n / decode:,.0f} | {n / decode_plain:,.0f} (plain loop) | "
          f"{decode_plain / decode:.2f}x | >= 1.7x |")
    print(f"| decode + hashes, images/s (no cache) | {n / decode:,.0f} | {n / decode_grey:,.0f} (plain loop, "
          f"grey JPEG decode) | {decode_grey / decode:.2f}x | |")
    print(f"| decode, CPU cores kept busy | {measured['decode'][1]:.2f} | {measured['decode_plain'][1]:.2f} (plain loop) | | |")
    print(f"| header rerun, warm vs cold cache (s) | {header_warm:.3f} | {header_cold:.3f} | "
          f"{header_cold / header_warm:.1f}x | |")
    print(f"| decode rerun, warm vs cold cache (s) | {decode_warm:.3f} | {decode_cold:.3f} | "
          f"{decode_cold / decode_warm:.1f}x | >= 20x |")


if __name__ == "__main__":
    main()
