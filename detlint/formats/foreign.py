"""What a folder that no registered format reads looks like: the "(looks like KITTI ...)" of the
one-line "not a dataset" error, so a user with a KITTI, CVAT or CSV export learns what
they have instead of "no annotation files found" (or a screen of F006 for every KITTI line).

A quick look, bounded like sniffing: the first ``LOOK_LIMIT`` entries of the folder (top-down),
the first ``HEAD_BYTES`` of at most ``SAMPLES`` files of each kind, each opened through a
``Boundary`` of the folder looked at. The guesses are deliberately specific (a KITTI line is a
class name then 14 or 15 numbers, which no YOLO line is: YOLO starts with a class index), so a
real dataset of a registered format with broken files is never taken for a foreign one.

KITTI in its devkit layout (``label_2/`` + ``image_2/``) and Open Images box CSVs are read by
their own formats (``formats/kitti``, ``formats/openimages``, which reuse :func:`kitti_head`);
what is left here is KITTI lines in other folders (``labels/``), and CSVs of other tools.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from detlint.boundary import Boundary

LOOK_LIMIT = 2000  # folder entries looked at
SAMPLES = 5  # files of one kind read
HEAD_BYTES = 64 * 1024
KITTI_FIELDS = (15, 16)  # type, truncated, occluded, alpha, 4 box, 3 dimensions, 3 location, rotation_y[, score]
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_CVAT = re.compile(r"<annotations>\s*<version>")
_BOX_COLUMNS = ("xmin", "x_min", "xmax", "x1", "left", "bbox")


def kitti_line(line: str) -> bool:
    """A KITTI object label: a class name (not a number), then 14 numbers (15 with a score)."""
    tokens = line.split()
    return (len(tokens) in KITTI_FIELDS and not _NUMBER.fullmatch(tokens[0])
            and all(_NUMBER.fullmatch(t) for t in tokens[1:]))


def kitti_text(text: str) -> bool:
    """Every non-empty line of ``text`` (at least one) is a KITTI label line."""
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(kitti_line(line) for line in lines)


def kitti_head(head: str) -> bool:
    """:func:`kitti_text` of a file's first ``HEAD_BYTES`` (a line cut off at the end left out)."""
    if "\n" in head.rstrip("\n") and not head.endswith("\n"):  # its last line may be cut off
        head = head.rsplit("\n", 1)[0]
    return kitti_text(head)


def _cvat(head: str) -> bool:
    return bool(_CVAT.search(head))


def _csv(head: str) -> bool:
    return "," in head.split("\n", 1)[0]


def _csv_detail(head: str) -> tuple[str, str]:
    header = head.split("\n", 1)[0].strip()
    boxes = any(column in header.lower().replace(" ", "").split(",") for column in _BOX_COLUMNS)
    shown = header if len(header) <= 60 else header[:57] + "..."
    return ("a CSV of boxes" if boxes else "a CSV table"), f"has the columns {shown}"


# (suffix, test of the file's head, the format's name, what the file shows of it)
_KINDS: tuple[tuple[str, Callable[[str], bool], Callable[[str], tuple[str, str]]], ...] = (
    (".txt", kitti_head, lambda _: ("KITTI", "has a class name and 14 numbers per line; detlint reads KITTI "
                                    "from label_2/ and image_2/ folders")),
    # a CVAT XML at the top of a folder is read (detlint.formats.cvat); one found deeper is named
    (".xml", _cvat, lambda _: ("CVAT for images XML", "has an <annotations> root with <version> (check that "
                               "file or its folder: detlint reads CVAT XML)")),
    (".csv", _csv, _csv_detail),
)


def describe(path: Path) -> str | None:
    """``"KITTI: <file> has ..."`` for the first kind of foreign annotation file found at
    ``path`` (a folder or one file), the file shown under ``path`` as given; None when nothing
    is known."""
    path = Path(path)
    root = path.parent if path.is_file() else path
    candidates = [os.fspath(path)] if path.is_file() else list(_files(path))
    boundary = Boundary(root)
    for suffix, test, what in _KINDS:
        sampled = [f for f in candidates if f.lower().endswith(suffix)][:SAMPLES]
        for file in sampled:
            head = boundary.head(file, HEAD_BYTES)
            if not isinstance(head, bytes):
                continue
            text = head.decode("utf-8", errors="replace")
            if test(text):
                name, detail = what(text)
                return f"{name}: {Path(file).as_posix()} {detail}"
    return None


def first_files(root: Path, suffix: str) -> list[str]:
    """The first ``SAMPLES`` files under ``root`` whose name ends with ``suffix``."""
    return list(itertools.islice((f for f in _files(root) if f.lower().endswith(suffix)), SAMPLES))


def _files(root: Path) -> Iterator[str]:
    """Regular files among the first ``LOOK_LIMIT`` entries under ``root``, folders top-down
    (hidden ones skipped, symbolic links not followed)."""
    seen = 0
    folders = [os.fspath(root)]
    while folders and seen < LOOK_LIMIT:
        folder = folders.pop(0)
        try:
            with os.scandir(folder) as entries:  # a 100k-image folder is not listed to the end
                found = sorted(itertools.islice(entries, LOOK_LIMIT - seen), key=lambda e: e.name)
        except OSError:
            continue
        for entry in found:
            seen += 1
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry.path
