"""The KITTI writer: ``label_2/<stem>.txt`` + ``image_2/<name>`` per split folder, every field a
2D source lacks written as the devkit's "unknown" value and listed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from detlint import fileio, placing
from detlint.formats.kitti.layout import IMAGES, LABELS
from detlint.formats.kitti.parse import DONT_CARE, EXTRA_KEYS
from detlint.formats.prewrite import lose_other_splits
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset

SPLIT_FOLDER = {"train": "training", "test": "testing", "": ""}
# the devkit's values for what is not known (its readme: DontCare regions and 2D-only results)
UNKNOWN = {"alpha": -10.0, "height_3d": -1.0, "width_3d": -1.0, "length_3d": -1.0,
           "x_3d": -1000.0, "y_3d": -1000.0, "z_3d": -1000.0, "rotation_y": -10.0}


def _fields(extra: object) -> dict:
    """KITTI's own values of a row: from the reader's ``extra``, or from COCO ``attributes``
    after a trip through COCO."""
    if not isinstance(extra, dict):
        return {}
    attributes = extra.get("attributes")
    return {**attributes, **extra} if isinstance(attributes, dict) else extra


def _num(value: float) -> str:
    text = f"{value:.2f}"
    return text if abs(float(text) - value) < 1e-9 else f"{value:.6f}"


def _folder(split: str) -> str:
    return SPLIT_FOLDER.get(split, re.sub(r"[^\w.-]+", "_", split).strip(".") or "split")


def _lines(ds: Dataset, options: WriteOptions) -> list[str]:
    """One KITTI line per written annotation (rows without a box are listed and skipped)."""
    ann = ds.annotations
    no_box = ~ann.has_box | (ann.kind == Annotations.KIND_NONE)
    boxless = no_box | ann.normalized
    options.lose("annotation without a box", int(no_box.sum()))
    options.lose("normalised boxes on an image of unknown size dropped (cannot be made pixels)",
                 int((ann.normalized & ~no_box).sum()))
    other = (ann.kind != Annotations.KIND_BOX) | np.array([s is not None and s != [] for s in ann.segmentation], bool)
    options.lose("polygon, mask or oriented box (its enclosing box written)", int((other & ~boxless).sum()))
    names = [ds.categories.names[c] for c in ann.category.tolist()]
    crowd_named = (ann.iscrowd == 1) & ~boxless & np.array([n != DONT_CARE for n in names], bool)
    options.lose("crowd flag (KITTI has only DontCare regions; written as an object of its class)",
                 int(crowd_named.sum()))
    out: list[str] = []
    unknown = {"3D box, alpha and rotation_y": 0, "truncation": 0, "occlusion": 0}
    for row, box in enumerate(ann.boxes.tolist()):
        if boxless[row]:
            out.append("")
            continue
        fields = _fields(ann.extra[row])
        if not all(k in fields for k in UNKNOWN):
            unknown["3D box, alpha and rotation_y"] += 1
        out.append(" ".join([names[row].replace(" ", "_"), _truncation(ann, row, fields, unknown),
                             _occlusion(ann, row, fields, unknown), _num(float(fields.get("alpha", -10.0))),
                             *map(_num, box), *(_num(float(fields.get(k, UNKNOWN[k]))) for k in EXTRA_KEYS[3:])]
                            + ([_num(float(fields["score"]))] if "score" in fields else [])))
    for what, count in unknown.items():
        options.lose(f"KITTI {what} unknown (written as the devkit's unknown values)", count,
                     "dimensions -1, location -1000, alpha/rotation_y -10, truncation -1, occlusion 3 (unknown)")
    options.lose("class name with spaces (written with underscores)", sum(" " in n for n in set(names)))
    lose_other_fields(ann, ~boxless, set(EXTRA_KEYS) | {"score"}, options)
    return out


def lose_other_fields(ann: Annotations, written: np.ndarray, own: set[str], options: WriteOptions) -> None:
    """The difficult flags and the extra fields (other than ``own`` and the reader's ``name``)
    of the written rows: a KITTI or Open Images line has no place for them."""
    options.lose("difficult flag", int((written & (ann.difficult == 1)).sum()))
    other = 0
    for extra in ann.extra[written].tolist():
        fields = _fields(extra)
        other += any(k not in own and k not in ("name", "attributes", "truncated", "occluded", "difficult")
                     and v not in (None, "", [], {}) for k, v in fields.items())
    options.lose("annotation extra fields", other)


def _truncation(ann: Annotations, row: int, fields: dict, unknown: dict) -> str:
    if "truncation" in fields:
        return _num(float(fields["truncation"]))
    if ann.truncated[row] >= 0:
        return _num(float(ann.truncated[row]))
    unknown["truncation"] += 1
    return "-1.00"  # as DontCare's: read back as no flag, never as "not truncated"


def _occlusion(ann: Annotations, row: int, fields: dict, unknown: dict) -> str:
    if "occlusion" in fields:
        return str(int(fields["occlusion"]))
    if ann.occluded[row] >= 0:
        return str(int(ann.occluded[row]))
    unknown["occlusion"] += 1
    return "3"


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """Write ``ds`` as KITTI under ``dst``; every loss goes to ``options``."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    lose_other_splits(ds, options)
    lines = _lines(ds, options)
    per_image: list[list[str]] = [[] for _ in range(len(ds.images))]
    for row, image in enumerate(ds.annotations.image.tolist()):
        if lines[row]:
            per_image[image].append(lines[row])
    used: set[tuple[str, str]] = set()
    labels, placements, renamed, missing = [], [], 0, 0
    image_dir = os.fspath(ds.image_dir)
    for i, (split, source) in enumerate(zip(ds.images.split.tolist(), ds.images.path.tolist())):
        folder = dst / _folder(str(split or ""))
        name = str(source or ds.images.file_name[i] or f"{i:06d}").replace("\\", "/").rsplit("/", 1)[-1]
        stem, ext = os.path.splitext(name)
        while (str(folder), stem.lower()) in used:
            stem, renamed = f"{stem}_{i}", renamed + 1
        used.add((str(folder), stem.lower()))
        labels.append((os.fspath(folder / LABELS / f"{stem}.txt"), "".join(f"{x}\n" for x in per_image[i]).encode()))
        if source:
            placements.append((os.path.join(image_dir, str(source)), os.fspath(folder / IMAGES / f"{stem}{ext}")))
        else:
            missing += 1
    for path, _ in labels:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    fileio.write_files(labels)
    root = placing.SourceRoot(ds.image_dir)
    placed = [placing.place_image(s, t, root, link=options.link_images) for s, t in placements]
    options.lose_unplaced(placed + [placing.Placement.MISSING] * missing,
                          "image file missing (label written, image not copied)")
    options.lose("file name collision (renamed)", renamed, "two images of one split share a file stem")
