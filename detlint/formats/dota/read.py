"""Reading DOTA: every label line ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult`` (pixels, corners
in the order written) becomes a kind-3 row; ``imagesource:``/``gsd:`` header lines are kept on
the image (``extra``) for the round trip. A line that is none of these is F006 at file:line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError
from detlint.findings import Finding
from detlint.formats.dota.layout import Split, discover
from detlint.formats.protocol import ReadOptions
from detlint.geometry.obb import enclosing_boxes
from detlint.headers import header_size
from detlint.model import Annotations, Categories, Dataset, Images

NAME = "dota"
HEADERS = ("imagesource", "gsd")
OBB_META = {"order": "as-written", "angle": "none (corners)", "convention": "DOTA: clockwise from the top-left"}


def read(path: Path, options: ReadOptions) -> Dataset:
    """Read the DOTA dataset at ``path`` (its root folder)."""
    root = Path(path)
    boundary = options.boundary(root)
    problems: list[Finding] = []
    splits = discover(root, boundary, problems)
    if not any(s.labels for s in splits):
        raise NotADatasetError(f"{path}: no DOTA labelTxt/*.txt files found")
    files: list[str] = []
    entries: list[tuple[str, str, str, int]] = []  # split, file name, image path, label file
    texts: list[str] = []
    for split in splits:
        _entries(root, split, boundary, options, files, entries, texts, problems)
    images = _images(entries, root, options)
    rows = [_parse(text, i, files[entries[i][3]] if entries[i][3] >= 0 else "", entries[i][1], images, problems)
            for i, text in enumerate(texts)]
    categories = Categories.build(options.classes or sorted({name for r in rows for name in r[2]}))
    annotations = _annotations(rows, entries, categories, images)
    return Dataset(format=NAME, root=root, categories=categories, images=images, annotations=annotations,
                   files=files, problems=problems, meta={"obb": dict(OBB_META)},
                   image_folders=sorted({e[2].rpartition("/")[0] for e in entries if e[2]}))


def _entries(root: Path, split: Split, boundary, options: ReadOptions, files: list[str],
             entries: list[tuple[str, str, str, int]], texts: list[str], problems: list[Finding]) -> None:
    """One image entry per label file (its image looked up by stem; I006 without one), then one
    per image without a label file (a negative: DOTA's test split has no labels)."""
    labelled = set()
    for label in split.labels:
        stem = label.rpartition("/")[2][:-4]
        data = fileio.read_bytes(str(root / label), boundary, boundary.limits.label_bytes)
        index = len(files)
        files.append(label)
        if isinstance(data, Finding):
            data.file = label
            problems.append(data)
            data = b""
        image = split.images.get(stem, "")
        if not image:
            problems.append(Finding("I006", f"label file {label} has no image", file=label))
        labelled.add(stem)
        name = image or f"{label.rpartition('/')[0].rpartition('/')[0]}/images/{stem}".lstrip("/")
        entries.append((split.name, name, image, index))
        texts.append(data.decode("utf-8", "replace"))
    for stem, image in sorted(split.images.items()):
        if stem not in labelled:
            entries.append((split.name, image, image, -1))
            texts.append("")


def _images(entries: list[tuple[str, str, str, int]], root: Path, options: ReadOptions) -> Images:
    images = Images.empty(len(entries))
    images.split[:] = [e[0] for e in entries]
    images.file_name[:] = [e[1] for e in entries]
    images.path[:] = [e[2] for e in entries]
    images.src_file[:] = [e[3] for e in entries]
    if options.probe_images:
        boundary = options.boundary(root)
        paths = [str(root / e[2]) if e[2] else "" for e in entries]
        sizes = fileio.batch_map(lambda part: [header_size(p, options.headers, boundary) if p else None for p in part],
                                 paths, options.workers, desc="image headers", progress=options.progress)
        images.width[:] = [s[0] if s else 0 for s in sizes]
        images.height[:] = [s[1] if s else 0 for s in sizes]
    return images


def _parse(text: str, image: int, file: str, image_name: str, images: Images,
           problems: list[Finding]) -> tuple[list[int], list[list[str]], list[str], list[int]]:
    """(lines, the 8 coordinate tokens, class names, difficult flags) of one label file's
    object lines; header lines go to the image's ``extra``, anything else is F006."""
    lines, coords, names, difficult = [], [], [], []
    header: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() in HEADERS and len(tokens) <= 2:
            header[key.strip()] = value.strip()
            continue
        reason = _malformed(tokens)
        if reason:
            problems.append(Finding("F006", f"{reason}: {line.strip()[:200]!r}", file=file, line=number,
                                    annotation=str(number), image=image_name))
            continue
        lines.append(number)
        coords.append(tokens[:8])
        names.append(tokens[8])
        difficult.append(int(tokens[9]) if len(tokens) == 10 else -1)
    if header:
        images.extra[image] = {"dota_header": header}
    return lines, coords, names, difficult


def _malformed(tokens: list[str]) -> str | None:
    if len(tokens) not in (9, 10):
        return (f"expected 'x1 y1 x2 y2 x3 y3 x4 y4 category difficult' (DOTA: 10 values, 9 without "
                f"difficult), got {len(tokens)}")
    for token in tokens[:8]:
        try:
            float(token)
        except ValueError:
            return f"non-numeric coordinate {token!r}"
    if len(tokens) == 10 and tokens[9] not in ("0", "1"):
        return f"difficult must be 0 or 1, got {tokens[9]!r}"
    return None


def _annotations(rows: list, entries: list[tuple[str, str, str, int]], categories: Categories,
                 images: Images) -> Annotations:
    counts = [len(r[0]) for r in rows]
    ann = Annotations.empty(sum(counts))
    if not len(ann):
        return ann
    flat = [token for r in rows for c in r[1] for token in c]
    corners = np.fromiter(map(float, flat), np.float64, len(flat)).reshape(-1, 8)
    index = {name: i for i, name in enumerate(categories.names)}
    names = [name for r in rows for name in r[2]]
    ann.image = np.repeat(np.arange(len(rows), dtype=np.int32), counts)
    ann.category = np.fromiter((index.get(n, -1) for n in names), np.int32, len(names))
    ann.class_id = ann.category.astype(np.int64)
    ann.kind[:] = Annotations.KIND_OBB
    ann.boxes = enclosing_boxes(corners)
    ann.raw = ann.boxes.copy()
    for i, row in enumerate(corners.tolist()):
        ann.segmentation[i] = row
    ann.difficult = np.fromiter((d for r in rows for d in r[3]), np.int8, len(ann))
    ann.extra[:] = [{"name": n} if index.get(n, -1) < 0 else None for n in names]
    file_of_image = np.array([e[3] for e in entries], np.int32)
    ann.src_file = file_of_image[ann.image]
    ann.src_line = np.fromiter((line for r in rows for line in r[0]), np.int32, len(ann))
    ann.src_item = ann.src_line.copy()
    return ann
