"""``detlint diff`` at COCO-train2017 scale: two 118,287-image versions that differ in 100 images.

    python benchmarks/generate.py --images 118287 --out benchmarks/data/full --formats coco
    python benchmarks/bench_diff.py --repeat 3

OLD is ``benchmarks/data/full/coco`` as generated; NEW is a copy in a temporary folder (images
hard-linked, the annotation JSON rewritten) where 100 images' annotations were edited: 40 boxes
moved by a tenth of their width, 20 relabelled, 20 removed and 20 added. Each measurement runs in a fresh process,
median of ``--repeat``, wall time of the whole command:

- ``check --images none``: ``detlint check NEW --images none --no-cache --output-format json``,
  the floor issue 18 sets the target by (the diff in at most 2x this);
- ``diff``: ``detlint diff OLD NEW --output-format json``;
- with ``--rev``, also ``diff --rev``: OLD's annotation JSON committed to a labels-only git
  repository (no images: the generated images are hard links of a few files, past the
  filesystem's link limit, and a label diff needs none), NEW's written over it, then
  ``detlint diff REPO/coco --rev HEAD --output-format json`` (one changed blob read from git).

The diff's findings are counted and must be exactly the 100 planted changes. A Markdown table
goes to stdout and the raw numbers to ``benchmarks/out/diff.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "full" / "coco"
OUT = HERE / "out"
PLANTED = {"D007": 40, "D008": 20, "D006": 20, "D005": 20}


def _edit(doc: dict, seed: int = 18) -> None:
    """Plant the 100 changes, each on its own image (the first box of 100 distinct images)."""
    rng = random.Random(seed)
    first: dict[int, int] = {}
    for k, ann in enumerate(doc["annotations"]):
        if min(ann["bbox"][2:]) > 1:  # a box with an area: a shift of a tenth of it keeps IoU 0.82
            first.setdefault(ann["image_id"], k)
    chosen = rng.sample(sorted(first), 100)
    category_ids = [c["id"] for c in doc["categories"]]
    removed = []
    next_id = max(a["id"] for a in doc["annotations"]) + 1
    for n, image_id in enumerate(chosen):
        ann = doc["annotations"][first[image_id]]
        if n < 40:
            ann["bbox"] = [ann["bbox"][0] + ann["bbox"][2] / 10, *ann["bbox"][1:]]
        elif n < 60:
            ann["category_id"] = next(c for c in category_ids if c != ann["category_id"])
        elif n < 80:
            removed.append(first[image_id])
        else:
            doc["annotations"].append({"id": next_id, "image_id": image_id, "category_id": category_ids[0],
                                       "bbox": [0.0, 0.0, 1.5, 1.5], "area": 2.25, "iscrowd": 0})
            next_id += 1
    for k in sorted(removed, reverse=True):
        del doc["annotations"][k]


def _make_new(old: Path, into: Path) -> Path:
    """NEW: images hard-linked from OLD, the annotations rewritten with the planted edits."""
    import orjson

    new = into / "coco"
    for folder, _, files in os.walk(old / "images"):
        target = new / Path(folder).relative_to(old)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(folder) / name, target / name)
    (new / "annotations").mkdir(parents=True)
    for json_file in (old / "annotations").glob("*.json"):
        doc = orjson.loads(json_file.read_bytes())
        _edit(doc)
        (new / "annotations" / json_file.name).write_bytes(orjson.dumps(doc))
    return new


def _git_repo(old: Path, new: Path, into: Path) -> Path:
    """A labels-only repository whose HEAD holds OLD's annotations and whose working tree NEW's."""
    repo = into / "repo"
    shutil.copytree(old / "annotations", repo / "coco" / "annotations")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "old"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    for json_file in (new / "annotations").glob("*.json"):
        target = repo / "coco" / "annotations" / json_file.name
        shutil.copyfile(json_file, target)
    return repo / "coco"


def _timed(args: list[str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()[-500:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rev", action="store_true", help="also time diff --rev in a git repository")
    args = parser.parse_args()
    if not (args.data / "annotations").is_dir():
        raise SystemExit(f"{args.data}: run benchmarks/generate.py first (see this file's docstring)")
    OUT.mkdir(exist_ok=True)
    detlint = [sys.executable, "-m", "detlint"]
    with tempfile.TemporaryDirectory(dir=OUT, prefix="diff-") as scratch:
        new = _make_new(args.data, Path(scratch))
        check, diff = [], []
        counts: dict[str, int] = {}
        for _ in range(args.repeat):
            check.append(_timed([*detlint, "check", str(new), "--images", "none", "--no-cache",
                                 "--output-format", "json"])[0])
            seconds, out = _timed([*detlint, "diff", str(args.data), str(new), "--output-format", "json"])
            diff.append(seconds)
            counts = json.loads(out)["diff"]["changes"]
        rev: list[float] = []
        if args.rev:
            repo = _git_repo(args.data, new, Path(scratch))
            for _ in range(args.repeat):
                seconds, out = _timed([*detlint, "diff", str(repo), "--rev", "HEAD", "--output-format", "json"])
                rev.append(seconds)
                doc = json.loads(out)["diff"]
                if doc["changes"] != PLANTED or doc["blobs_read"] != 1:
                    raise SystemExit(f"diff --rev found {doc['changes']}, read {doc['blobs_read']} blobs")
    if counts != PLANTED:
        raise SystemExit(f"the diff found {counts}, not the planted {PLANTED}")
    result = {"check_images_none_s": statistics.median(check), "diff_s": statistics.median(diff),
              "runs": {"check": check, "diff": diff, "diff_rev": rev}, "changes": counts}
    if rev:
        result["diff_rev_s"] = statistics.median(rev)
    result["ratio"] = result["diff_s"] / result["check_images_none_s"]
    (OUT / "diff.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| command (118,287 images, 100 changed) | median s |\n|---|---:|")
    print(f"| `detlint check --images none` | {result['check_images_none_s']:.2f} |")
    print(f"| `detlint diff OLD NEW` | {result['diff_s']:.2f} |")
    if rev:
        print(f"| `detlint diff COCO --rev HEAD` (1 changed blob) | {result['diff_rev_s']:.2f} |")
    print(f"| ratio diff / check (target <= 2) | {result['ratio']:.2f} |")


if __name__ == "__main__":
    main()
