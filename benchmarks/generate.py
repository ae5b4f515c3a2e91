"""Generate deterministic synthetic detection datasets for the benchmarks.

    python benchmarks/generate.py --images 118287 --out benchmarks/data/full
    python benchmarks/generate.py --images 10000 --out benchmarks/data/10k

Writes, under OUT:
  coco/annotations/instances_train.json   (box-only: "segmentation": [])
  coco_poly/annotations/instances_train.json (4-12 point polygons)
  voc/Annotations/*.xml + ImageSets/Main/train.txt
  yolo/data.yaml + labels/train/*.txt
  coco_preds/annotations/instances_train.json (only when named in --formats: K predictions-like
      boxes per image, jittered copies of its objects with a score; no images)
  coco_results/results.json (only when named in --formats: a pycocotools results list of
      --results detections over all images, jittered copies of the objects with scores, for
      ``check --predictions``; beside the coco layout)
  images/ (four real small JPEGs, one per image size) hard-linked under each layout

COCO-like statistics: ~7.3 boxes per image (Poisson), 80 classes with COCO's sparse ids
(1..90 with gaps), box sizes log-normal around COCO's small/medium/large mix, four image sizes.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import time
from pathlib import Path

import numpy as np
import orjson

COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
SIZES = [(640, 480), (480, 640), (640, 427), (500, 375)]


def make_tables(n_images: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    size_index = rng.integers(0, len(SIZES), n_images)
    widths = np.array([SIZES[i][0] for i in size_index])
    heights = np.array([SIZES[i][1] for i in size_index])
    per_image = rng.poisson(7.3, n_images)
    n_boxes = int(per_image.sum())
    image_of = np.repeat(np.arange(n_images), per_image)
    W, H = widths[image_of], heights[image_of]
    side = np.exp(rng.normal(np.log(60), 0.9, n_boxes))
    aspect = np.exp(rng.normal(0, 0.5, n_boxes))
    w = np.clip(side * np.sqrt(aspect), 2, W - 1).round(2)
    h = np.clip(side / np.sqrt(aspect), 2, H - 1).round(2)
    x = (rng.random(n_boxes) * (W - w)).round(2)
    y = (rng.random(n_boxes) * (H - h)).round(2)
    classes = rng.integers(0, 80, n_boxes)
    return {"widths": widths, "heights": heights, "size_index": size_index, "image_of": image_of,
            "x": x, "y": y, "w": w, "h": h, "classes": classes, "rng": rng}


def write_images(out: Path, t: dict, layouts: dict[str, Path]) -> list[str]:
    from PIL import Image

    originals = out / "_originals"
    originals.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k, (w, h) in enumerate(SIZES):
        path = originals / f"size{k}.jpg"
        if not path.exists():
            pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, quality=70)
    names = [f"{i:012d}.jpg" for i in range(len(t["widths"]))]
    sources = {k: originals / f"size{k}.jpg" for k in range(len(SIZES))}
    for folder in layouts.values():
        folder.mkdir(parents=True, exist_ok=True)
        for name, k in zip(names, t["size_index"].tolist()):
            target = folder / name
            if not target.exists():
                sources[k] = _link(sources[k], target)
    return names


def _link(source: Path, target: Path) -> Path:
    """Hard-link ``target`` to ``source``; when ``source`` has as many links as the file system
    allows (ext4: 65,000), link to a fresh copy of it instead. Returns the source to use next."""
    try:
        os.link(source, target)
        return source
    except OSError as error:
        if error.errno != errno.EMLINK:
            raise
    copy = source.with_name(f"{source.stem}.{time.monotonic_ns()}{source.suffix}")
    shutil.copyfile(source, copy)
    os.link(copy, target)
    return copy


def write_coco(path: Path, t: dict, names: list[str], polygons: bool) -> None:
    rng = np.random.default_rng(2)
    images = [{"id": i + 1, "file_name": n, "width": int(w), "height": int(h), "license": 1}
              for i, (n, w, h) in enumerate(zip(names, t["widths"].tolist(), t["heights"].tolist()))]
    annotations = []
    for k, (img, x, y, w, h, c) in enumerate(zip(t["image_of"].tolist(), t["x"].tolist(), t["y"].tolist(),
                                                 t["w"].tolist(), t["h"].tolist(), t["classes"].tolist())):
        if polygons:
            n = int(rng.integers(4, 13))
            angles = np.sort(rng.random(n)) * 2 * np.pi
            px = (x + w / 2 + np.cos(angles) * w / 2).round(2)
            py = (y + h / 2 + np.sin(angles) * h / 2).round(2)
            segmentation = [np.column_stack([px, py]).ravel().tolist()]
            area = round(0.5 * abs(float(np.dot(px, np.roll(py, -1)) - np.dot(py, np.roll(px, -1)))), 2)
        else:
            segmentation, area = [], round(w * h, 2)
        annotations.append({"id": k + 1, "image_id": img + 1, "category_id": COCO_IDS[c], "bbox": [x, y, w, h],
                            "area": area, "iscrowd": 0, "segmentation": segmentation})
    categories = [{"id": cid, "name": f"class_{cid}", "supercategory": "thing"} for cid in COCO_IDS]
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"info": {"description": "detlint synthetic"}, "licenses": [{"id": 1, "name": "CC"}],
           "images": images, "annotations": annotations, "categories": categories}
    path.write_bytes(orjson.dumps(doc))


def write_coco_preds(path: Path, t: dict, names: list[str], per_image: int) -> None:
    """``per_image`` boxes per image as a detector's raw output looks before NMS: jittered copies of
    the image's objects (about 14 per object at K=100, so near-duplicates abound), 10% with another
    class, each with a ``score``; an image without objects gets boxes anywhere. Valid COCO."""
    rng = np.random.default_rng(3)
    n_images = len(t["widths"])
    counts = np.bincount(t["image_of"], minlength=n_images)
    starts = np.cumsum(counts) - counts
    image_of = np.repeat(np.arange(n_images), per_image)
    W, H = t["widths"][image_of].astype(float), t["heights"][image_of].astype(float)
    pick = starts[image_of] + (rng.random(len(image_of)) * np.maximum(counts[image_of], 1)).astype(int)
    has = counts[image_of] > 0
    pick = np.where(has, np.minimum(pick, len(t["x"]) - 1), 0)
    w = np.where(has, t["w"][pick], 60.0) * np.exp(rng.normal(0, 0.08, len(pick)))
    h = np.where(has, t["h"][pick], 60.0) * np.exp(rng.normal(0, 0.08, len(pick)))
    x = np.where(has, t["x"][pick], rng.random(len(pick)) * W * 0.9) + rng.normal(0, 0.04, len(pick)) * w
    y = np.where(has, t["y"][pick], rng.random(len(pick)) * H * 0.9) + rng.normal(0, 0.04, len(pick)) * h
    w, h = np.clip(w, 1, W - 1).round(2), np.clip(h, 1, H - 1).round(2)
    x, y = np.clip(x, 0, W - w).round(2), np.clip(y, 0, H - h).round(2)
    classes = np.where(rng.random(len(pick)) < 0.9, t["classes"][pick], rng.integers(0, 80, len(pick)))
    scores = rng.random(len(pick)).round(4)
    images = [{"id": i + 1, "file_name": n, "width": int(a), "height": int(b)}
              for i, (n, a, b) in enumerate(zip(names, t["widths"].tolist(), t["heights"].tolist()))]
    annotations = [{"id": k + 1, "image_id": img + 1, "category_id": COCO_IDS[c], "bbox": [a, b, d, e],
                    "area": round(d * e, 2), "iscrowd": 0, "segmentation": [], "score": s}
                   for k, (img, a, b, d, e, c, s) in enumerate(zip(
                       image_of.tolist(), x.tolist(), y.tolist(), w.tolist(), h.tolist(), classes.tolist(),
                       scores.tolist()))]
    categories = [{"id": cid, "name": f"class_{cid}", "supercategory": "thing"} for cid in COCO_IDS]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"images": images, "annotations": annotations, "categories": categories}))


def write_coco_results(path: Path, t: dict, total: int) -> None:
    """``total`` detections as a detector's output after NMS looks: each object found once or
    twice with a jittered box (10% with another class), plus false positives anywhere, scores in
    0-1. A COCO results list (``image_id``, ``category_id``, ``bbox``, ``score``)."""
    rng = np.random.default_rng(5)
    n_boxes = len(t["x"])
    pick = rng.integers(0, n_boxes, total)
    image_of = t["image_of"][pick]
    W, H = t["widths"][image_of].astype(float), t["heights"][image_of].astype(float)
    w = t["w"][pick] * np.exp(rng.normal(0, 0.08, total))
    h = t["h"][pick] * np.exp(rng.normal(0, 0.08, total))
    x = t["x"][pick] + rng.normal(0, 0.04, total) * w
    y = t["y"][pick] + rng.normal(0, 0.04, total) * h
    w, h = np.clip(w, 1, W - 1).round(2), np.clip(h, 1, H - 1).round(2)
    x, y = np.clip(x, 0, W - w).round(2), np.clip(y, 0, H - h).round(2)
    classes = np.where(rng.random(total) < 0.9, t["classes"][pick], rng.integers(0, 80, total))
    scores = rng.random(total).round(4)
    order = np.argsort(image_of, kind="stable")
    results = [{"image_id": img + 1, "category_id": COCO_IDS[c], "bbox": [a, b, d, e], "score": s}
               for img, a, b, d, e, c, s in zip(image_of[order].tolist(), x[order].tolist(), y[order].tolist(),
                                                w[order].tolist(), h[order].tolist(), classes[order].tolist(),
                                                scores[order].tolist())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results))


def _split_by_image(t: dict) -> list[tuple[int, int]]:
    counts = np.bincount(t["image_of"], minlength=len(t["widths"]))
    ends = np.cumsum(counts)
    return list(zip((ends - counts).tolist(), ends.tolist()))


def write_yolo(root: Path, t: dict, names: list[str]) -> None:
    labels = root / "labels" / "train"
    labels.mkdir(parents=True, exist_ok=True)
    W, H = t["widths"][t["image_of"]], t["heights"][t["image_of"]]
    cx, cy = (t["x"] + t["w"] / 2) / W, (t["y"] + t["h"] / 2) / H
    nw, nh = t["w"] / W, t["h"] / H
    rows = [f"{c} {a:.6f} {b:.6f} {d:.6f} {e:.6f}" for c, a, b, d, e in
            zip(t["classes"].tolist(), cx.tolist(), cy.tolist(), nw.tolist(), nh.tolist())]
    for name, (start, end) in zip(names, _split_by_image(t)):
        text = "\n".join(rows[start:end])
        (labels / (name[:-4] + ".txt")).write_text(text + ("\n" if text else ""))
    names_yaml = "\n".join(f"  {i}: class_{cid}" for i, cid in enumerate(COCO_IDS))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nnc: 80\nnames:\n{names_yaml}\n")


def write_voc(root: Path, t: dict, names: list[str]) -> None:
    annotations = root / "Annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    sets = root / "ImageSets" / "Main"
    sets.mkdir(parents=True, exist_ok=True)
    x1 = np.floor(t["x"]).astype(int) + 1
    y1 = np.floor(t["y"]).astype(int) + 1
    x2 = np.minimum(np.ceil(t["x"] + t["w"]).astype(int), t["widths"][t["image_of"]])
    y2 = np.minimum(np.ceil(t["y"] + t["h"]).astype(int), t["heights"][t["image_of"]])
    objects = [f"<object><name>class_{COCO_IDS[c]}</name><pose>Unspecified</pose><truncated>0</truncated>"
               f"<difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{d}</xmax>"
               f"<ymax>{e}</ymax></bndbox></object>"
               for c, a, b, d, e in zip(t["classes"].tolist(), x1.tolist(), y1.tolist(), x2.tolist(), y2.tolist())]
    for name, w, h, (start, end) in zip(names, t["widths"].tolist(), t["heights"].tolist(), _split_by_image(t)):
        xml = (f"<annotation><folder>VOC</folder><filename>{name}</filename><size><width>{w}</width>"
               f"<height>{h}</height><depth>3</depth></size><segmented>0</segmented>"
               + "".join(objects[start:end]) + "</annotation>\n")
        (annotations / (name[:-4] + ".xml")).write_text(xml)
    (sets / "train.txt").write_text("\n".join(n[:-4] for n in names) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/10k"))
    parser.add_argument("--formats", default="coco,coco_poly,voc,yolo",
                        help="comma-separated; coco_preds (predictions-like COCO) and coco_results only when named")
    parser.add_argument("--predictions-per-image", type=int, default=100,
                        help="boxes per image of the coco_preds layout (10k images x 100 = 1M)")
    parser.add_argument("--results", type=int, default=1_000_000,
                        help="detections of the coco_results layout (a results list over all images)")
    args = parser.parse_args()
    t = make_tables(args.images)
    formats = args.formats.split(",")
    layouts = {}
    if "coco" in formats or "coco_poly" in formats:
        layouts["coco"] = args.out / "coco" / "images" / "train"
    if "voc" in formats:
        layouts["voc"] = args.out / "voc" / "JPEGImages"
    if "yolo" in formats:
        layouts["yolo"] = args.out / "yolo" / "images" / "train"
    names = write_images(args.out, t, layouts)
    if "coco" in formats:
        write_coco(args.out / "coco" / "annotations" / "instances_train.json", t, names, polygons=False)
    if "coco_poly" in formats:
        poly_root = args.out / "coco_poly"
        (poly_root / "images").mkdir(parents=True, exist_ok=True)
        link = poly_root / "images" / "train"
        if not link.exists():
            link.symlink_to(Path("../../coco/images/train"))
        write_coco(poly_root / "annotations" / "instances_train.json", t, names, polygons=True)
    if "coco_preds" in formats:
        write_coco_preds(args.out / "coco_preds" / "annotations" / "instances_train.json", t, names,
                         args.predictions_per_image)
    if "coco_results" in formats:
        write_coco_results(args.out / "coco_results" / "results.json", t, args.results)
    if "voc" in formats:
        write_voc(args.out / "voc", t, names)
    if "yolo" in formats:
        write_yolo(args.out / "yolo", t, names)
    print(f"{args.out}: {args.images} images, {len(t['image_of'])} boxes")


if __name__ == "__main__":
    main()
