"""The writer: the ultralytics layout ``data.yaml``, ``images/<split>/<name>``,
``labels/<split>/<stem>.txt`` (``""`` split: ``images/`` and ``labels/``), with every loss
reported to ``WriteOptions``."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from detlint import fileio, placing
from detlint.formats.prewrite import NON_FINITE_BOX, UNKNOWN_CLASS, has_content, lose_other_splits, split_role
from detlint.formats.protocol import WriteOptions
from detlint.formats.yolo.obb import has_obb, obb_lines
from detlint.formats.yolo.paths import NAME
from detlint.model import Annotations, Dataset, cxcywh_of

COORD_DECIMALS = 6
YAML_OWN_KEYS = ("path", "train", "val", "test", "nc", "names")
PLACE_BATCH = 256  # images placed per thread-pool task
UNSPLIT = "unsplit"  # the folder of unsplit images beside named splits


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """Write ``ds`` in the ultralytics layout under ``dst``; every loss goes to ``options``."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    names_out = _unique_names(ds, options)
    lose_other_splits(ds, options)
    label_texts = _label_texts(ds, options)

    root, image_dir = os.fspath(dst), os.fspath(ds.image_dir)
    folders = _split_folders(ds)
    labels: list[tuple[str, bytes]] = []
    placements: list[tuple[str, str]] = []
    missing = 0
    for split, name, source, text in zip(ds.images.split.tolist(), names_out, ds.images.path.tolist(), label_texts):
        folder = folders[str(split or "")]
        prefix = f"/{folder}" if folder else ""
        labels.append((f"{root}/labels{prefix}/{os.path.splitext(name)[0]}.txt", text))
        if source:
            placements.append((os.path.join(image_dir, str(source)), f"{root}/images{prefix}/{name}"))
        else:
            missing += 1
    # Label files are written from one thread: creating files in one folder from many threads
    # contends on the folder lock and was 3x slower (measured on ext4/overlayfs).
    fileio.write_files(labels)
    placed = _place_images(placements, placing.SourceRoot(ds.image_dir), options.link_images)
    placed += [placing.Placement.MISSING] * missing
    options.lose_unplaced(placed, "image file missing (label written, image not copied)")
    fileio.atomic_write_text(dst / "data.yaml", _data_yaml(ds, options))


def _place_images(placements: list[tuple[str, str]], root: placing.SourceRoot,
                  link: bool) -> list[placing.Placement]:
    """Place every (source, target) image, on threads only where storage is slow
    (:func:`fileio.batch_map`); what became of each."""

    def place(batch: list[tuple[str, str]]) -> list[placing.Placement]:
        return [placing.place_image(source, target, root, link=link) for source, target in batch]

    return fileio.batch_map(place, placements, workers=8, desc="images", progress=False)


def _safe_split(split: str) -> str:
    """A split name usable as one folder name (no separators, no ``..``)."""
    return re.sub(r"[^\w.-]+", "_", split).strip(".") if split else ""


def _unique_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """One file name per image, unique per split (case-insensitively, by stem)."""
    used: dict[tuple[str, str], int] = {}
    names: list[str] = []
    renamed = 0
    for i in range(len(ds.images)):
        source = str(ds.images.path[i] or ds.images.file_name[i] or f"image_{i}")
        safe = fileio.safe_relative(source) or source.replace("\\", "/")
        name = safe.rsplit("/", 1)[-1] or f"image_{i}"
        stem, ext = os.path.splitext(name)
        key = (str(ds.images.split[i]), stem.lower())
        if key in used:
            used[key] += 1
            while (key[0], f"{stem}_{used[key]}".lower()) in used:
                used[key] += 1
            stem = f"{stem}_{used[key]}"
            renamed += 1
            used[(key[0], stem.lower())] = 0
        else:
            used[key] = 0
        names.append(stem + ext)
    options.lose("file name collision (renamed)", renamed, "two images of one split share a file stem")
    return names


def _written(ds: Dataset, size_known: np.ndarray, options: WriteOptions) -> tuple[np.ndarray, np.ndarray]:
    """The rows a label file can hold, and which of them are polygons; every other row, and
    every field a label line cannot hold, is a loss."""
    ann = ds.annotations
    boxless = ~ann.has_box | (ann.kind == Annotations.KIND_NONE)
    non_finite = ~boxless & ~np.isfinite(ann.boxes).all(axis=1)
    unknown_class = ~boxless & ~non_finite & (ann.category < 0)
    can_place = ann.normalized | size_known
    write_mask = ~boxless & ~non_finite & ~unknown_class & can_place
    options.lose("annotation without a box", int(boxless.sum()))
    options.lose(NON_FINITE_BOX, int(non_finite.sum()))
    options.lose(UNKNOWN_CLASS, int(unknown_class.sum()))
    options.lose("box on an image of unknown size (cannot normalise)",
                 int((~boxless & ~non_finite & ~unknown_class & ~can_place).sum()))
    options.lose("iscrowd flag", int((write_mask & (ann.iscrowd == 1)).sum()), "crowd boxes written as boxes")
    for flag in ("difficult", "truncated", "occluded"):
        options.lose(f"{flag} flag", int((write_mask & (getattr(ann, flag) == 1)).sum()))
    own_polygon = write_mask & (ann.kind == Annotations.KIND_POLYGON) & np.array(
        [isinstance(s, list) and len(s) >= 6 and not isinstance(s[0], list) for s in ann.segmentation], bool)
    has_other_seg = write_mask & ~own_polygon & (ann.kind != Annotations.KIND_OBB) & np.array(
        [bool(s) for s in ann.segmentation], bool)
    if options.geometry == "mask":
        return write_mask, write_mask.copy()
    if options.geometry == "box":
        options.lose("polygon row written as its box (--geometry box)", int(own_polygon.sum()))
        own_polygon[:] = False
    options.lose("segmentation dropped", int(has_other_seg.sum()),
                 "detection export writes boxes; --geometry mask writes YOLO segmentation rows")
    if ds.format != NAME:
        options.lose("annotation extra fields", sum(map(has_content, ann.extra[write_mask])))
    return write_mask, own_polygon


def _label_texts(ds: Dataset, options: WriteOptions) -> list[bytes]:
    """The label file bytes of every image (empty for images without rows): all lines
    formatted at once, then cut per image at the line ends."""
    ann = ds.annotations
    n_images = len(ds.images)
    if not len(ann):
        return [b""] * n_images
    width = ds.images.width.astype(np.float64)[ann.image]
    height = ds.images.height.astype(np.float64)[ann.image]
    write_mask, polygon_rows = _written(ds, (width > 0) & (height > 0), options)
    scale = np.where(ann.normalized[:, None], 1.0, np.stack([width, height, width, height], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):  # unknown sizes give NaN rows, never written
        boxes = cxcywh_of(ann.boxes / scale)
    index = np.flatnonzero(write_mask)
    index = index[np.lexsort((ann.src_item[index], ann.image[index]))] if ds.format == NAME else \
        index[np.argsort(ann.image[index], kind="stable")]
    text = obb_lines(ds, index, options) if has_obb(ds) else _lines(ds, index, boxes, polygon_rows[index], options)
    line_ends = np.flatnonzero(np.frombuffer(text, np.uint8) == ord("\n")) + 1
    # the byte offset where each image's lines start: its first line's (rows are sorted by image)
    first_line = np.searchsorted(ann.image[index], np.arange(n_images + 1))
    offsets = np.concatenate([[0], line_ends])[first_line].tolist()
    return [text[start:end] for start, end in zip(offsets, offsets[1:])]


def _lines(ds: Dataset, index: np.ndarray, boxes: np.ndarray, polygon: np.ndarray, options: WriteOptions) -> bytes:
    """The label lines of rows ``index`` (cx, cy, w, h in ``boxes``; polygons where ``polygon``),
    in that order, one per row."""
    ann = ds.annotations
    box_text = _box_lines(ann.category[index[~polygon]], boxes[index[~polygon]])
    if not polygon.any():
        return box_text
    ring_text = _polygon_lines(ds, index[polygon], options)
    if polygon.all():  # a segmentation export: the rings' text is the whole text
        return ring_text
    lines = np.empty(len(index), dtype=object)
    lines[~polygon] = box_text.split(b"\n")[:-1]
    lines[polygon] = ring_text.split(b"\n")[:-1]
    return b"\n".join(lines.tolist()) + b"\n"


def _polygon_lines(ds: Dataset, rows: np.ndarray, options: WriteOptions) -> bytes:
    """``class x1 y1 x2 y2 ...`` lines (normalised rings, geometry/segments.py), every
    approximation a loss with its mask IoU."""
    from detlint.geometry.segments import yolo_rings

    ann = ds.annotations
    normalized = ann.normalized[rows]
    width = np.where(normalized, 1, ds.images.width[ann.image[rows]])
    height = np.where(normalized, 1, ds.images.height[ann.image[rows]])
    found = yolo_rings(ann.segmentation[rows], ann.kind[rows], ann.iscrowd[rows], ann.boxes[rows], width, height)
    for approximation in found.approximations:
        mean, worst, k = approximation.worst()
        row = int(rows[k])
        options.lose(approximation.what, len(approximation.rows),
                     f"mask IoU mean {mean:.3f}, worst {worst:.3f} (image {ds.images.file_name[ann.image[row]]} "
                     f"annotation id {ann.id[row]})")
    options.lose("annotation without a mask written as its box's rectangle", found.rectangles)
    options.lose("polygon with fewer than 3 points dropped from its object (F016)", found.dropped_parts)
    return _ring_lines(ann.category[rows], found.values, found.lengths)


def _ring_lines(category: np.ndarray, values: np.ndarray, lengths: np.ndarray) -> bytes:
    """One line per ring: a C-level ``%`` per chunk of rows as for boxes, the class number
    put before each ring's numbers."""
    n = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    merged = np.empty(int(lengths.sum()) + n, np.float64)
    is_class = np.zeros(len(merged), bool)
    is_class[starts] = True
    merged[is_class] = category
    merged[~is_class] = values
    number = f" %.{COORD_DECIMALS}f"
    templates = ["%d" + number * m + "\n" for m in lengths.tolist()]
    text: list[str] = []
    for begin in range(0, n, FORMAT_CHUNK):
        end = min(begin + FORMAT_CHUNK, n)
        stop = int(starts[end]) if end < n else len(merged)
        text.append("".join(templates[begin:end]) % tuple(merged[int(starts[begin]):stop].tolist()))
    return "".join(text).encode()


BOX_LINE = f"%d %.{COORD_DECIMALS}f %.{COORD_DECIMALS}f %.{COORD_DECIMALS}f %.{COORD_DECIMALS}f\n"
FORMAT_CHUNK = 65536  # lines per format call: the arguments tuple stays a few MB


def _box_lines(category: np.ndarray, boxes: np.ndarray) -> bytes:
    """``class cx cy w h`` lines: one C-level ``%`` per chunk of rows, not one f-string per box
    (863k boxes: 0.55 s of CPU against 1.2 s); ``%.6f`` rounds exactly as the f-string did."""
    values = np.column_stack([category.astype(np.float64), boxes]) if len(category) else np.zeros((0, 5))
    chunks = [(BOX_LINE * len(part)) % tuple(part.ravel().tolist())
              for part in np.array_split(values, range(FORMAT_CHUNK, len(values), FORMAT_CHUNK))]
    return "".join(chunks).encode()


def _data_yaml(ds: Dataset, options: WriteOptions) -> str:
    import yaml

    content: dict[str, Any] = {"path": "."}
    _add_split_keys(content, ds, options)
    content["nc"] = len(ds.categories)
    content["names"] = list(ds.categories.names)
    if has_obb(ds):
        content["task"] = "obb"  # the 4-corner rows are oriented boxes, not 4-point polygons
    source_yaml = ds.meta.get("yaml") if ds.format == NAME else None
    if isinstance(source_yaml, dict):
        for key, value in source_yaml.items():
            if key not in YAML_OWN_KEYS:
                content[key] = value
    elif ds.format != NAME:
        dropped = sum(map(has_content, ds.categories.extra))
        options.lose("category extra fields (e.g. supercategory)", dropped)
    return yaml.safe_dump(content, sort_keys=False, allow_unicode=True)


def _split_folders(ds: Dataset) -> dict[str, str]:
    """The folder under ``images/`` and ``labels/`` of each split. Unsplit images live directly
    in ``images/`` only when there is no other split: ultralytics reads a folder recursively,
    so ``train: images`` would train on ``images/val`` too."""
    splits = [str(split or "") for split in ds.splits] or [""]
    return {split: _safe_split(split) or ("" if len(splits) == 1 else UNSPLIT) for split in splits}


def _add_split_keys(content: dict[str, Any], ds: Dataset, options: WriteOptions) -> None:
    """The data.yaml keys of the splits: ``train``/``val``/``test`` for the splits whose name
    says that role (``train2017``, ``valid``; an only, unsplit set trains), any other split
    under its own name. Never ``val:`` on the training images: what is missing is a note."""
    renamed = []
    for split, folder in _split_folders(ds).items():
        role = split_role(folder) if folder else "train"
        key = role if role and role not in content else folder
        while key in content or key in YAML_OWN_KEYS and key != role:
            key += "_"
        content[key] = f"images/{folder}" if folder else "images"
        if key != split:
            renamed.append(f"{split or 'the unsplit images'} -> {key}")
    options.lose("split names changed to the data.yaml keys trainers read", len(renamed), ", ".join(renamed))
    for role, what in (("train", "training"), ("val", "validation")):
        if role not in content:
            options.note(_missing_split_note(role, what))


def _missing_split_note(role: str, what: str) -> str:
    fix = ("convert again with --val-fraction 0.1 (a deterministic split of the training images by "
           "a hash of each path), or add a val: folder of other images" if role == "val" else
           "name one split train (or add a train: folder)")
    return (f"data.yaml has no {role}: key (the source has no {what} split): ultralytics refuses to train "
            f"(\"'train' and 'val' are required in all data YAMLs\") and `detlint check` reports it (F002). "
            f"detlint never points val: at the training images, which would validate on them. To fix: {fix}.")


def write_lists(ds: Dataset, dst: Path) -> None:
    """``<split>.txt`` per split (``unsplit.txt`` for ``""``): ``./`` and each image's path
    relative to the dataset root, images without a file left out."""
    lists: dict[str, list[str]] = {}
    for split, path in zip(ds.images.split.tolist(), ds.images.path.tolist()):
        if path:
            lists.setdefault(str(split or UNSPLIT), []).append(f"./{path}")
    for split, lines in lists.items():
        fileio.atomic_write_text(Path(dst) / f"{split}.txt", "\n".join(lines) + "\n")
