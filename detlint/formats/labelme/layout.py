"""Which files make a labelme dataset, which split each is in, and how surely a path is one.

A labelme dataset is one JSON per image (``{"shapes": [...], "imagePath": ...}``), usually
beside its image, in one folder or in split subfolders (``train/``, ``val/``, ``test/``). Every
``.json`` under the root is read (hidden folders skipped, folder links not followed); a JSON that
is not a labelme document is F002 at its root, one that does not parse F001.
"""

from __future__ import annotations

import os
from pathlib import Path

from detlint.boundary import Boundary
from detlint.formats import foreign

NAME = "labelme"
SNIFF_BYTES = 64 * 1024
# top folders that name a split; any other folder (``images/``, ``ann/``) is part of the path
SPLIT_WORDS = frozenset({"train", "training", "val", "valid", "validation", "test", "testing", "dev"})


def looks_like_labelme(head: bytes) -> bool:
    """A JSON object whose first bytes name both ``"shapes"`` and ``"imagePath"``."""
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return stripped.startswith(b"{") and b'"shapes"' in head and b'"imagePath"' in head


def looks_like_file(path: Path, boundary: Boundary | None = None) -> bool:
    """Whether the one file ``path`` (inside ``boundary``, else its folder) is a labelme JSON."""
    boundary = boundary or Boundary(Path(path).parent)
    head = boundary.head(os.fspath(path), SNIFF_BYTES)
    return isinstance(head, bytes) and looks_like_labelme(head)


def sniff(path: Path) -> int:
    """3 for a labelme JSON, or a folder where one of the first sampled ``.json`` files is one
    (a bounded look: ``foreign.first_files``); else 0."""
    path = Path(path)
    if path.is_file():
        return 3 if path.suffix.lower() == ".json" and looks_like_file(path) else 0
    if not path.is_dir():
        return 0
    boundary = Boundary(path)
    return 3 if any(looks_like_file(Path(f), boundary) for f in foreign.first_files(path, ".json")) else 0


def json_files(root: Path) -> list[str]:
    """Every ``.json`` under ``root`` (absolute paths, sorted; hidden folders skipped, folder
    links not followed: a linked folder could lead out of the root)."""
    found: list[str] = []
    for folder, dirs, files in os.walk(os.fspath(root)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(folder, name) for name in files
                  if name.lower().endswith(".json") and not name.startswith(".")]
    return sorted(found)


def split_of(relpath: str) -> str:
    """The split a JSON at ``relpath`` (POSIX, relative to the root) is in: its top folder when
    that names a split (``train/a.json`` -> train), else ``""``."""
    top, sep, _ = relpath.partition("/")
    return top if sep and top.lower() in SPLIT_WORDS else ""
