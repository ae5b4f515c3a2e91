"""Where a YOLO dataset begins, for files passed one by one (pre-commit), and which of its files
describe the whole dataset.

A ``*.yaml`` with a ``names:`` key or a darknet ``*.data`` describes a dataset (a strong root
mark); a ``labels/`` folder's parent, a folder holding both ``images/`` and ``labels/``, or a
folder with a class-names file is a weaker mark; a label file beside its image is its own root
when nothing marks one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint.fileio import is_image
from detlint.formats.protocol import RootMark
from detlint.formats.yolo.discover import has_names_key
from detlint.formats.yolo.paths import CLASS_MAP_NAMES

DESCRIPTION_SUFFIXES = (".yaml", ".yml", ".data")
_MARKER_NAME = re.compile(r"^[^.\n][^\n]*\.(?:data|ya?ml)$|^\.(?:[^\n]*\.)?data$", re.IGNORECASE | re.MULTILINE)


def root_mark(directory: Path, names: frozenset[str]) -> RootMark | None:
    # one regular expression over the joined listing: a labels folder has 100k+ entries
    for entry in _MARKER_NAME.findall("\n".join(names)):
        if entry.lower().endswith(".data"):
            if os.path.isfile(directory / entry):
                return RootMark(directory, strong=True)
        elif has_names_key(str(directory / entry)):
            return RootMark(directory, strong=True)
    if directory.name == "labels":
        return RootMark(directory.parent, strong=False)
    if ("images" in names and "labels" in names) or not CLASS_MAP_NAMES.isdisjoint(names):
        return RootMark(directory, strong=False)
    return None


def marker_names(names: frozenset[str]) -> set[str]:
    return ({"images", "labels", *CLASS_MAP_NAMES} & names) | set(_MARKER_NAME.findall("\n".join(names)))


def loose_root(path: Path) -> Path | None:
    """A label file beside its image is read with its folder."""
    if path.suffix.lower() != ".txt":
        return None
    stem = path.stem
    try:
        beside = os.listdir(path.parent)
    except OSError:
        return None
    return path.parent if any(os.path.splitext(n)[0] == stem and is_image(n) for n in beside) else None


def is_dataset_level_file(name: str) -> bool:
    lower = name.lower()
    return lower in CLASS_MAP_NAMES or lower.endswith(DESCRIPTION_SUFFIXES)


def class_list_file(files: list[str]) -> str | None:
    """The first of ``files`` that declares the class list (a YAML description or a class-names
    file), by substring searches over all names at once (a dataset lists 100k+ label files)."""
    joined = "\n" + "\n".join(files) + "\n"
    best: int | None = None
    needles = [(s, False) for s in (".yaml", ".yml")] + [(n, True) for n in sorted(CLASS_MAP_NAMES)]
    for needle, whole_name in needles:
        at = joined.find(needle + "\n")
        while at >= 0 and (best is None or at < best):
            start = joined.rfind("\n", 0, at) + 1
            if not whole_name or at == start or joined[at - 1] == "/":
                best = start if best is None else min(best, start)
                break
            at = joined.find(needle + "\n", at + 1)
    if best is None:
        return None
    return joined[best:joined.index("\n", best)]
