"""Where a COCO dataset's files are: its annotation JSON files (and sniffing them), the split
each file holds, the folders its images may be in, and finding image files by name there."""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint.boundary import Boundary, Refusal
from detlint.fileio import relpath, safe_relative

NAME = "coco"

SPLIT_WORDS = ("train", "val", "valid", "validation", "test", "trainval", "minival", "dev")
_SNIFF_BYTES = 1 << 16
_SECTION_LIST = re.compile(rb'"(images|annotations)"\s*:\s*\[')
_SECTION_KEY = re.compile(rb'"(images|annotations)"\s*:\s*[^\[\s]')


def looks_like_coco(path: Path, boundary: Boundary | None = None) -> int:
    """How surely one JSON file is a COCO dataset, from its first 64 KiB (0: not one, or not a
    regular file inside ``boundary``: nothing else is opened)."""
    boundary = boundary or Boundary(dataset_root(path))
    opened = boundary.open(os.fspath(path))
    if not isinstance(opened, tuple):
        return 0
    try:
        head = os.read(opened[0], _SNIFF_BYTES)
    except OSError:
        return 0
    finally:
        os.close(opened[0])
    stripped = head.lstrip()
    if stripped.startswith(b"["):
        return 1 if b"image_id" in head else 0
    if not stripped.startswith(b"{"):
        return 0
    if _SECTION_LIST.search(head):
        return 3
    return 1 if b'"categories"' in head and not _SECTION_KEY.search(head) else 0


def annotation_files(path: Path) -> list[Path]:
    """The COCO JSON files of a dataset folder (or the file itself)."""
    boundary = Boundary(dataset_root(path))
    return [p for p in json_candidates(path) if looks_like_coco(p, boundary)]


def refused_files(path: Path) -> list[tuple[Path, Refusal]]:
    """The JSON files of a dataset folder that a read may not open, and why (a symlink out of
    the dataset, a FIFO): said in the message when no annotation file is left."""
    boundary = Boundary(dataset_root(path))
    refused = []
    for candidate in json_candidates(path):
        opened = boundary.open(os.fspath(candidate))
        if isinstance(opened, tuple):
            os.close(opened[0])
        elif isinstance(opened, Refusal):
            refused.append((candidate, opened))
    return refused


def json_candidates(path: Path) -> list[Path]:
    """The JSON files a COCO dataset folder may keep its annotations in (or the file itself)."""
    if path.is_file() or path.is_symlink():
        return [path] if path.suffix.lower() == ".json" else []
    candidates: list[Path] = []
    for folder in (path, path / "annotations"):
        if folder.is_dir():
            candidates += sorted(p for p in folder.glob("*.json") if not p.is_dir())
    if not candidates:
        boundary = Boundary(path)
        subfolders = [p for p in sorted(path.iterdir()) if p.is_dir() and boundary.contains_folder(p)]
        candidates = [p / "_annotations.coco.json" for p in subfolders if (p / "_annotations.coco.json").exists()]
        candidates += [json for p in subfolders for json in sorted(p.glob("*.coco.json"))]
    return list(dict.fromkeys(candidates))


def sniff(path: Path) -> int:
    """0: no COCO annotation file at ``path``; higher is more certain."""
    return max((looks_like_coco(p) for p in annotation_files(path)), default=0)


def dataset_root(path: Path) -> Path:
    """The folder image paths are relative to: the folder read, or the one above ``annotations/``."""
    if path.is_dir():
        return path
    parent = path.parent
    return parent.parent if parent.name == "annotations" else parent


def _is_split_word(name: str) -> bool:
    return name.rstrip("0123456789") in SPLIT_WORDS


def split_name(json_path: Path, n_files: int) -> str:
    """The split a COCO file holds: ``train/_annotations.coco.json`` -> train,
    ``annotations/instances_val2017.json`` -> val2017, several loose files -> their stems."""
    if json_path.name.endswith(".coco.json"):
        if n_files > 1 or _is_split_word(json_path.parent.name):
            return json_path.parent.name
        return ""
    stem = json_path.stem
    suffix = stem.rsplit("_", 1)[-1]
    if _is_split_word(suffix) or json_path.parent.name == "annotations":
        return suffix
    return stem if n_files > 1 else ""


def image_folders(root: Path, json_path: Path, split: str) -> list[Path]:
    """The existing folders a split's images may be in, most likely first."""
    folders = [json_path.parent, root]
    for name in dict.fromkeys(filter(None, [split, split.removesuffix("2017")])):
        folders += [root / "images" / name, root / name, root / f"{name}2017", root / "images" / f"{name}2017"]
    folders.append(root / "images")
    boundary = Boundary(root)
    return [f for f in dict.fromkeys(folders) if f.is_dir() and boundary.contains_folder(f)]


class ImageFinder:
    """Finds image files by name under a few candidate folders, listing each folder once (one
    finder per read: the listings are that read's view of the disk)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listing: dict[Path, frozenset[str]] = {}
        self._boundary = Boundary(root)
        self._lowered: dict[Path, dict[str, str]] = {}

    def _list(self, folder: Path) -> frozenset[str]:
        """The names in ``folder`` (none where it lies outside the root, after symbolic links)."""
        if folder not in self._listing:
            try:
                inside = self._boundary.contains_folder(folder)
                self._listing[folder] = frozenset(os.listdir(folder)) if inside else frozenset()
            except OSError:
                self._listing[folder] = frozenset()
        return self._listing[folder]

    def _lower(self, folder: Path) -> dict[str, str]:
        """Lower-cased name -> name, built only when a name is not found as written."""
        if folder not in self._lowered:
            self._lowered[folder] = {n.lower(): n for n in self._list(folder)}
        return self._lowered[folder]

    def _prefix(self, folder: Path) -> str:
        rel = relpath(folder, self.root)
        return "" if rel in ("", ".") else rel + "/"

    def find_all(self, names: list[str], folders: list[Path]) -> tuple[list[str], list[bool]]:
        """Path relative to the root ("" when not found) and found-only-by-case, per name.

        Bare names, the common case, are set lookups in each folder's listing; nested names
        go through :meth:`find`.
        """
        paths = [""] * len(names)
        by_case = [False] * len(names)
        pending = [i for i, name in enumerate(names) if name and "/" not in name and "\\" not in name]
        nested = [i for i, name in enumerate(names) if name and ("/" in name or "\\" in name)]
        for folder in folders:
            if not pending:
                break
            listing = self._list(folder)
            prefix = self._prefix(folder)
            still = []
            for i in pending:
                if names[i] in listing:
                    paths[i] = prefix + names[i]
                else:
                    still.append(i)
            pending = still
        for i in pending + nested:
            paths[i], by_case[i] = self.find(names[i], folders)
        return paths, by_case

    def find(self, name: str, folders: list[Path]) -> tuple[str, bool]:
        """(path relative to root or "", found only by ignoring case)."""
        rel = safe_relative(name)
        if rel is None:
            return "", False
        candidates = [rel] if "/" not in rel else [rel, rel.rsplit("/", 1)[1]]
        for ignore_case in (False, True):
            for folder in folders:
                for candidate in candidates:
                    found = self._match(folder, candidate, ignore_case)
                    if found is not None:
                        return found, ignore_case
        return "", False

    def _match(self, folder: Path, candidate: str, ignore_case: bool) -> str | None:
        """``candidate`` (a relative name) under ``folder``, relative to the root; None if absent."""
        sub, _, base = candidate.rpartition("/")
        directory = folder / sub if sub else folder
        if ignore_case:
            real = self._lower(directory).get(base.lower())
        else:
            real = base if base in self._list(directory) else None
        return None if real is None else relpath(directory / real, self.root)
