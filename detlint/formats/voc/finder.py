"""Finding an XML's image file: folder listings indexed once, lookups by name or stem.

The image of an XML is looked for under its ``<filename>``, the base name of its ``<path>``,
then the XML's stem, in the folders its layout gives (``JPEGImages/`` and the root for the
devkit; the XML's folder and the root for flat folders); exact names first, then ignoring case
(a match found only so is F014). Folders are plain strings here: this runs once per XML (100k+),
where pathlib is costly.
"""

from __future__ import annotations

import os
from pathlib import Path

from detlint import fileio
from detlint.boundary import Boundary


class DirIndex:
    """What one folder holds, for exact and case-insensitive lookups without stat calls.

    Only the exact names are built up front; the case-insensitive and stem maps are built on
    first use (most lookups hit an exact name, and a folder can hold 100k+ files).
    """

    def __init__(self, names: list[str]) -> None:
        self._sorted = names
        self.names = set(names)
        self._lower: dict[str, str] | None = None
        self._stems: tuple[dict[str, str], dict[str, str]] | None = None

    @classmethod
    def scan(cls, folder: str) -> DirIndex:
        try:
            with os.scandir(folder) as entries:
                return cls(sorted(e.name for e in entries if e.is_file()))
        except OSError:
            return cls([])

    @property
    def lower(self) -> dict[str, str]:
        if self._lower is None:
            self._lower = {}
            for name in self._sorted:  # the first name in sorted order wins, as documented
                self._lower.setdefault(name.lower(), name)
        return self._lower

    @property
    def stems(self) -> dict[str, str]:
        """Image stem -> file name."""
        return self._stem_maps()[0]

    @property
    def lower_stems(self) -> dict[str, str]:
        return self._stem_maps()[1]

    def _stem_maps(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._stems is None:
            stems: dict[str, str] = {}
            lower_stems: dict[str, str] = {}
            for name in self._sorted:
                if fileio.is_image(name):
                    stem = os.path.splitext(name)[0]
                    stems.setdefault(stem, name)
                    lower_stems.setdefault(stem.lower(), name)
            self._stems = stems, lower_stems
        return self._stems


class ImageFinder:
    """Finds image files by name or stem in candidate folders; caches folder listings (for one
    read: a finder is made per read)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_prefix = os.path.join(os.fspath(root), "")
        self._indexes: dict[str, DirIndex] = {}
        self._boundary = Boundary(root)

    def index(self, folder: str) -> DirIndex:
        """What ``folder`` holds (nothing where it lies outside the root, after symbolic links)."""
        index = self._indexes.get(folder)
        if index is None:
            inside = self._boundary.contains_folder(folder)
            index = self._indexes[folder] = DirIndex.scan(folder) if inside else DirIndex([])
        return index

    def relative(self, folder: str, name: str) -> str:
        full = os.path.join(folder, name)
        if full.startswith(self._root_prefix):
            return full[len(self._root_prefix):].replace(os.sep, "/")
        return fileio.relpath(Path(full), self.root)

    def find(self, names: list[str], stems: list[str], folder_names: list[str]) -> tuple[str, bool] | None:
        """(path relative to root, matched only ignoring case) or None."""
        for ignore_case in (False, True):
            found = self._by_name(names, folder_names, ignore_case)
            if found is None:
                found = self._by_stem(stems, folder_names, ignore_case)
            if found is not None:
                return found, ignore_case
        return None

    def _by_name(self, names: list[str], folder_names: list[str], ignore_case: bool) -> str | None:
        for name in names:
            sub, _, file_name = name.rpartition("/")
            for folder in folder_names:
                target = os.path.join(folder, sub) if sub else folder
                index = self.index(target)
                hit = index.lower.get(file_name.lower()) if ignore_case else (
                    file_name if file_name in index.names else None)
                if hit is not None:
                    return self.relative(target, hit)
        return None

    def _by_stem(self, stems: list[str], folder_names: list[str], ignore_case: bool) -> str | None:
        for stem in stems:
            for folder in folder_names:
                index = self.index(folder)
                hit = index.lower_stems.get(stem.lower()) if ignore_case else index.stems.get(stem)
                if hit is not None:
                    return self.relative(folder, hit)
        return None
