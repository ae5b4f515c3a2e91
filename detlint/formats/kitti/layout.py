"""Where a KITTI dataset's labels and images are: ``training/``, ``testing/`` or the root, each
with ``label_2/`` and ``image_2/``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from detlint.boundary import Boundary
from detlint.fileio import is_image
from detlint.formats.foreign import HEAD_BYTES, kitti_head

LABELS = "label_2"
IMAGES = "image_2"
SPLIT_FOLDERS = (("training", "train"), ("testing", "test"), ("", ""))
SNIFF_SAMPLES = 3


@dataclass
class Part:
    """One split's folders (relative to the root, POSIX) and the files in them, by stem."""

    split: str
    folder: str
    labels: dict[str, str] = field(default_factory=dict)  # stem -> label file name
    images: dict[str, str] = field(default_factory=dict)  # stem -> image file name


def root_of(path: Path) -> Path:
    """The dataset root of ``path``: a folder is its own (``training/`` alone reads as one
    unsplit part; findings are shown under the folder given); a label file's is the folder
    above its ``label_2/`` and, in the devkit layout, above ``training/``/``testing/``."""
    path = Path(path)
    if not path.is_file():
        return path
    path = path.parent
    if path.name in (LABELS, IMAGES):
        path = path.parent
        if path.name in ("training", "testing"):
            path = path.parent
    return path


def _names(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:  # symlinks listed as names: the boundary judges them
            return sorted(e.name for e in entries if not e.name.startswith(".") and not e.is_dir())
    except OSError:
        return []


def parts(root: Path) -> list[Part]:
    """Every split folder with a ``label_2/`` or ``image_2/`` (the root's only when no
    ``training/``/``testing/`` has one)."""
    found = []
    for folder, split in SPLIT_FOLDERS:
        if folder == "" and found:
            break
        base = root / folder if folder else root
        if not ((base / LABELS).is_dir() or (base / IMAGES).is_dir()):
            continue
        part = Part(split, folder)
        part.labels = {os.path.splitext(n)[0]: n for n in _names(base / LABELS) if n.lower().endswith(".txt")}
        part.images = {os.path.splitext(n)[0]: n for n in _names(base / IMAGES) if is_image(n)}
        found.append(part)
    return found


def sniff(path: Path) -> int:
    """3 when the first label files are KITTI lines; 2 for the devkit's folders (``label_2/``,
    ``image_2/``) with files but no KITTI line sampled (empty labels, broken lines); else 0."""
    root = root_of(path)
    if not root.is_dir():
        return 0
    found = parts(root)
    boundary = Boundary(root)
    for part in found:
        base = root / part.folder / LABELS if part.folder else root / LABELS
        for name in list(part.labels.values())[:SNIFF_SAMPLES]:
            head = boundary.head(os.fspath(base / name), HEAD_BYTES)
            if isinstance(head, bytes) and kitti_head(head.decode("utf-8", errors="replace")):
                return 3
    return 2 if any(p.labels or p.images for p in found) else 0
