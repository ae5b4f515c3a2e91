"""Which files of a folder are Open Images box CSVs, their splits, the class descriptions and
the image folders."""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint.boundary import Boundary

BOX_SUFFIX = "-annotations-bbox.csv"
REQUIRED = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")
_SPLIT = re.compile(r"(?:oidv\d+-)?(.+?)-annotations-bbox\.csv$", re.IGNORECASE)
SUBFOLDERS = ("", "annotations")  # where the CSVs are: the root, or CVAT's annotations/


def root_of(path: Path) -> Path:
    """A folder is its own root (findings are shown under the folder given); a CSV's is its
    folder, or the one above CVAT's ``annotations/``."""
    path = Path(path)
    if not path.is_file():
        return path
    return path.parent.parent if path.parent.name == "annotations" else path.parent


def _listing(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if not e.name.startswith("."))
    except OSError:
        return []


def box_files(root: Path) -> list[str]:
    """The box CSVs (relative to ``root``, POSIX) in the root or ``annotations/``."""
    return [f"{sub}/{n}" if sub else n for sub in SUBFOLDERS
            for n in _listing(root / sub if sub else root) if n.lower().endswith(BOX_SUFFIX)]


def class_file(root: Path, boxes: list[str]) -> str | None:
    """The class descriptions CSV beside the first box CSV (boxable first)."""
    folder = boxes[0].rpartition("/")[0] if boxes else ""
    names = [n for n in _listing(root / folder if folder else root)
             if "class-descriptions" in n.lower() and n.lower().endswith(".csv")]
    names.sort(key=lambda n: ("boxable" not in n.lower(), n))
    return (f"{folder}/{names[0]}" if folder else names[0]) if names else None


def split_of(name: str) -> str:
    match = _SPLIT.match(name.rpartition("/")[2])
    return match.group(1) if match else ""


def image_folders(root: Path, split: str) -> list[str]:
    """Where the images of ``split`` may be (relative, POSIX), in the order looked in."""
    return [f for f in (split, f"images/{split}") if split and (root / f).is_dir()]


def sniff(path: Path) -> int:
    """3 when a box CSV's header has the required columns, else 0."""
    root = root_of(path)
    if not root.is_dir():
        return 0
    boundary = Boundary(root)
    for name in box_files(root)[:3]:
        head = boundary.head(os.fspath(root / name), 4096)
        if isinstance(head, bytes):
            header = head.decode("utf-8", errors="replace").lstrip("\ufeff").split("\n", 1)[0]
            if {"ImageID", "XMin"} <= {c.strip() for c in header.split(",")}:
                return 3
    return 0
