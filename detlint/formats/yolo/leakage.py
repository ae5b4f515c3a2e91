"""One image row per file across splits: an image the description puts in two splits (``val:``
naming ``train:``'s folder, overlapping folders, two list files naming one image, a list entry
and a folder reaching one file) stays in the first split that reaches it; the other splits go
to its ``also_in_splits`` and each such image is an S001 at the description line that adds it
again.

Images are keyed by their folder's real path (one ``realpath`` per folder, not per image) and
their name: one dict lookup per image, only when the layout has two splits or more.
"""

from __future__ import annotations

import os

from detlint.findings import Finding
from detlint.formats.yolo.layout import ImageGroup, Layout
from detlint.formats.yolo.paths import rel


def separate_splits(layout: Layout) -> None:
    """Drop every image a later split reaches again, record that split on the kept row and add
    an S001 per leaked image to ``layout.problems``."""
    if len({group.split for group in layout.images}) < 2:
        return
    first: dict[str, tuple[ImageGroup, int]] = {}
    dropped: dict[int, list[int]] = {}
    root = str(layout.root)
    for number, group in enumerate(layout.images):
        prefix = os.path.join(_real(group.folder), "")
        for index, name in enumerate(group.names):
            kept = first.setdefault(prefix + name, (group, index))
            if kept[0].split == group.split:
                continue  # the first sight, or the same split twice: no leakage
            splits = kept[0].also_in_splits.setdefault(kept[1], [])
            if group.split not in splits:
                splits.append(group.split)
            dropped.setdefault(number, []).append(index)
            layout.problems.append(_leak(kept, (group, index), rel(kept[0].prefix + kept[0].names[kept[1]], root)))
    for number, indices in dropped.items():
        _drop(layout.images[number], indices)
    layout.images = [group for group in layout.images if group.names]


def _real(folder: str) -> str:
    """``folder``'s real path; as written where it has none (a NUL byte in a listed path)."""
    try:
        return os.path.realpath(folder)
    except (OSError, ValueError):
        return os.path.normpath(folder)


def _leak(kept: tuple[ImageGroup, int], again: tuple[ImageGroup, int], image: str) -> Finding:
    """The S001 of ``image``, first reached at ``kept`` and again at ``again`` (group, index)."""
    first_file, first_line = _where(*kept)
    file, line = _where(*again)
    first_split, split = kept[0].split or "(unsplit)", again[0].split or "(unsplit)"
    return Finding("S001", f"image {image!r} is in split {first_split!r} ({_shown(first_file, first_line)}) and "
                           f"in split {split!r} ({_shown(file, line)}): evaluating on a training image "
                           f"measures memory, not generalisation; remove it from one split",
                   file=file or None, line=line or None, image=image)


def _where(group: ImageGroup, index: int) -> tuple[str, int]:
    """The description file and line that put image ``index`` of ``group`` in its split."""
    file, line = group.source
    return file, group.lines[index] if group.lines is not None else line


def _shown(file: str, line: int) -> str:
    return f"{file}:{line}" if line else file or "its folder"


def _drop(group: ImageGroup, indices: list[int]) -> None:
    """``group`` without the names at ``indices`` (its ``lines`` and ``also_in_splits`` kept in step)."""
    gone = set(indices)
    keep = [i for i in range(len(group.names)) if i not in gone]
    renumbered = {old: new for new, old in enumerate(keep)}
    group.names = [group.names[i] for i in keep]
    if group.lines is not None:
        group.lines = [group.lines[i] for i in keep]
    group.also_in_splits = {renumbered[i]: splits for i, splits in group.also_in_splits.items() if i in renumbered}
