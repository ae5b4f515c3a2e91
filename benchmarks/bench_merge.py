"""Merging two 60k-image COCO sets against loading both (issue 18: merge <= 1.5x the loads).

    python benchmarks/bench_merge.py                       # the full-scale train set, median of 3
    python benchmarks/bench_merge.py --data PATH/instances_train.json --repeat 1

The full-scale ``instances_train.json`` (118,287 images, 863,720 boxes) is cut into two halves
under a temp folder, each a COCO dataset of its own (``annotations.json`` + ``images/``). The
second half's image and annotation ids start at 1 again, as a separate export's do, so every id
collides and the merge renumbers them all. Images are hard-linked from the generated folder
(its images are two JPEGs linked 118k times: a link count past the file system's limit falls
back to one copy per half, linked from there).

Measured, each in one process, median of ``--repeat``:

- ``load both``: ``formats.load`` of the two halves;
- ``merge columns``: ``merging.merged_dataset`` on the loaded halves (classes, ids, columns
  concatenated), without content dedup: the generated images are two files, so every image
  would have the bytes of one in the other half;
- ``merge + dedup``: the same with content dedup (stat sizes, one sha1 per distinct file);
- ``link images``: the sources' images hard-linked into the link folder the writer reads from
  (one link, or a copy where the file is linked 65k times already, per image);
- ``write COCO``: ``formats.save`` of the merged dataset (the JSON and one more link per image),
  what ``convert`` does for one dataset of this size;
- ``merge command``: ``merging.merge`` end to end (loads, merge, links, COCO written), ``--no-dedup``.

A Markdown table goes to stdout, the raw numbers to ``benchmarks/out/merge.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "data" / "full" / "coco" / "annotations" / "instances_train.json"


def make_halves(source: Path, out: Path) -> list[Path]:
    """Two COCO datasets of half the images each under ``out``; ids of the second from 1."""
    import orjson

    document = orjson.loads(source.read_bytes())
    images_dir = source.parent.parent / "images" / "train"
    images = document["images"]
    middle = len(images) // 2
    by_image: dict[int, list] = {}
    for ann in document["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    roots = []
    for k, part in enumerate((images[:middle], images[middle:])):
        root = out / f"half{k}"
        (root / "images").mkdir(parents=True)
        copies: dict[tuple[int, int], Path] = {}
        new_images, new_anns = [], []
        for i, image in enumerate(part):
            old_id = image["id"]
            entry = dict(image, id=i + 1 if k else old_id)
            new_images.append(entry)
            for ann in by_image.get(old_id, []):
                new_anns.append(dict(ann, image_id=entry["id"], id=len(new_anns) + 1 if k else ann["id"]))
            _link(images_dir / image["file_name"], root / "images" / image["file_name"], copies)
        doc = {key: value for key, value in document.items() if key not in ("images", "annotations")}
        doc.update(images=new_images, annotations=new_anns)
        (root / "annotations.json").write_bytes(orjson.dumps(doc))
        roots.append(root)
    return roots


def _link(source: Path, target: Path, copies: dict[tuple[int, int], Path]) -> None:
    """Hard link, or link to this half's copy of the file (EMLINK on a file linked 65k times)."""
    info = source.stat()
    key = (info.st_dev, info.st_ino)
    try:
        os.link(copies.get(key, source), target)
    except OSError:
        shutil.copyfile(source, target)
        copies[key] = target


def measure(roots: list[Path], repeat: int, scratch: Path) -> dict[str, list[float]]:
    from detlint import merging
    from detlint.formats import ReadOptions, WriteOptions, load, save

    times: dict[str, list[float]] = {"load both": [], "merge columns": [], "merge + dedup": [], "link images": [],
                                     "write COCO": [], "merge command": []}
    labels = [os.fspath(root) for root in roots]
    for run in range(repeat):
        start = time.perf_counter()
        datasets = [load(root, options=ReadOptions(progress=False)) for root in roots]
        times["load both"].append(time.perf_counter() - start)
        targets = merging.target_names(datasets, [{}, {}])
        for name, dedup in (("merge columns", False), ("merge + dedup", True)):
            start = time.perf_counter()
            merged, _ = merging.merged_dataset(datasets, labels, targets, scratch / "links", WriteOptions(), dedup)
            times[name].append(time.perf_counter() - start)
        merged, _ = merging.merged_dataset(datasets, labels, targets, scratch / "links", WriteOptions(), False)
        start = time.perf_counter()
        merging.link_images(datasets, merged, scratch / "links", WriteOptions())
        times["link images"].append(time.perf_counter() - start)
        start = time.perf_counter()
        save(merged, scratch / "written", "coco", WriteOptions())
        times["write COCO"].append(time.perf_counter() - start)
        shutil.rmtree(scratch / "links")
        shutil.rmtree(scratch / "written")
        del datasets, merged
        out = scratch / f"merged{run}"
        start = time.perf_counter()
        merging.merge(merging.MergeRequest(sources=list(roots), dst=out, dedup=False))
        times["merge command"].append(time.perf_counter() - start)
        shutil.rmtree(out)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"{args.data}: not found (run benchmarks/generate.py for the full scale)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-merge-") as tmp:
        start = time.perf_counter()
        roots = make_halves(args.data, Path(tmp))
        print(f"halves made in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        times = measure(roots, args.repeat, Path(tmp))
    median = {name: statistics.median(values) for name, values in times.items()}
    load = median["load both"]
    print("| step | median s | x load both |\n|---|---:|---:|")
    for name, value in median.items():
        print(f"| {name} | {value:.2f} | {value / load:.2f} |")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "merge.json").write_text(json.dumps({"times": times, "median": median}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
