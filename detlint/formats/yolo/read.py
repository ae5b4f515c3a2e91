"""Building the Dataset: the layout's images paired with their labels, the label rows (through
the parse cache), the image sizes, the classes and the annotations.

Images without a label file are kept unannotated. Orphan labels (a label file with no image):
reported as I006 and, so rules and conversions still see their rows, attached to a synthetic
image entry with ``path == ""`` whose ``file_name`` is the image path the label implies (without
extension) and whose ``extra`` holds ``{"orphan_label": <label path>}``.

Sizes come from image headers (after EXIF orientation), left in ``options.headers`` for the
image report of the same run; where unknown (no image, or ``probe_images=False``) rows stay
normalised (``normalized`` True).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError
from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.yolo import obb
from detlint.formats.yolo.discover import discover, root_of
from detlint.formats.yolo.layout import Layout
from detlint.formats.yolo.leakage import separate_splits
from detlint.formats.yolo.listing import ListingCache, Walker
from detlint.formats.yolo.pairing import pair_labels
from detlint.formats.yolo.parse import ROW_COLUMNS, Rows, parse_labels, rows_of
from detlint.formats.yolo.paths import NAME, rel, rels, split_of, swap_component
from detlint.headers import header_size
from detlint.model import Annotations, Categories, Dataset, Images
from detlint.readcache import RowTable


def read(path: Path, options: ReadOptions) -> Dataset:
    """Read a YOLO dataset (folder, data.yaml, obj.data, or one label file's dataset)."""
    path = Path(path)
    cache = options.cache
    root = root_of(path)
    root_str = str(root)
    store = cache.load(NAME, root_str)
    walker = ListingCache(store, cache) if cache.enabled else Walker()
    layout = discover(path, root, walker)
    separate_splits(layout)
    label_of_image, orphans = pair_labels(layout)
    if not layout.images and not orphans and not layout.label_pool:
        raise NotADatasetError(f"{path}: no YOLO images or label files found")

    files = list(layout.config_files)
    paired = [p for p in label_of_image if p is not None]
    unique_labels = list(dict.fromkeys(paired + orphans))
    label_index = _label_file_index(label_of_image, paired, unique_labels, orphans, len(files))
    files += rels(unique_labels, root_str)
    problems = list(layout.problems)
    label_rows, stored, changed = cache.rows(
        NAME, root_str, unique_labels, lambda which: parse_labels(unique_labels, which, options, problems, root_str),
        ROW_COLUMNS, store)
    images, image_paths, exists = _images(layout, orphans, label_index, problems)
    sizes_stored, sizes_changed = _probe_sizes(images, image_paths, exists, options, store, root_str)
    if cache.enabled and (changed or sizes_changed or walker.dirty):
        cache.save(NAME, root_str, {**stored, **sizes_stored, **walker.arrays()})

    pair_image, pair_file, rows = _paired_rows(images, label_rows, len(files) - len(unique_labels))
    problems += malformed_findings(rows, pair_image, pair_file, images, files)
    categories, names_inferred = _categories(layout, rows, files)
    annotations = annotations_of(rows, images, pair_image[rows.file], pair_file[rows.file], len(categories))
    meta: dict[str, Any] = dict(layout.meta)
    meta.update({"layout": layout.kind, "names_inferred": names_inferred})
    if obb.is_obb(meta, options):
        annotations = obb.oriented(annotations, images)
        meta["obb"] = dict(obb.OBB_META)
    return Dataset(format=NAME, root=root, categories=categories, images=images, annotations=annotations,
                   files=files, problems=problems, meta=meta)


def _images(layout: Layout, orphans: list[str], label_index: np.ndarray,
            problems: list[Finding]) -> tuple[Images, list[str], list[bool]]:
    """The images table (the listed images, then one synthetic entry per orphan label), the
    absolute paths of the listed ones and whether each exists."""
    root_str = str(layout.root)
    # absolute and normalised, as the header prober keys them (a relative path costs it a getcwd each)
    image_paths = [prefix + name for group in layout.images
                   for prefix in (os.path.join(os.path.abspath(group.folder), ""),) for name in group.names]
    n_real = len(image_paths)
    images = Images.empty(n_real + len(orphans))
    rel_paths = [rel_prefix + name for group in layout.images
                 for rel_prefix in (rel(group.prefix + "x", root_str)[:-1],) for name in group.names]
    images.file_name[:n_real] = rel_paths
    if all(group.exists for group in layout.images):
        exists = [True] * n_real
        images.path[:n_real] = rel_paths
    else:
        exists = [group.exists for group in layout.images for _ in group.names]
        images.path[:n_real] = [p if e else "" for p, e in zip(rel_paths, exists)]
    images.split[:n_real] = [group.split for group in layout.images for _ in group.names]
    images.src_file[:n_real + len(orphans)] = label_index
    _also_in_splits(layout, images)
    walked_split = {group.folder: group.split for group in reversed(layout.images) if group.walked}
    for i, orphan in enumerate(orphans):
        orphan_rel = rel(orphan, root_str)
        implied_image = swap_component(orphan, "labels", "images", skip_last=True) or orphan
        images.file_name[n_real + i] = rel(os.path.splitext(implied_image)[0], root_str)
        images.split[n_real + i] = _orphan_split(implied_image, walked_split, orphan_rel)
        images.extra[n_real + i] = {"orphan_label": orphan_rel}
        problems.append(Finding("I006", f"label file {orphan_rel} has no image", file=orphan_rel))
    return images, image_paths, exists


def _orphan_split(implied_image: str, walked_split: dict[str, str], orphan_rel: str) -> str:
    """The split of the image folder a label without an image belongs to: the nearest walked
    folder above the image it implies (``train: images`` puts ``labels/a.txt`` in train), else
    the split its path names."""
    folder = os.path.dirname(implied_image)
    while folder:
        if folder in walked_split:
            return walked_split[folder]
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return split_of(tuple(orphan_rel.split("/")))


def _also_in_splits(layout: Layout, images: Images) -> None:
    """``extra["also_in_splits"]`` of the images the description puts in more than one split."""
    start = 0
    for group in layout.images:
        for index, splits in group.also_in_splits.items():
            images.extra[start + index] = {"also_in_splits": list(splits)}
        start += len(group.names)


def _label_file_index(label_of_image: list[str | None], paired: list[str], unique_labels: list[str],
                      orphans: list[str], first: int) -> np.ndarray:
    """``Images.src_file`` of the images, then of the orphans: the index in ``files`` of each
    one's label file (-1 none), where the label files follow the ``first`` config files."""
    if len(unique_labels) == len(paired) + len(orphans):  # no label file serves two images: in order
        has_label = np.fromiter((p is not None for p in label_of_image), bool, len(label_of_image))
        images = np.where(has_label, np.cumsum(has_label) - 1 + first, -1)
        return np.concatenate([images, first + len(paired) + np.arange(len(orphans))]).astype(np.int32)
    index = {p: first + i for i, p in enumerate(unique_labels)}
    return np.array([index[p] if p is not None else -1 for p in label_of_image] + [index[p] for p in orphans],
                    np.int32)


def _paired_rows(images: Images, label_rows: RowTable, first_label_file: int) -> tuple[np.ndarray, np.ndarray, Rows]:
    """One parse unit per (image, label file) pair: a label shared by two entries counts for
    both. Returns the image and the file of each pair, and the rows of the pairs in order."""
    pair_image = np.flatnonzero(images.src_file >= 0)
    pair_file = images.src_file[pair_image].astype(np.int64)
    pair_label = pair_file - first_label_file
    same_order = len(pair_label) == len(label_rows.counts) and np.array_equal(pair_label, np.arange(len(pair_label)))
    return pair_image, pair_file, rows_of(label_rows if same_order else label_rows.take(pair_label))


def malformed_findings(rows: Rows, pair_image: np.ndarray, pair_file: np.ndarray, images: Images,
                       files: list[str]) -> list[Finding]:
    """The F006 of every malformed line, located at its label file, line and image."""
    return [Finding("F006", reason, file=files[pair_file[pair]], line=line, annotation=str(line),
                    image=images.file_name[int(pair_image[pair])]) for pair, line, reason in rows.malformed]


def _probe_sizes(images: Images, image_paths: list[str], exists: list[bool], options: ReadOptions,
                 store: dict[str, np.ndarray], root: str) -> tuple[dict[str, np.ndarray], bool]:
    """Measured (after EXIF orientation) width/height of every present image (0 where unknown).

    With a parse cache, only images whose (size, mtime) changed are probed; returns the arrays
    to store and whether anything changed.
    """
    if not options.probe_images or not image_paths:
        return {}, False
    present = [i for i, e in enumerate(exists) if e]
    probe = [image_paths[i] for i in present]
    memo = options.headers
    boundary = options.boundary(root)

    def measure(which: list[int]) -> np.ndarray:
        sizes = fileio.batch_map(lambda part: [header_size(p, memo, boundary) for p in part], [probe[i] for i in which],
                                 options.workers, desc="image headers", progress=options.progress)
        return np.array([s if s else (0, 0) for s in sizes], np.int64).reshape(len(which), 2)

    measured, stored, changed = options.cache.values(store or {}, "sizes_", probe, measure, 2)
    width = np.zeros(len(image_paths), np.int64)
    height = np.zeros(len(image_paths), np.int64)
    width[present], height[present] = measured[:, 0], measured[:, 1]
    n = len(image_paths)
    images.width[:n] = width
    images.height[:n] = height
    return stored, changed


def reprobe_sizes(images: Images, rows: np.ndarray, root: str, options: ReadOptions) -> None:
    """The header sizes of a few images, measured again: an image replaced in place (same
    name) changes no folder, and YOLO boxes are scaled by its size."""
    if not options.probe_images:
        return
    for row in rows.tolist():
        if images.path[row]:
            size = header_size(os.path.join(root, images.path[row]), options.headers, options.boundary(root))
            images.width[row], images.height[row] = size if size else (0, 0)


def _categories(layout: Layout, rows: Rows, files: list[str]) -> tuple[Categories, bool]:
    """The declared class list, else ``0..max index`` (and True: inferred)."""
    if layout.names is not None:
        src = files.index(layout.names_file) if layout.names_file in files else -1
        return Categories.build(layout.names, src_file=src, lines=layout.names_lines), False
    top = int(rows.class_value.max()) + 1 if len(rows.class_value) else 0
    return Categories.build([str(i) for i in range(top)]), True


def annotations_of(rows: Rows, images: Images, image_index: np.ndarray, file_index: np.ndarray,
                   n_classes: int) -> Annotations:
    """The annotations table of ``rows``: pixel boxes where the image size is known."""
    n = len(rows.line)
    ann = Annotations.empty(n)
    ann.image = image_index.astype(np.int32)
    ann.class_id = rows.class_value
    ann.category = np.where((rows.class_value >= 0) & (rows.class_value < n_classes),
                            rows.class_value, -1).astype(np.int32)
    ann.raw = rows.raw
    ann.kind = rows.kind
    ann.segmentation = rows.segmentation
    width = images.width[image_index].astype(np.float64) if n else np.zeros(0)
    height = images.height[image_index].astype(np.float64) if n else np.zeros(0)
    known = (width > 0) & (height > 0)
    scale = np.stack([width, height, width, height], axis=1) if n else np.zeros((0, 4))
    with np.errstate(over="ignore", invalid="ignore"):  # huge values overflow to inf: B004's finding
        ann.boxes = np.where(known[:, None], rows.norm_xyxy * scale, rows.norm_xyxy)
    ann.normalized = ~known
    ann.src_file = file_index.astype(np.int32)
    ann.src_line = rows.line.astype(np.int32)
    ann.src_item = rows.line.astype(np.int32)
    return ann
