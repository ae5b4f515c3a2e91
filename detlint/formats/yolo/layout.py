"""Where a dataset's images and labels are, before any label is parsed: the :class:`Layout`, and
the ways a layout gains images: a folder of them, a ``.txt`` list of image paths, a class-list
file, or the bare folders of a dataset without a config.

Bare folders: ``images/`` + ``labels/`` (optionally ``images/<split>/``, ``<split>/images/``)
or label files beside the images, with ``classes.txt`` or ``obj.names`` for the class list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detlint import fileio
from detlint.boundary import Boundary
from detlint.findings import Finding
from detlint.formats.yolo.listing import Listing, Walker
from detlint.formats.yolo.paths import (
    NAMES_FILES,
    is_label_name,
    labels_counterpart,
    rel,
    split_of,
)


@dataclass
class ImageGroup:
    """Images of one split in one folder, in order: the unit of pairing (one folder lookup each)."""

    split: str
    folder: str  # the folder as os.path.split gives it for these images
    names: list[str]  # file names within ``folder``
    exists: bool = True  # False: listed in a .txt list but not on disk
    walked: bool = False  # names come from a folder listing (so each has an image extension)
    # where the dataset description puts these images in their split: the file and line of the
    # data.yaml key or obj.data line, or of the list file (``lines``: each name's own line there)
    source: tuple[str, int] = ("", 0)
    lines: list[int] | None = None
    also_in_splits: dict[int, list[str]] = field(default_factory=dict)  # by index in ``names``

    @property
    def prefix(self) -> str:
        return os.path.join(self.folder, "")


@dataclass
class Layout:
    """Where the images and labels of a dataset are, before any label is parsed."""

    root: Path
    kind: str  # "ultralytics" | "darknet" | "folders"
    names: list[str] | None = None
    names_file: str | None = None  # relative path of the file that declared the names
    names_lines: list[int] | None = None
    images: list[ImageGroup] = field(default_factory=list)
    label_pool: set[str] = field(default_factory=set)  # label candidates (for orphans)
    listings: dict[str, Listing] = field(default_factory=dict)  # walked folders by prefix
    problems: list[Finding] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    config_files: list[str] = field(default_factory=list)
    boundary: Boundary = field(default=None)  # type: ignore[assignment]  # what may be opened

    def __post_init__(self) -> None:
        if self.boundary is None:
            self.boundary = Boundary(self.root)

    def read_text(self, path: Path) -> tuple[str | None, Finding | None]:
        """A config or list file's text, read inside the boundary (None and the finding if not)."""
        text, problem, _ = fileio.read_text(path, self.boundary, self.boundary.limits.document_bytes)
        return text, problem

    def outside(self, path: Path | str, what: str, file: str | None = None, line: int | None = None) -> bool:
        """Whether ``path`` (a folder or a file a config names) really lies outside the root; if
        so an F008 says ``what`` was not read."""
        inside = self.boundary.contains_folder(path) if os.path.isdir(path) else self.boundary.contains(path)
        if not inside:
            self.problems.append(Finding("F008", f"{what} is outside the dataset root (after symbolic links); "
                                                 "not read", file=file, line=line))
        return not inside

    def add_listings(self, listings: list[Listing]) -> None:
        for listing in listings:
            self.listings.setdefault(listing.prefix, listing)

    def adopt(self, other: Layout) -> None:
        """Take the images and labels another layout found (a fallback discovery)."""
        self.images, self.label_pool, self.listings = other.images, other.label_pool, other.listings

    def problem(self, finding: Finding | None, file: str) -> None:
        """Keep a reader finding about ``file`` (a failed read's F001; None: nothing to keep)."""
        if finding is not None:
            finding.file = file
            self.problems.append(finding)


# ----------------------------------------------------------------------------------- class lists


def find_names_file(root: Path) -> Path | None:
    for name in NAMES_FILES:
        if (root / name).is_file():
            return root / name
    return None


def load_names_file(layout: Layout, path: Path) -> None:
    """The class list of ``obj.names`` / ``classes.txt``: one name a line (trailing blanks dropped)."""
    text, problem = layout.read_text(path)
    rel_path = fileio.relpath(path, layout.root)
    layout.config_files.append(rel_path)
    if text is None:
        layout.problem(problem, rel_path)
        return
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    layout.names = [line.strip() for line in lines]
    layout.names_file = rel_path
    layout.names_lines = list(range(1, len(lines) + 1))


# ------------------------------------------------------------------------------- image folders


def walked_images(listings: list[Listing], split: str | None, source: tuple[str, int] = ("", 0)) -> list[ImageGroup]:
    return [ImageGroup(split or "", listing.folder, listing.images, walked=True, source=source)
            for listing in listings if listing.images]


def add_image_folder(layout: Layout, split: str, folder: Path, walker: Walker,
                     source: tuple[str, int] = ("", 0)) -> None:
    """The images under ``folder``, and the label candidates beside them and in its ``labels``
    counterpart (each only where it lies inside the root)."""
    if layout.outside(folder, f"{split or 'image'} folder {fileio.relpath(Path(folder), layout.root)!r}"):
        return
    listings = walker.walk(str(folder))
    layout.add_listings(listings)
    layout.images += walked_images(listings, split, source)
    for listing in listings:  # labels beside images
        if listing.images:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)
    counterpart = labels_counterpart(folder)
    if counterpart is not None and os.path.isdir(counterpart) and not layout.outside(
            counterpart, f"labels folder {fileio.relpath(Path(counterpart), layout.root)!r}"):
        label_listings = walker.walk(counterpart)
        layout.add_listings(label_listings)
        for listing in label_listings:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)


def folders(root: Path, layout: Layout, walker: Walker) -> Layout:
    """Bare folders: every image under ``root``, its split from its folder, and the labels."""
    if layout.names is None:
        names_path = find_names_file(root)
        if names_path is not None:
            load_names_file(layout, names_path)
    listings = walker.walk(str(root))
    layout.add_listings(listings)
    root_str = str(root)
    for listing in listings:
        # everything that decides the split or the label pool is a folder component: once per folder
        folder_parts = tuple(rel(listing.prefix + "x", root_str).split("/")[:-1])
        if listing.images:
            layout.images.append(ImageGroup(split_of(folder_parts + ("x",)), listing.folder, listing.images,
                                            walked=True))
        if listing.images or "labels" in folder_parts:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)
    return layout


# ---------------------------------------------------------------------------------- image lists


def add_image_list(layout: Layout, split: str, list_file: Path) -> None:
    """A ``train.txt`` listing image paths (ultralytics or darknet). Entries outside the root are
    F008 and left out: neither they nor their folders are opened."""
    text, problem = layout.read_text(list_file)
    rel_list = fileio.relpath(list_file, layout.root)
    if text is None:
        layout.problem(problem, rel_list)
        return
    layout.config_files.append(rel_list)
    folders_seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            folders_seen.add(_add_listed(layout, split, entry, list_file, (rel_list, number)))
    folders_seen.discard("")
    for folder in folders_seen:
        for candidate in (folder, labels_counterpart(folder)):
            if candidate is not None and os.path.isdir(candidate) and layout.boundary.contains_folder(candidate):
                layout.label_pool.update(os.path.join(candidate, name) for name in sorted(os.listdir(candidate))
                                         if is_label_name(name))


def _add_listed(layout: Layout, split: str, entry: str, list_file: Path, where: tuple[str, int]) -> str:
    """Add the image of one list line (``where``: the list's relative path and the line) to
    ``layout``; returns its folder ("" when it is outside the root, and not added)."""
    rel_list, number = where
    path = resolve_listed(layout.root, list_file, entry)
    if not _inside(path, layout.root) or not layout.boundary.contains(path):
        layout.problems.append(Finding("F008", f"image path {entry!r} is outside the dataset root; not read",
                                       file=rel_list, line=number))
        return ""
    exists = path.is_file()
    if not exists:
        matched = _case_insensitive(path)
        if matched is not None:
            layout.problems.append(Finding(
                "F014", f"image {entry!r} exists only as {matched.name!r} (case differs)",
                file=rel_list, line=number, image=fileio.relpath(matched, layout.root)))
            path, exists = matched, True
    add_listed_image(layout, split, path, exists, where)
    return str(path.parent)


def add_listed_image(layout: Layout, split: str, path: Path, exists: bool, where: tuple[str, int]) -> None:
    """One image a list names (a list file's line, a data.yaml entry) at ``where`` (file, line):
    consecutive images of one folder and split share a group."""
    folder, name = os.path.split(str(path))
    last = layout.images[-1] if layout.images else None
    if last is not None and not last.walked and last.lines is not None and last.source[0] == where[0] \
            and (last.split, last.folder, last.exists) == (split, folder, exists):
        last.names.append(name)
        last.lines.append(where[1])
    else:
        layout.images.append(ImageGroup(split, folder, [name], exists, source=where, lines=[where[1]]))


def resolve_listed(root: Path, list_file: Path, entry: str) -> Path:
    """An image path from a list file: relative to the root, the list's folder, or with a
    darknet ``data/`` prefix meaning the root."""
    path = Path(entry.replace("\\", "/"))
    if path.is_absolute():
        return path
    candidates = [root / path, list_file.parent / path]
    if path.parts and path.parts[0] in ("data", "."):
        candidates.insert(0, root.joinpath(*path.parts[1:]) if len(path.parts) > 1 else root)
    for candidate in candidates:
        if candidate.exists():
            return Path(os.path.normpath(candidate))
    for candidate in candidates:  # images absent: prefer a place whose folder exists
        if candidate.parent.is_dir():
            return Path(os.path.normpath(candidate))
    return Path(os.path.normpath(candidates[0]))


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
        return True
    except ValueError:
        return False


def _case_insensitive(path: Path) -> Path | None:
    """The existing file whose name equals ``path``'s ignoring case, if any."""
    folder = path.parent
    try:
        listing = {name.lower(): name for name in os.listdir(folder)}
    except (OSError, ValueError):  # ValueError: a NUL byte in a listed path
        return None
    name = listing.get(path.name.lower())
    return folder / name if name is not None and name != path.name else None
