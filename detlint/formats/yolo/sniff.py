"""Sniffing: how sure the reader is that a folder or file is a YOLO dataset."""

from __future__ import annotations

import os
from pathlib import Path

from detlint import fileio
from detlint.boundary import MIB, Boundary
from detlint.formats import foreign
from detlint.formats.yolo.discover import YAML_SUFFIXES, find_darknet, find_yaml
from detlint.formats.yolo.parse import is_number
from detlint.formats.yolo.paths import NAMES_KEY, is_label_name

SNIFF_LIMIT = 2000  # folder entries looked at for a label beside an image
SNIFF_TEXT_BYTES = 16 * MIB  # a config or label file larger than this is not sniffed


def sniff(path: Path) -> int:
    """How sure we are that ``path`` is a YOLO dataset (0: not YOLO)."""
    path = Path(path)
    try:
        if path.is_file():
            return _sniff_file(path)
        if not path.is_dir():
            return 0
        if find_yaml(path) is not None or find_darknet(path) is not None:
            return 90
        if (path / "images").is_dir() and (path / "labels").is_dir():
            return 0 if _kitti_labels(path / "labels") else 70
        return 40 if _has_label_beside_image(path) else 0
    except OSError:
        return 0


def _sniff_file(path: Path) -> int:
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        text, _, _ = fileio.read_text(path, Boundary(path.parent), SNIFF_TEXT_BYTES)
        return 90 if text and NAMES_KEY.search(text) else 0
    if suffix == ".data":
        return 90
    if suffix == ".txt" and is_label_name(path.name):
        return 50 if _looks_like_label(path) else 0
    return 0


def _looks_like_label(path: Path) -> bool:
    text, _, _ = fileio.read_text(path, Boundary(path.parent), SNIFF_TEXT_BYTES)
    if text is None:
        return False
    lines = [line.split() for line in text.splitlines()[:20] if line.strip()]
    return bool(lines) and all((len(t) == 5 or (len(t) >= 7 and len(t) % 2 == 1))
                               and all(is_number(x) for x in t) for t in lines)


def _kitti_labels(labels: Path) -> bool:
    """Whether the first label files under ``labels/`` are all KITTI's (a class name, then 14 or
    15 numbers): an images/labels layout without a data.yaml that another tool wrote. A YOLO
    line starts with a class index, so a YOLO set, broken lines and all, stays YOLO."""
    boundary = Boundary(labels)
    texts = []
    for file in foreign.first_files(labels, ".txt"):
        head = boundary.head(file, foreign.HEAD_BYTES)
        if isinstance(head, bytes) and head.strip():
            texts.append(head.decode("utf-8", errors="replace"))
    return bool(texts) and all(foreign.kitti_head(text) for text in texts)


def _has_label_beside_image(root: Path, limit: int = SNIFF_LIMIT) -> bool:
    """A .txt label with box rows next to an image of the same stem, among the first ``limit``
    entries (folders top-down): a 100k-image folder is not listed to the end."""
    seen = 0
    folders = [os.fspath(root)]
    while folders and seen <= limit:
        folder = folders.pop(0)
        names: list[str] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        break
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith("."):
                            folders.append(entry.path)
                    else:
                        names.append(entry.name)
        except OSError:
            continue
        stems = {os.path.splitext(n)[0] for n in names if fileio.is_image(n)}
        for name in names:
            if is_label_name(name) and os.path.splitext(name)[0] in stems:
                return _looks_like_label(Path(folder) / name)
    return False
