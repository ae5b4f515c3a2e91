"""Writing DOTA: ``[<split>/]labelTxt/<stem>.txt`` and ``[<split>/]images/<name>`` (linked or
copied by :mod:`detlint.placing`). Oriented boxes keep their corners in the order they have;
axis-aligned boxes are written as their 4 corners clockwise from the top-left (exact)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from detlint import fileio, placing
from detlint.formats.prewrite import has_content, lose_other_splits
from detlint.formats.protocol import WriteOptions
from detlint.geometry.obb import rect_corners
from detlint.model import Annotations, Dataset

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def corners_of(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Pixel corners ``(N, 8)`` of every annotation and which rows can be written (a known
    image size where a row is normalised; a box)."""
    ann = ds.annotations
    width = ds.images.width.astype(np.float64)[ann.image] if len(ann) else np.zeros(0)
    height = ds.images.height.astype(np.float64)[ann.image] if len(ann) else np.zeros(0)
    boxes = ann.boxes
    corners = rect_corners(boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    obb = np.flatnonzero(ann.kind == Annotations.KIND_OBB)
    if len(obb):
        corners[obb] = np.array([ann.segmentation[i] for i in obb.tolist()], np.float64).reshape(-1, 8)
    # rows kept normalised (image size unknown when read) become pixels where the size is known now
    scale_xy = np.stack([np.where(ann.normalized, width, 1.0), np.where(ann.normalized, height, 1.0)], 1)
    corners = corners * np.tile(scale_xy, 4)
    known = ~ann.normalized | ((width > 0) & (height > 0))
    writable = ann.has_box & (ann.kind != Annotations.KIND_NONE) & known
    return corners, writable


def _number(value: float) -> str:
    return format(value, ".12g")


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """Write ``ds`` as DOTA under ``dst``; every loss goes to ``options``."""
    dst = Path(dst)
    lose_other_splits(ds, options)
    ann = ds.annotations
    corners, writable = corners_of(ds)
    boxless = ~ann.has_box | (ann.kind == Annotations.KIND_NONE)
    options.lose("annotation without a box", int(boxless.sum()))
    options.lose("box on an image of unknown size (cannot write pixels)", int((~boxless & ~writable).sum()))
    options.lose("polygon written as the 4 corners of its enclosing box",
                 int((writable & (ann.kind == Annotations.KIND_POLYGON)).sum()))
    seg = writable & (ann.kind == Annotations.KIND_BOX) & np.array([bool(s) for s in ann.segmentation], bool)
    options.lose("segmentation dropped", int(seg.sum()), "DOTA writes 4 corners per object")
    for flag in ("iscrowd", "truncated", "occluded"):
        options.lose(f"{flag} flag", int((writable & (getattr(ann, flag) == 1)).sum()))
    if ds.format != "dota":
        options.lose("annotation extra fields", sum(map(has_content, ann.extra[writable])))
    names = [_UNSAFE.sub("-", n) or "unnamed" for n in ds.categories.names]
    options.lose("class names with spaces or symbols, written with '-'",
                 sum(a != b for a, b in zip(names, ds.categories.names)),
                 ", ".join(f"{a!r} -> {b!r}" for a, b in zip(ds.categories.names, names) if a != b)[:300])
    lines = _lines(ds, corners, writable, names)
    labels, placements, seen = [], [], set()
    for row in range(len(ds.images)):
        split = _UNSAFE.sub("-", str(ds.images.split[row] or ""))
        folder = dst / split if split else dst
        name = os.path.basename(str(ds.images.file_name[row])) or f"image_{row}"
        stem = os.path.splitext(name)[0]
        while stem in seen:
            stem += "_"
        seen.add(stem)
        labels.append((os.fspath(folder / "labelTxt" / f"{stem}.txt"), lines.get(row, b"")))
        if ds.images.path[row]:
            placements.append((os.path.join(ds.image_dir, str(ds.images.path[row])),
                               os.fspath(folder / "images" / (stem + os.path.splitext(name)[1]))))
    for path, _ in labels:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    fileio.write_files(labels)
    root = placing.SourceRoot(ds.image_dir)
    placed = [placing.place_image(src, target, root, options.link_images) for src, target in placements]
    placed += [placing.Placement.MISSING] * (len(ds.images) - len(placements))
    options.lose_unplaced(placed, "image file missing (label written, image not copied)")


def _lines(ds: Dataset, corners: np.ndarray, writable: np.ndarray, names: list[str]) -> dict[int, bytes]:
    """The label file bytes of each image with rows: its header lines, then one line per object."""
    ann = ds.annotations
    index = np.flatnonzero(writable)
    index = index[np.lexsort((ann.src_item[index], ann.image[index]))]
    per_image: dict[int, list[str]] = {}
    for row in range(len(ds.images)):
        extra = ds.images.extra[row]
        header = extra.get("dota_header") if isinstance(extra, dict) else None
        if header:
            per_image[row] = [f"{key}:{value}" for key, value in header.items()]
    values = corners[index].tolist()
    for i, row in enumerate(index.tolist()):
        difficult = 1 if ann.difficult[row] == 1 else 0
        text = " ".join(map(_number, values[i]))
        per_image.setdefault(int(ann.image[row]), []).append(f"{text} {names[ann.category[row]]} {difficult}")
    return {row: ("\n".join(lines) + "\n").encode() for row, lines in per_image.items()}
