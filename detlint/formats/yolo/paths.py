"""Names and path strings: the format's name, the class-list file names, which ``.txt`` files can
be labels, and the string helpers that relate image, label and root paths.

Paths of images and labels are plain strings on the hot path, built by concatenating a folder
prefix and a name: pathlib costs ~10 us per operation and os.path ~1 us, which is seconds on
118k images.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint import fileio

NAME = "yolo"

# Files that hold the class list, in the order a folder is searched for one.
NAMES_FILES = ("obj.names", "classes.txt", "classes.names", "names.txt")
# Every file that declares the classes (or the layout) of a whole YOLO dataset.
CLASS_MAP_NAMES = frozenset({*NAMES_FILES, "obj.data"})

SPLIT_KEYS = ("train", "val", "test")
SPLIT_ALIASES = {"val": ("val", "valid", "validation"), "valid": ("valid", "val", "validation"),
                 "train": ("train",), "test": ("test",)}
NOT_LABEL_NAMES = frozenset({"classes.txt", "train.txt", "val.txt", "valid.txt", "test.txt",
                             "labels.txt", "license.txt", "names.txt", "notes.txt"})
DARKNET_SPLIT_DIR = re.compile(r"^obj_(\w+?)_data$")
NAMES_KEY = re.compile(r"^names\s*:", re.MULTILINE)  # a data.yaml declares its classes


def is_label_name(name: str) -> bool:
    """Whether a file name can be a label: README/classes/list ``.txt`` files never are."""
    lower = name.lower()
    return (lower.endswith(".txt") and lower not in NOT_LABEL_NAMES
            and not lower.startswith("readme") and not lower.startswith("license"))


def swap_component(path: str, old: str, new: str, skip_last: bool = False) -> str | None:
    """``path`` with its last ``old`` folder component replaced by ``new`` (None if none)."""
    parts = path.split(os.sep)
    last = len(parts) - (2 if skip_last else 1)
    for i in range(last, -1, -1):
        if parts[i] == old:
            parts[i] = new
            return os.sep.join(parts)
    return None


def labels_counterpart(path: Path | str) -> str | None:
    """The ``labels`` folder of an ``images`` path (ultralytics: the last ``images`` component)."""
    return swap_component(str(path), "images", "labels")


def rel(path: str, root: str) -> str:
    """``path`` relative to ``root`` (POSIX), fast for the common case of a path under it."""
    if path.startswith(root + os.sep) and f"{os.sep}.." not in path:
        return path[len(root) + 1:].replace(os.sep, "/")
    return fileio.relpath(Path(os.path.normpath(path)), Path(root))


def rels(paths: list[str], root: str) -> list[str]:
    """:func:`rel` of many paths: one slice each for those under ``root`` (no call per path)."""
    prefix = root + os.sep
    start = len(prefix)
    if os.sep == "/":
        return [p[start:] if p.startswith(prefix) and "/.." not in p else rel(p, root) for p in paths]
    return [p[start:].replace(os.sep, "/") if p.startswith(prefix) and "\\.." not in p else rel(p, root)
            for p in paths]


def split_of(rel_parts: tuple[str, ...]) -> str:
    """Split implied by a path: images/<split>/x, <split>/images/x, obj_<split>_data/x."""
    if len(rel_parts) > 2 and rel_parts[0] in ("images", "labels"):
        return rel_parts[1]
    if len(rel_parts) > 2 and rel_parts[1] in ("images", "labels"):
        return rel_parts[0]
    if len(rel_parts) > 1:
        match = DARKNET_SPLIT_DIR.match(rel_parts[0])
        if match:
            return match.group(1)
    return ""
