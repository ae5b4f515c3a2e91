"""Where a DOTA dataset's files are: ``labelTxt/`` beside ``images/``, at the root (one unsplit
set) or in split folders (``train/``, ``val/``, any name). The official downloads nest the labels
one level deeper (``train/labelTxt-v1.5/labelTxt/``, ``labelTxt-v2.0/DOTA-v2.0_train/``): a ``labelTxt*``
folder is read directly when it holds ``.txt`` files, else through its one subfolder. Every folder and label
file is checked against the dataset's :class:`~detlint.boundary.Boundary` (a link out is F008)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from detlint.boundary import Boundary
from detlint.fileio import is_image
from detlint.findings import Finding

LABELS = "labelTxt"
IMAGES = "images"
SPLIT_NAME = re.compile(r"(train|val|valid|validation|test|trainval)(\b|_|-|$)", re.IGNORECASE)


@dataclass
class Split:
    """One split's label files and image files (paths relative to the dataset root, POSIX)."""

    name: str
    labels: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # image stem -> path


def _names(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _inner_folder(path: Path) -> bool:
    """A real folder inside its parent: a symbolic link is never followed while looking for the
    layout (a linked ``labelTxt`` reached through ``discover`` is an F008 there)."""
    return path.is_dir() and not path.is_symlink()


def label_folder(folder: Path) -> Path | None:
    """The folder of a split's label files under ``folder``, if it has one."""
    if (folder / LABELS).is_dir():
        return folder / LABELS
    for name in _names(folder):
        if not name.startswith(LABELS) or not _inner_folder(folder / name):
            continue
        inner = _names(folder / name)
        if any(entry.lower().endswith(".txt") for entry in inner):
            return folder / name  # labelTxt-v1.5/*.txt
        subfolders = [entry for entry in inner if _inner_folder(folder / name / entry)]
        if len(subfolders) == 1:
            return folder / name / subfolders[0]  # labelTxt-v1.5/labelTxt, labelTxt-v2.0/DOTA-v2.0_train
    return None


def labels_of(path: Path) -> Path | None:
    """The ``labelTxt*`` folder a label file lies in (directly or one folder down), if any."""
    if path.suffix.lower() != ".txt":
        return None
    for folder in (path.parent, path.parent.parent):
        if folder.name.startswith(LABELS):
            return folder
    return None


def split_folders(root: Path) -> list[tuple[str, Path]]:
    """The (split name, folder) of each set: the root itself, else its subfolders with labels."""
    if label_folder(root) is not None:
        return [("", root)]
    return [(name, root / name) for name in _names(root)
            if _inner_folder(root / name) and label_folder(root / name) is not None]


def discover(root: Path, boundary: Boundary, problems: list[Finding]) -> list[Split]:
    """The splits of the dataset at ``root`` with their files; a folder or file leading out of
    the root is an F008 and left out."""
    splits = []
    for name, folder in split_folders(root):
        labels = label_folder(folder)
        if labels is None or not _inside(labels, root, boundary, problems):
            continue
        split = Split(name)
        for entry in _names(labels):
            path = labels / entry
            if entry.lower().endswith(".txt") and _inside(path, root, boundary, problems):
                split.labels.append(_rel(path, root))
        images = folder / IMAGES
        if images.is_dir() and _inside(images, root, boundary, problems):
            for entry in _names(images):
                if is_image(entry) and boundary.contains(images / entry):
                    split.images.setdefault(os.path.splitext(entry)[0], _rel(images / entry, root))
        splits.append(split)
    return splits


def _inside(path: Path, root: Path, boundary: Boundary, problems: list[Finding]) -> bool:
    if boundary.contains(path):
        return True
    problems.append(Finding("F008", f"{_rel(path, root)} leads outside the dataset root (a link); not read",
                            file=_rel(path, root)))
    return False


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def sniff(path: Path) -> int:
    """80 for a folder with DOTA label files whose first object line has 8 numbers, a class and
    an optional difficulty; 0 otherwise."""
    if not path.is_dir():
        return 0
    boundary = Boundary(path)
    for _, folder in split_folders(path)[:4]:
        labels = label_folder(folder)
        for entry in _names(labels)[:20] if labels else []:
            if entry.lower().endswith(".txt") and _looks_like_dota(labels / entry, boundary):
                return 80
    return 0


def _looks_like_dota(path: Path, boundary: Boundary) -> bool:
    data = boundary.head(os.fspath(path), 4096)
    if not isinstance(data, bytes):
        return False
    head = data.decode("utf-8", "replace")
    for line in head.splitlines()[:10]:
        tokens = line.split()
        if not tokens or line.startswith(("imagesource:", "gsd:")):
            continue
        return len(tokens) in (9, 10) and all(_number(t) for t in tokens[:8]) and not _number(tokens[8])
    return False


def _number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False
