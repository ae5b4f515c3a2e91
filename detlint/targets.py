"""Checking annotation FILES (as pre-commit passes them) rather than dataset folders.

pre-commit hands ``detlint check`` the changed files: ``labels/train/0001.txt``,
``Annotations/000123.xml``, ``data.yaml``, ``annotations/instances_val.json``. A file is not a
dataset, and most rules need the whole dataset (class lists, image sizes, duplicates across
files), so each file is mapped to its dataset, every dataset is checked once, and the report keeps:

- findings located in one of the passed files;
- dataset-level findings: in a class-map file (``data.yaml``, ``obj.names``, ``classes.txt``,
  ``obj.data``) or with no file at all;
- every finding of a dataset when one of its class-map files was passed (a class-map change can
  break every label file).

Finding a file's dataset root: walking up from the file (not above the git work tree), the
nearest folder with a format marker wins: a ``*.yaml`` with ``names`` or a ``*.data`` (YOLO), the
parent of an ``Annotations/`` folder (VOC); else a dataset named in a detlint config's
``datasets = [...]`` that holds the file; else the nearest weaker marker: the parent of a
``labels/`` folder, a folder with both ``images/`` and ``labels/``, a class-names file, a folder
with a detlint config. A VOC XML with no marker is read with its folder; a YOLO label beside its
image likewise. A COCO JSON is its own dataset (the reader finds its images). A passed
``*.yaml`` with ``names`` or ``*.data`` is read exactly as ``detlint check data.yaml`` always
did. Files of no dataset (``README.txt``, ``package.json``, a CI ``.yml``) are ignored silently.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import orjson

from detlint.findings import Finding

CLASS_MAP_NAMES = frozenset({"obj.names", "classes.txt", "classes.names", "names.txt", "obj.data"})
CONFIG_NAMES = ("detlint.toml", ".detlint.toml", "pyproject.toml")
NOT_ANNOTATION_PREFIXES = ("readme", "license", "licence", "notes", "changelog", "requirements")
_NAMES_KEY = re.compile(rb"^names\s*:", re.MULTILINE)


@dataclass
class CheckTarget:
    """One dataset to check, and which of its findings to report."""

    path: Path  # a dataset folder, or a dataset file (COCO JSON, data.yaml, obj.data)
    passed: set[str] | None = None  # absolute paths of the passed files; None: report everything
    class_map_passed: bool = False

    def keep(self, findings: list[Finding], root: Path | str) -> list[Finding]:
        """The findings to report for this target (``root``: the dataset root the reader used)."""
        if self.passed is None or self.class_map_passed:
            return findings
        base = os.path.abspath(root)
        return [f for f in findings if f.file is None or is_class_map(f.file)
                or os.path.normpath(os.path.join(base, f.file)) in self.passed]


def is_class_map(name: str) -> bool:
    """Whether a file declares the class list (or dataset layout) for a whole dataset."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return base in CLASS_MAP_NAMES or base.endswith((".yaml", ".yml", ".data"))


def plan_targets(paths: Iterable[Path], use_cache: bool = False) -> list[CheckTarget]:
    """Folders are checked whole; files are grouped by dataset (see the module docstring).

    ``use_cache``: remember the marker names of big folders by their mtime (a folder of 100k
    label files takes ~0.1 s to list; its mtime changes whenever an entry is added, removed or
    renamed, so an unchanged mtime means unchanged names).
    """
    _MARKERS.enabled = use_cache
    try:
        return _plan(paths)
    finally:
        _MARKERS.save()


def _plan(paths: Iterable[Path]) -> list[CheckTarget]:
    targets: list[CheckTarget] = []
    by_root: dict[str, CheckTarget] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():  # a folder, or no such path: the reader reports it as before
            targets.append(CheckTarget(path))
            continue
        found = dataset_of(path)
        if found is None:
            continue
        load_path, root = found
        absolute = os.path.normpath(os.path.abspath(path))
        key = os.path.normpath(os.path.abspath(load_path if load_path.suffix.lower() == ".json" else root))
        target = by_root.get(key)
        if target is None:
            target = by_root[key] = CheckTarget(load_path, passed=set())
            targets.append(target)
        elif load_path != target.path and load_path.is_file():
            target.path = load_path  # a passed data.yaml is read exactly as given
        passed = target.passed if target.passed is not None else set()
        passed.add(absolute)
        target.passed = passed
        target.class_map_passed |= is_class_map(path.name) or load_path.suffix.lower() == ".json"
    return targets


def dataset_of(path: Path) -> tuple[Path, Path] | None:
    """(what to load, dataset root) for an annotation file; None when it belongs to no dataset."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if name.startswith(NOT_ANNOTATION_PREFIXES):
        return None
    if suffix == ".json":
        from detlint.formats import coco  # type: ignore[attr-defined]

        return (path, path.parent) if _sniffs(coco.sniff, path) else None
    if suffix in (".yaml", ".yml"):
        return (path, path.parent) if _has_names(str(path)) else None
    if suffix == ".data":
        return path, path.parent
    if suffix == ".xml":
        from detlint.formats import voc

        if not voc._looks_like_voc(path):
            return None
    elif suffix != ".txt" and name not in CLASS_MAP_NAMES:
        return None
    root = _root_by_markers(path)
    if root is None and suffix == ".xml":
        root = path.parent  # a flat folder of VOC XML
    if root is None and suffix == ".txt" and _image_beside(path):
        root = path.parent  # YOLO labels beside their images
    return (_shown(root), root) if root is not None else None


def _sniffs(sniff: object, path: Path) -> bool:
    try:
        return sniff(path) > 0  # type: ignore[operator]
    except (OSError, ValueError):
        return False


def _root_by_markers(path: Path) -> Path | None:
    folder = Path(os.path.abspath(path)).parent
    weak: Path | None = None
    for directory in (folder, *folder.parents):
        listing = _MARKERS.names(str(directory))
        if _strong_marker(directory, listing):
            return directory
        if directory.name == "Annotations" and path.suffix.lower() == ".xml":
            return directory.parent
        configured = _configured_dataset(directory, listing, path)
        if configured is not None:
            return configured
        if weak is None:
            weak = _weak_marker(directory, listing)
        if ".git" in listing:  # the work tree's top: datasets do not span repositories
            break
    return weak


class _MarkerNames:
    """The names in a folder that can make it a dataset root, cached by the folder's mtime."""

    BIG_FOLDER = 2000  # entries; smaller folders are listed each time
    RACY_NS = 2_000_000_000  # a folder changed this recently may change again within its mtime

    def __init__(self) -> None:
        self.enabled = False
        self.entries: dict[str, list] | None = None
        self.dirty = False

    def names(self, directory: str) -> frozenset[str]:
        if not self.enabled:
            return _listing(directory)
        try:
            mtime = os.stat(directory).st_mtime_ns
        except OSError:
            return frozenset()
        entry = self._entries().get(directory)
        if entry is not None and entry[0] == mtime:
            return frozenset(entry[1])
        listing = _listing(directory)
        if len(listing) >= self.BIG_FOLDER and time.time_ns() - mtime > self.RACY_NS:
            self._entries()[directory] = [mtime, sorted(_marker_names(listing))]
            self.dirty = True
        return listing

    def _entries(self) -> dict[str, list]:
        if self.entries is None:
            self.entries = {}
            try:
                loaded = orjson.loads(self._path().read_bytes())
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, orjson.JSONDecodeError):
                pass
        return self.entries

    @staticmethod
    def _path() -> Path:
        from detlint.fileio import cache_dir

        return cache_dir() / "folder-markers-v1.json"

    def save(self) -> None:
        if self.dirty and self.entries is not None:
            from detlint.fileio import atomic_write_bytes

            try:
                atomic_write_bytes(self._path(), orjson.dumps(self.entries))
            except OSError:
                pass  # a cache that cannot be written is no cache
        self.dirty = False


_MARKERS = _MarkerNames()


def _marker_names(listing: frozenset[str]) -> set[str]:
    """The entries :func:`_root_by_markers` looks at: fixed names and class-map suffixes."""
    fixed = {".git", "images", "labels", *CLASS_MAP_NAMES, *CONFIG_NAMES} & listing
    return fixed | set(_MARKER_NAME.findall("\n".join(listing)))


@lru_cache(maxsize=4096)
def _listing(directory: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(directory))
    except OSError:
        return frozenset()


_MARKER_NAME = re.compile(r"^[^.\n][^\n]*\.(?:data|ya?ml)$|^\.(?:[^\n]*\.)?data$", re.IGNORECASE | re.MULTILINE)


def _strong_marker(directory: Path, listing: frozenset[str]) -> bool:
    # one regular expression over the joined listing: a labels folder has 100k+ entries
    for entry in _MARKER_NAME.findall("\n".join(listing)):
        if entry.lower().endswith(".data"):
            if os.path.isfile(directory / entry):
                return True
        elif _has_names(str(directory / entry)):
            return True
    return False


def _weak_marker(directory: Path, listing: frozenset[str]) -> Path | None:
    if directory.name == "labels":
        return directory.parent
    if "images" in listing and "labels" in listing:
        return directory
    if any(name in listing for name in CLASS_MAP_NAMES):
        return directory
    if any(name in listing for name in CONFIG_NAMES[:2]) or _has_detlint_table(directory, listing):
        return directory
    return None


def _configured_dataset(directory: Path, listing: frozenset[str], path: Path) -> Path | None:
    """The dataset of a config's ``datasets = [...]`` in ``directory`` that holds ``path``."""
    if not any(name in listing for name in CONFIG_NAMES):
        return None
    from detlint.config import find_config
    from detlint.errors import UsageError

    try:
        found = find_config(directory)
    except UsageError:
        return None
    if found is None or found[0].parent != directory:
        return None
    absolute = os.path.abspath(path)
    for entry in found[1].get("datasets", []) or []:
        dataset = os.path.normpath(os.path.join(directory, str(entry)))
        if absolute == dataset or absolute.startswith(dataset + os.sep):
            return Path(dataset)
    return None


def _has_detlint_table(directory: Path, listing: frozenset[str]) -> bool:
    if "pyproject.toml" not in listing:
        return False
    try:
        return b"[tool.detlint" in (directory / "pyproject.toml").read_bytes()
    except OSError:
        return False


@lru_cache(maxsize=4096)
def _has_names(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return _NAMES_KEY.search(fh.read(1 << 20)) is not None
    except OSError:
        return False


def _image_beside(path: Path) -> bool:
    from detlint.fileio import is_image

    stem = path.stem
    return any(os.path.splitext(name)[0] == stem and is_image(name) for name in _listing(str(path.parent)))


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when inside it (as pre-commit passes paths)."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return Path(".")
    if absolute.startswith(cwd + os.sep):
        return Path(os.path.relpath(absolute, cwd))
    return path
