"""CVAT XML at scale: a deterministic ``annotations.xml`` of N images (8 boxes with one
``<attribute>`` each and one polygon per image), then the read, ``check --images none`` and the
conversions to COCO and back to CVAT, each timed in a fresh process with its peak RSS.

    python benchmarks/bench_cvat.py --images 100000 --data /tmp/cvbench
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

LABELS = 20


def generate(root: Path, images: int, seed: int = 0) -> Path:
    """The export under ``root`` (kept when it is already there with this many images)."""
    xml = root / "annotations.xml"
    stamp = root / f".images-{images}"
    if xml.is_file() and stamp.is_file():
        return xml
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with xml.open("w") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task>'
                  "<name>bench</name><labels>" + "".join(f"<label><name>c{i}</name></label>" for i in range(LABELS))
                  + "</labels></task></meta>\n")
        for i in range(images):
            out.write(f'  <image id="{i}" name="img_{i:06d}.jpg" width="640" height="480">\n')
            for j in range(8):
                x, y = rng.uniform(0, 500), rng.uniform(0, 400)
                out.write(f'    <box label="c{j}" source="manual" occluded="0" xtl="{x:.2f}" ytl="{y:.2f}" '
                          f'xbr="{x + 50:.2f}" ybr="{y + 40:.2f}" z_order="0">\n'
                          '      <attribute name="a">v</attribute>\n    </box>\n')
            out.write('    <polygon label="c1" source="manual" occluded="0" points="10.00,10.00;50.00,12.00;'
                      '40.00,60.00" z_order="0">\n    </polygon>\n  </image>\n')
        out.write("</annotations>\n")
    stamp.write_text("")
    return xml


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one ``detlint`` run in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "detlint.cli", *args], check=False, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data/cvat"))
    given = parser.parse_args()
    root = given.data / str(given.images)
    generate(root, given.images)
    out = given.data / "out"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    steps = [("check --images none", ["check", str(root), "--images", "none", "--no-cache", "-o", str(out / "r.txt")]),
             ("convert cvat -> coco", ["convert", str(root), str(out / "coco"), "--to", "coco"]),
             ("convert coco -> cvat", ["convert", str(out / "coco"), str(out / "cvat"), "--to", "cvat"]),
             ("convert cvat -> cvat", ["convert", str(root), str(out / "self"), "--to", "cvat"])]
    out.mkdir(parents=True)
    for name, args in steps:
        wall, rss = timed(args)
        print(f"{name:24s} {wall:7.2f} s   peak RSS so far {rss:5.2f} GiB")


if __name__ == "__main__":
    main()
