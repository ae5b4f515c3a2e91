"""The Open Images writer: ``<split>-annotations-bbox.csv`` per split, the class descriptions
(V6's ``class-descriptions-boxable.csv``, no header) and the images at
``<split>/<ImageID><ext>``; every loss listed."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import numpy as np

from detlint import fileio, placing
from detlint.formats.kitti.write import lose_other_fields
from detlint.formats.openimages.layout import BOX_SUFFIX
from detlint.formats.prewrite import lose_other_splits
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset

HEADER = ["ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
          "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside"]
CLASS_FILE = "class-descriptions-boxable.csv"
UNSPLIT = "train"  # an unsplit dataset's images: Open Images files always name a split
_SAFE = re.compile(r"[^\w.-]+")


def mids(ds: Dataset) -> list[str]:
    """Each class's MID: the source's (Open Images ``mid``), else ``/m/detlint_<i>``."""
    out = []
    for i, extra in enumerate(ds.categories.extra):
        mid = extra.get("mid") if isinstance(extra, dict) else None
        out.append(str(mid) if mid else f"/m/detlint_{i}")
    return out


def _fields(extra: object) -> dict:
    if not isinstance(extra, dict):
        return {}
    attributes = extra.get("attributes")
    return {**attributes, **extra} if isinstance(attributes, dict) else extra


def _image_ids(ds: Dataset, options: WriteOptions) -> list[str]:
    """One ImageID per image, unique per split: the source's, else the file's stem."""
    used: set[tuple[str, str]] = set()
    out, renamed = [], 0
    for i, (extra, path, name, split) in enumerate(zip(ds.images.extra.tolist(), ds.images.path.tolist(),
                                                         ds.images.file_name.tolist(), ds.images.split.tolist())):
        given = extra.get("image_id") if isinstance(extra, dict) else None
        base = str(path or name or f"image_{i}").replace("\\", "/").rsplit("/", 1)[-1]
        stem = str(given or os.path.splitext(base)[0])
        stem = _SAFE.sub("_", stem) or f"image_{i}"
        while (split, stem) in used:
            stem, renamed = f"{stem}_{i}", renamed + 1
        used.add((split, stem))
        out.append(stem)
    options.lose("image id collision (renamed)", renamed, "two images of one split share a file stem")
    return out


def _normalised(ds: Dataset, options: WriteOptions) -> tuple[np.ndarray, np.ndarray]:
    """The boxes as fractions of their image size, and which rows can be written."""
    ann = ds.annotations
    w, h = ds.image_size_per_annotation()
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = ann.boxes / np.stack([w, h, w, h], axis=1)
    boxless = ~ann.has_box | (ann.kind == Annotations.KIND_NONE)
    unsized = ~boxless & ~np.isfinite(norm).all(axis=1)
    options.lose("annotation without a box", int(boxless.sum()))
    options.lose("box on an image of unknown size (cannot normalise)", int(unsized.sum()))
    shaped = ~boxless & ((ann.kind != Annotations.KIND_BOX) | np.array([s is not None and s != [] for s in
                                                                         ann.segmentation], bool))
    options.lose("polygon, mask or oriented box (its enclosing box written)", int(shaped.sum()))
    return norm, ~boxless & ~unsized


def _flag(values: np.ndarray, options: WriteOptions, what: str, written: np.ndarray) -> list[str]:
    options.lose(f"{what} unknown (written 0)", int((written & (values < 0)).sum()))
    return np.where(values == 1, "1", "0").tolist()


def _rows(ds: Dataset, ids: list[str], options: WriteOptions) -> tuple[list[list[str]], np.ndarray]:
    ann = ds.annotations
    norm, written = _normalised(ds, options)
    labels = mids(ds)
    occluded = _flag(ann.occluded, options, "IsOccluded", written)
    truncated = _flag(ann.truncated, options, "IsTruncated", written)
    group = np.where(ann.iscrowd == 1, "1", "0").tolist()
    numbers = norm.tolist()
    rows = []
    for row in np.flatnonzero(written).tolist():
        fields = _fields(ann.extra[row])
        x1, y1, x2, y2 = numbers[row]
        rows.append([ids[ann.image[row]], str(fields.get("source", "xclick")), labels[ann.category[row]],
                     str(fields.get("confidence", "1")), f"{x1:.10g}", f"{x2:.10g}", f"{y1:.10g}", f"{y2:.10g}",
                     occluded[row], truncated[row], group[row], str(int(fields.get("is_depiction", 0))),
                     str(int(fields.get("is_inside", 0)))])
    lose_other_fields(ann, written, {"source", "confidence", "is_depiction", "is_inside"}, options)
    return rows, np.flatnonzero(written)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """Write ``ds`` as Open Images CSVs under ``dst``; every loss goes to ``options``."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    lose_other_splits(ds, options)
    splits = [_SAFE.sub("_", str(s)).strip(".") or UNSPLIT for s in ds.images.split.tolist()]
    if any(not s for s in ds.images.split.tolist()):
        options.note(f"images without a split are written as the '{UNSPLIT}' split")
    ids = _image_ids(ds, options)
    rows, written = _rows(ds, ids, options)
    image_split = np.array(splits, object)
    row_split = image_split[ds.annotations.image[written]] if len(written) else np.zeros(0, object)
    files = [(os.fspath(dst / f"{split}{BOX_SUFFIX}"),
              _csv([HEADER] + [r for r, s in zip(rows, row_split) if s == split])) for split in dict.fromkeys(splits)]
    generated = sum(1 for e in ds.categories.extra if not (isinstance(e, dict) and e.get("mid")))
    options.lose("class without an Open Images MID (a /m/detlint_<i> id generated)", generated)
    files.append((os.fspath(dst / CLASS_FILE), _csv([[m, n] for m, n in zip(mids(ds), ds.categories.names)])))
    fileio.write_files(files)
    root = placing.SourceRoot(ds.image_dir)
    image_dir = os.fspath(ds.image_dir)
    placed, missing = [], 0
    for split, image_id, source in zip(splits, ids, ds.images.path.tolist()):
        if not source:
            missing += 1
            continue
        target = dst / split / f"{image_id}{os.path.splitext(str(source))[1]}"
        placed.append(placing.place_image(os.path.join(image_dir, str(source)), target, root, link=options.link_images))
    options.lose_unplaced(placed + [placing.Placement.MISSING] * missing,
                          "image file missing (row written, image not copied)")
