"""Finding a COCO file's images: the folders they may be in, the one most of them are in, and
each file name looked up in folder listings (each folder listed once per read, whatever the
number of images: no stat per image and candidate).

Without an image root the candidates lie under the dataset root: the JSON's folder, its parent,
the root, ``images/``, ``data/`` and the split's folders (``images/<split>``, ``<split>/``,
``<split>2017/``, ``data/<split>``). With one (``--image-root``) they lie under it alone: the
image root and its split folders; nothing else is read for images.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from detlint.boundary import Boundary
from detlint.fileio import relpath, safe_relative
from detlint.formats.coco.layout import split_folders


class ImageFinder:
    """Finds image files by name under a few candidate folders, listing each folder once (one
    finder per read: the listings are that read's view of the disk).

    ``root`` is the dataset root; ``image_root`` the folder the user named for the images, if
    any. Found paths are relative to the folder images resolve in (``Dataset.image_dir``).
    """

    def __init__(self, root: Path, image_root: Path | None = None) -> None:
        self.dataset_root = root
        self.image_root = image_root
        self.root = root if image_root is None else image_root
        self._listing: dict[Path, frozenset[str]] = {}
        self._boundary = Boundary(self.root)
        self._lowered: dict[Path, dict[str, str]] = {}

    def folders(self, json_path: Path, split: str) -> list[Path]:
        """The existing folders a split's images may be in, most likely first."""
        if self.image_root is not None:
            candidates = [self.image_root, *split_folders(self.image_root, split)]
        else:
            root = self.dataset_root
            candidates = [json_path.parent, json_path.parent.parent, root, *split_folders(root, split),
                          root / "images", root / "data"]
        boundary = self._boundary
        return [f for f in dict.fromkeys(candidates) if boundary.contains_folder(f) and f.is_dir()]

    def shown(self, folder: Path) -> str:
        """``folder`` as messages name it: relative to the dataset root, or under the image root
        as the user wrote it."""
        rel = relpath(folder, self.root)
        if self.image_root is None:
            return rel
        return Path(os.path.normpath(self.image_root / rel)).as_posix()

    def ranked(self, names: list[str], folders: list[Path]) -> list[Path]:
        """``folders``, the one where most of ``names`` resolve first (stable for ties): a file
        whose images are in ``data/`` finds them there even when a few names also exist in the
        JSON's folder. Nested names count by their first component."""
        every = set(names)  # a listing holds no name with a separator: nested ones never match here
        joined = "\n".join(every)
        heads = Counter(n.replace("\\", "/").lstrip("/").split("/", 1)[0] for n in every if "/" in n or "\\" in n) \
            if "/" in joined or "\\" in joined else Counter()

        def hits(folder: Path) -> int:
            listing = self._list(folder)
            return len(every & listing) + sum(count for head, count in heads.items() if head in listing)

        counts = {folder: hits(folder) for folder in folders}
        return sorted(folders, key=lambda folder: -counts[folder])

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
        joined = "\n".join(names)
        if "/" not in joined and "\\" not in joined:  # no nested name (the usual case): one C-level test
            pending, nested = [i for i, name in enumerate(names) if name], []
        else:
            pending = [i for i, name in enumerate(names) if name and "/" not in name and "\\" not in name]
            nested = [i for i, name in enumerate(names) if name and ("/" in name or "\\" in name)]
        for folder in folders:
            if not pending:
                break
            listing = self._list(folder)
            prefix = self._prefix(folder)
            wanted = [names[i] for i in pending]
            found = list(map(listing.__contains__, wanted))  # C-level passes: 118k names in 15 ms
            if all(found) and len(pending) == len(names):  # every name in the first folder
                return list(map(prefix.__add__, wanted)), by_case
            still = []
            for i, name, hit in zip(pending, wanted, found):
                if hit:
                    paths[i] = prefix + name
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
