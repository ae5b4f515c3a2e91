"""What a command line means: which datasets to check, and which of their findings to report.

Folders are datasets. Files are what pre-commit hands ``detlint check``: ``labels/train/0001.txt``,
``Annotations/000123.xml``, ``data.yaml``, ``annotations/instances_val.json``. A file is not a
dataset and most rules need the whole dataset, so each file is mapped to its dataset, every
dataset is checked once, and the report keeps:

- findings located in one of the passed files;
- dataset-level findings: in a file that describes the whole dataset (``data.yaml``, a class
  list; ``Format.is_dataset_level_file``) or with no file at all;
- every finding of a dataset when one of its dataset-level files was passed (a class-map change
  can break every label file).

Which format a file belongs to is the formats' answer (``Format.claim``): a file that is a
dataset of its own (a COCO JSON) or describes the dataset in its folder (a ``data.yaml``) is read
exactly as given. A per-image file's root: walking up from it (not above the git work tree), the
nearest folder a format marks strongly (``Format.root_mark``) or that the file's own folder
structure implies (``Format.member_root``: the parent of VOC's ``Annotations/``) wins; else a
dataset named in a detlint config's ``datasets = [...]`` that holds the file; else the nearest
weaker mark (a format's, or a folder with a detlint config); else the format's ``loose_root`` (a
flat folder of XML, a label beside its image). Files no format claims (``README.txt``,
``package.json``, a CI ``.yml``) are ignored silently.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from detlint import formats
from detlint.boundary import CACHE_BYTES, read_file
from detlint.config import CONFIG_BYTES, CONFIG_FILES, find_config
from detlint.errors import UsageError
from detlint.fileio import atomic_write_bytes, cache_dir
from detlint.findings import Finding
from detlint.formats import Claim, Format
from detlint.incremental.stats import RACY_NS

NOT_ANNOTATION_PREFIXES = ("readme", "license", "licence", "notes", "changelog", "requirements")


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
        kept: dict[str, bool] = {}  # per file: a dataset holds far fewer files than findings
        for file in {f.file for f in findings if f.file is not None}:
            kept[file] = is_dataset_level(file) or os.path.normpath(os.path.join(base, file)) in self.passed
        return [f for f in findings if f.file is None or kept[f.file]]


def is_dataset_level(name: str) -> bool:
    """Whether a file describes a whole dataset (its class list or layout), for any format."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return any(fmt.is_dataset_level_file(base) for fmt in formats.every())


def plan_targets(paths: Iterable[Path], use_cache: bool = False) -> list[CheckTarget]:
    """Folders are checked whole; files are grouped by dataset (see the module docstring).

    ``use_cache``: remember the marker names of big folders by their mtime (a folder of 100k
    label files takes ~0.1 s to list; its mtime changes whenever an entry is added, removed or
    renamed, so an unchanged mtime means unchanged names).
    """
    planner = _Planner(_MarkerNames(enabled=use_cache))
    try:
        return planner.plan(paths)
    finally:
        planner.markers.save()


def dataset_of(path: Path) -> tuple[Path, Path] | None:
    """(what to load, dataset root) for one annotation file; None when it belongs to no dataset."""
    found = _Planner(_MarkerNames(enabled=False)).dataset_of(path)
    return found[:2] if found is not None else None


@dataclass
class _Planner:
    markers: _MarkerNames
    targets: list[CheckTarget] = field(default_factory=list)
    by_root: dict[str, CheckTarget] = field(default_factory=dict)

    def plan(self, paths: Iterable[Path]) -> list[CheckTarget]:
        for path in map(Path, paths):
            if not path.is_file():  # a folder, or no such path: the reader reports it as before
                self.targets.append(CheckTarget(path))
                continue
            found = self.dataset_of(path)
            if found is not None:
                self._add(path, *found)
        return self.targets

    def _add(self, path: Path, load_path: Path, root: Path, claim: Claim) -> None:
        absolute = os.path.normpath(os.path.abspath(path))
        key = os.path.normpath(os.path.abspath(load_path if claim is Claim.DOCUMENT else root))
        target = self.by_root.get(key)
        if target is None:
            target = self.by_root[key] = CheckTarget(load_path, passed=set())
            self.targets.append(target)
        elif load_path != target.path and load_path.is_file():
            target.path = load_path  # a passed data.yaml is read exactly as given
        passed = target.passed if target.passed is not None else set()
        passed.add(absolute)
        target.passed = passed
        target.class_map_passed |= claim is not Claim.MEMBER or is_dataset_level(path.name)

    def dataset_of(self, path: Path) -> tuple[Path, Path, Claim] | None:
        """(what to load, dataset root, how) for an annotation file; None: it belongs to no dataset."""
        if path.name.lower().startswith(NOT_ANNOTATION_PREFIXES):
            return None
        claims = [(fmt, _claim(fmt, path)) for fmt in formats.every()]
        for claim in (Claim.DOCUMENT, Claim.DESCRIPTION):
            if any(c is claim for _, c in claims):
                return path, path.parent, claim
        members = [fmt for fmt, claim in claims if claim is Claim.MEMBER]
        if not members:
            return None
        implied = {root for fmt in members if (root := fmt.member_root(path)) is not None}
        root = self._root_by_markers(path, implied)
        if root is None:
            root = next((r for fmt in members if (r := fmt.loose_root(path)) is not None), None)
        return (_shown(root), root, Claim.MEMBER) if root is not None else None

    def _root_by_markers(self, path: Path, implied: set[Path]) -> Path | None:
        folder = Path(os.path.abspath(path)).parent
        weak: Path | None = None
        implied = {Path(os.path.abspath(root)) for root in implied}
        for directory in (folder, *folder.parents):
            names = self.markers.names(str(directory))
            marks = [m for fmt in formats.every() if (m := fmt.root_mark(directory, names)) is not None]
            strong = next((m.root for m in marks if m.strong), None)
            if strong is not None:
                return strong
            if directory.parent in implied:
                return directory.parent
            configured = _configured_dataset(directory, names, path)
            if configured is not None:
                return configured
            if weak is None:
                weak = next((m.root for m in marks), None) or _config_mark(directory, names)
            if ".git" in names:  # the work tree's top: datasets do not span repositories
                break
        return weak


def _claim(fmt: Format, path: Path) -> Claim | None:
    try:
        return fmt.claim(path)
    except (OSError, ValueError):
        return None


class _MarkerNames:
    """The names in a folder that can make it a dataset root, cached by the folder's mtime."""

    BIG_FOLDER = 2000  # entries; smaller folders are listed each time

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.entries: dict[str, list] | None = None
        self.dirty = False
        self.listings: dict[str, frozenset[str]] = {}  # this plan's listings: each folder listed once

    def listing(self, directory: str) -> frozenset[str]:
        found = self.listings.get(directory)
        if found is None:
            try:
                found = frozenset(os.listdir(directory))
            except OSError:
                found = frozenset()
            self.listings[directory] = found
        return found

    def names(self, directory: str) -> frozenset[str]:
        if not self.enabled:
            return self.listing(directory)
        try:
            mtime = os.stat(directory).st_mtime_ns
        except OSError:
            return frozenset()
        entry = self._entries().get(directory)
        if entry is not None and entry[0] == mtime:
            return frozenset(entry[1])
        listing = self.listing(directory)
        if len(listing) >= self.BIG_FOLDER and time.time_ns() - mtime > RACY_NS:
            self._entries()[directory] = [mtime, sorted(_marker_names(listing))]
            self.dirty = True
        return listing

    def _entries(self) -> dict[str, list]:
        if self.entries is None:
            self.entries = {}
            try:
                loaded = orjson.loads(read_file(self._path(), CACHE_BYTES))
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, orjson.JSONDecodeError):
                pass
        return self.entries

    @staticmethod
    def _path() -> Path:
        return cache_dir() / "folder-markers-v2.json"

    def save(self) -> None:
        if self.dirty and self.entries is not None:
            try:
                atomic_write_bytes(self._path(), orjson.dumps(self.entries))
            except OSError:
                pass  # a cache that cannot be written is no cache
        self.dirty = False


def _marker_names(listing: frozenset[str]) -> set[str]:
    """The entries the root search looks at: the formats' markers, ``.git`` and config files."""
    found = {".git", *CONFIG_FILES} & listing
    for fmt in formats.every():
        found |= fmt.marker_names(listing)
    return found


def _config_mark(directory: Path, names: frozenset[str]) -> Path | None:
    """A folder with a detlint config is a (weak) dataset root."""
    if any(name in names for name in CONFIG_FILES[:2]) or _has_detlint_table(directory, names):
        return directory
    return None


def _configured_dataset(directory: Path, names: frozenset[str], path: Path) -> Path | None:
    """The dataset of a config's ``datasets = [...]`` in ``directory`` that holds ``path``."""
    if not any(name in names for name in CONFIG_FILES):
        return None
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


def _has_detlint_table(directory: Path, names: frozenset[str]) -> bool:
    if "pyproject.toml" not in names:
        return False
    try:
        return b"[tool.detlint" in read_file(directory / "pyproject.toml", CONFIG_BYTES)
    except OSError:
        return False


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when inside it (as pre-commit passes paths)."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return Path(".")
    if absolute.startswith(cwd + os.sep):
        return Path(os.path.relpath(absolute, cwd))
    return path

