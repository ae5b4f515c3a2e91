"""A synthetic Open Images box CSV (``train-annotations-bbox.csv`` + class descriptions, no
images) for timing the reader: ``python benchmarks/gen_openimages.py --rows 100000 --out DIR``.
Then ``python -c "import detlint, time; t=time.process_time(); detlint.load('DIR', probe_images=False)"``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,"
          "IsDepiction,IsInside\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=600)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    ids = [f"{i:016x}" for i in rng.integers(0, 2**62, max(1, n // 8))]
    image = rng.integers(0, len(ids), n)
    x = np.sort(rng.random((n, 2)), axis=1)
    y = np.sort(rng.random((n, 2)), axis=1)
    label = rng.integers(0, args.classes, n)
    flags = rng.integers(0, 2, (n, 5))
    source = np.where(rng.random(n) < 0.7, "xclick", "activemil")
    lines = [f"{ids[i]},{s},/m/{c:05x},1,{x1:.8f},{x2:.8f},{y1:.8f},{y2:.8f},{f[0]},{f[1]},{f[2]},{f[3]},{f[4]}\n"
             for i, s, c, (x1, x2), (y1, y2), f in zip(image.tolist(), source.tolist(), label.tolist(), x.tolist(),
                                                        y.tolist(), flags.tolist())]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train-annotations-bbox.csv").write_text(HEADER + "".join(lines))
    (args.out / "class-descriptions-boxable.csv").write_text("".join(f"/m/{c:05x},class {c}\n"
                                                                     for c in range(args.classes)))


if __name__ == "__main__":
    main()
