"""YOLO txt labels: reader and writer.

Layouts the reader understands (first match wins):

- **ultralytics** ``data.yaml`` (any ``*.yaml`` at the root with a ``names`` key): ``train`` /
  ``val`` / ``test`` each a folder, a list of folders, or a ``.txt`` list of image paths; an
  optional ``path:`` base; ``names`` as a list or a ``{index: name}`` mapping; ``nc``. Roboflow
  exports write ``../train/images`` (relative to a split folder) and sometimes absolute paths from
  the exporting machine (``/Users/...``): when a declared folder does not exist the reader falls
  back to the conventional ``<root>/<split>/images`` or ``<root>/images/<split>`` (``val`` and
  ``valid`` are interchangeable) and reports I001 at the yaml with the resolved path.
- **darknet** ``obj.data`` + ``obj.names`` + ``train.txt``: paths such as
  ``data/obj_train_data/1.jpg`` where ``data/`` means the dataset root.
- **folders**: ``images/`` + ``labels/`` (optionally ``images/<split>/``, ``<split>/images/``)
  or label files beside the images, with ``classes.txt`` or ``obj.names`` for the class list.

Label lookup follows ultralytics: replace the last ``/images/`` path component with ``/labels/``
and the extension with ``.txt``; otherwise a ``.txt`` beside the image. A label found only when
case is ignored is still paired (F014). README/classes/list ``.txt`` files are never labels.

Rows: ``cls cx cy w h`` is a box (kind 0); ``cls x1 y1 ... xn yn`` with at least 3 points is a
polygon (kind 1, normalised points kept in ``segmentation``, box = the polygon's bounding box,
``raw`` = that bounding box as normalised ``cx cy w h``). Anything else is F006 at its line and
skipped. Empty label files are negatives; images without a label file are kept unannotated.

Orphan labels (a label file with no image): reported as I006 and, so rules and conversions still
see their rows, attached to a synthetic image entry with ``path == ""`` whose ``file_name`` is
the image path the label implies (without extension) and whose ``extra`` holds
``{"orphan_label": <label path>}``.

Sizes come from image headers (after EXIF orientation); where unknown (no image, or
``probe_images=False``) rows stay normalised (``normalized`` True).

The writer produces the ultralytics layout: ``data.yaml``, ``images/<split>/<name>``,
``labels/<split>/<stem>.txt`` (``""`` split: ``images/`` and ``labels/``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from contextvars import ContextVar
from itertools import repeat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from detlint.errors import NotADatasetError, UsageError
from detlint.findings import Finding
from detlint.readcache import ReadCache, Reparsed, RowTable, decode_paths, encode_paths
from detlint import fileio
from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.headers import header_size
from detlint.model import Annotations, Categories, Dataset, Images

NAME = "yolo"

SPLIT_KEYS = ("train", "val", "test")
SPLIT_ALIASES = {"val": ("val", "valid", "validation"), "valid": ("valid", "val", "validation"),
                 "train": ("train",), "test": ("test",)}
NAMES_FILES = ("obj.names", "classes.txt", "classes.names", "names.txt")
NOT_LABEL_NAMES = frozenset({"classes.txt", "train.txt", "val.txt", "valid.txt", "test.txt",
                             "labels.txt", "license.txt", "names.txt", "notes.txt"})
DARKNET_SPLIT_DIR = re.compile(r"^obj_(\w+?)_data$")
COORD_DECIMALS = 6


# ----------------------------------------------------------------------------- layout discovery


@dataclass
class _ImageGroup:
    """Images of one split in one folder, in order: the unit of pairing (one folder lookup each)."""

    split: str
    folder: str  # the folder as os.path.split gives it for these images
    names: list[str]  # file names within ``folder``
    exists: bool = True  # False: listed in a .txt list but not on disk
    walked: bool = False  # names come from a folder listing (so each has an image extension)

    @property
    def prefix(self) -> str:
        return os.path.join(self.folder, "")


@dataclass
class _Layout:
    """Where the images and labels of a dataset are, before any label is parsed."""

    root: Path
    kind: str  # "ultralytics" | "darknet" | "folders"
    names: list[str] | None = None
    names_file: str | None = None  # relative path of the file that declared the names
    names_lines: list[int] | None = None
    images: list[_ImageGroup] = field(default_factory=list)
    label_pool: set[str] = field(default_factory=set)  # label candidates (for orphans)
    listings: dict[str, "_Listing"] = field(default_factory=dict)  # walked folders by prefix
    problems: list[Finding] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    config_files: list[str] = field(default_factory=list)

    def add_listings(self, listings: list["_Listing"]) -> None:
        for listing in listings:
            self.listings.setdefault(listing.prefix, listing)

    def adopt(self, other: "_Layout") -> None:
        """Take the images and labels another layout found (a fallback discovery)."""
        self.images, self.label_pool, self.listings = other.images, other.label_pool, other.listings


def _is_label_name(name: str) -> bool:
    lower = name.lower()
    return (lower.endswith(".txt") and lower not in NOT_LABEL_NAMES
            and not lower.startswith("readme") and not lower.startswith("license"))


# Paths of images and labels are plain strings on the hot path, built by concatenating a
# folder prefix and a name: pathlib costs ~10 us per operation and os.path ~1 us, which is
# seconds on 118k images.


@dataclass
class _Listing:
    """One folder's files as the reader sorts them (names sorted; hidden files skipped)."""

    prefix: str  # the folder path ending in a separator: prefix + name is a file's path
    images: list[str]
    labels: list[str]  # label candidates (``_is_label_name``)
    other_txt: list[str]  # every other ``.txt`` name, hidden ones included

    @property
    def folder(self) -> str:
        return os.path.split(self.prefix)[0]

    def has_txt(self, name: str) -> bool:
        """Whether the listing holds the ``.txt`` file ``name`` (decides pairing without a stat)."""
        txt = self.__dict__.get("_txt")
        if txt is None:
            txt = self.__dict__["_txt"] = frozenset(self.labels) | frozenset(self.other_txt)
        return name in txt


def _list_folder(folder: str) -> tuple[_Listing, list[str]] | None:
    """One ``os.scandir`` of ``folder``: its listing and its sub-folders (sorted; None if unreadable).

    Entries carry their type (``d_type``), so telling files from folders costs no stat. Like
    ``os.walk``: hidden entries are skipped and symlinked folders are not entered.
    """
    try:
        with os.scandir(folder) as entries:
            files: list[str] = []
            folders: list[str] = []
            for entry in entries:
                try:
                    is_folder = entry.is_dir()
                except OSError:
                    is_folder = False
                if not is_folder:
                    files.append(entry.name)
                elif not entry.name.startswith(".") and not _is_link(entry):
                    folders.append(entry.name)
    except OSError:
        return None
    images: list[str] = []
    labels: list[str] = []
    other_txt: list[str] = []
    image_extensions = fileio.IMAGE_EXTENSIONS
    for name in sorted(files):
        lower = name.lower()
        if lower.endswith(".txt"):
            if (not name.startswith(".") and lower not in NOT_LABEL_NAMES
                    and not lower.startswith("readme") and not lower.startswith("license")):
                labels.append(name)
            else:
                other_txt.append(name)
            continue
        dot = lower.rfind(".")
        if dot > 0 and lower[dot:] in image_extensions and not name.startswith("."):
            images.append(name)
    return _Listing(os.path.join(folder, ""), images, labels, other_txt), sorted(folders)


def _is_link(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _walk(folder: Path | str) -> list[_Listing]:
    """Every folder under ``folder`` (top-down, sorted, as ``os.walk``) with its file names."""
    listings = _LISTINGS.get()
    if listings is not None:
        return listings.walk(str(folder))
    return [listing for listing, _ in _scan(str(folder), None)]


def _scan(folder: str, mtime_of: Callable[[str], int] | None) -> list[tuple[_Listing, int]]:
    """The listings under ``folder``, each with its folder's mtime_ns taken just before the scan
    when ``record`` (-1 where not recorded, or too recent to trust later: see :class:`_ListingCache`)."""
    listings: list[tuple[_Listing, int]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        mtime = mtime_of(current) if mtime_of is not None else -1
        listed = _list_folder(current)
        if listed is None:
            continue
        listing, subfolders = listed
        listings.append((listing, mtime))
        pending.extend(os.path.join(current, name) for name in reversed(subfolders))
    return listings


def _mtime(folder: str) -> int:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return -2


_LISTINGS: ContextVar["_ListingCache | None"] = ContextVar("detlint_yolo_listings", default=None)


class _ListingCache:
    """The folder listings of the last cached check, reused while each folder's mtime holds.

    A folder's mtime changes whenever an entry is added to it, removed or renamed (POSIX), not
    when a file's content changes: a folder whose mtime_ns is what it was just before the last
    scan needs no new ``os.scandir``, sort and classification (118k names: ~0.5 s). Assumes a
    file system that keeps folder mtimes (any local POSIX one); ``--no-cache`` turns it off.
    """

    def __init__(self, store: dict[str, np.ndarray], cache: ReadCache) -> None:
        self.cache = cache
        self.walks: dict[str, list[tuple[_Listing, int]]] = {}
        self.used: dict[str, list[tuple[_Listing, int]]] = {}
        self.dirty = False
        try:
            self.walks = self._decode(store)
        except (KeyError, ValueError, IndexError, TypeError):
            self.walks = {}

    def walk(self, folder: str) -> list[_Listing]:
        cached = self.walks.get(folder)
        if not cached or not all(mtime >= 0 and _mtime(listing.prefix) == mtime for listing, mtime in cached):
            cached = _scan(folder, self.cache.trusted_mtime)
            self.dirty = True
        self.used[folder] = cached
        return [listing for listing, _ in cached]

    @staticmethod
    def _decode(store: dict[str, np.ndarray]) -> dict[str, list[tuple[_Listing, int]]]:
        if "walk_tops" not in store:
            return {}
        tops = decode_paths(store["walk_tops"])
        sizes = store["walk_sizes"].tolist()
        prefixes = decode_paths(store["walk_prefixes"])
        mtimes = store["walk_mtimes"].tolist()
        counts = store["walk_counts"].tolist()
        names = decode_paths(store["walk_names"])
        if len(sizes) != len(tops) or not (len(prefixes) == len(mtimes) == len(counts) == sum(sizes)) \
                or len(names) != sum(map(sum, counts)):
            return {}
        walks: dict[str, list[tuple[_Listing, int]]] = {}
        listing_index = name_index = 0
        for top, size in zip(tops, sizes):
            entries = []
            for _ in range(size):
                n_images, n_labels, n_other = counts[listing_index]
                start = name_index
                name_index += n_images + n_labels + n_other
                listing = _Listing(prefixes[listing_index], names[start:start + n_images],
                                   names[start + n_images:start + n_images + n_labels],
                                   names[start + n_images + n_labels:name_index])
                entries.append((listing, mtimes[listing_index]))
                listing_index += 1
            walks[top] = entries
        return walks

    def arrays(self) -> dict[str, np.ndarray]:
        listings = [entry for entries in self.used.values() for entry in entries]
        names = [name for listing, _ in listings for part in (listing.images, listing.labels, listing.other_txt)
                 for name in part]
        return {
            "walk_tops": encode_paths(list(self.used)),
            "walk_sizes": np.array([len(entries) for entries in self.used.values()], np.int64),
            "walk_prefixes": encode_paths([listing.prefix for listing, _ in listings]),
            "walk_mtimes": np.array([mtime for _, mtime in listings], np.int64),
            "walk_counts": np.array([(len(listing.images), len(listing.labels), len(listing.other_txt))
                                     for listing, _ in listings], np.int64).reshape(len(listings), 3),
            "walk_names": encode_paths(names),
        }


def _walked_images(listings: list[_Listing], split: str | None) -> list[_ImageGroup]:
    return [_ImageGroup(split or "", listing.folder, listing.images, walked=True)
            for listing in listings if listing.images]


def _swap_component(path: str, old: str, new: str, skip_last: bool = False) -> str | None:
    """``path`` with its last ``old`` folder component replaced by ``new`` (None if none)."""
    parts = path.split(os.sep)
    last = len(parts) - (2 if skip_last else 1)
    for i in range(last, -1, -1):
        if parts[i] == old:
            parts[i] = new
            return os.sep.join(parts)
    return None


def _labels_counterpart(path: Path | str) -> str | None:
    return _swap_component(str(path), "images", "labels")


def _rel(path: str, root: str) -> str:
    """``path`` relative to ``root`` (POSIX), fast for the common case of a path under it."""
    if path.startswith(root + os.sep):
        return path[len(root) + 1:].replace(os.sep, "/")
    return fileio.relpath(Path(path), Path(root))


def _rels(paths: list[str], root: str) -> list[str]:
    """:func:`_rel` of many paths: one slice each for those under ``root`` (no call per path)."""
    prefix = root + os.sep
    start = len(prefix)
    if os.sep == "/":
        return [p[start:] if p.startswith(prefix) else _rel(p, root) for p in paths]
    return [p[start:].replace(os.sep, "/") if p.startswith(prefix) else _rel(p, root) for p in paths]


def _find_yaml(root: Path) -> Path | None:
    candidates = sorted(p for p in root.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
    candidates.sort(key=lambda p: (p.name.lower() != "data.yaml", p.name))
    for path in candidates:
        text, _, _ = fileio.read_text(path)
        if text is not None and re.search(r"^names\s*:", text, re.MULTILINE):
            return path
    return None


def _find_darknet(root: Path) -> Path | None:
    if (root / "obj.data").is_file():
        return root / "obj.data"
    found = sorted(p for p in root.glob("*.data") if p.is_file())
    return found[0] if found else None


def _dataset_root_of(path: Path) -> Path:
    """The dataset folder holding a single label/config file."""
    folder = path.parent
    for candidate in [folder, *list(folder.parents)[:4]]:
        if _find_darknet(candidate) or _has_names_yaml(candidate) or (
                (candidate / "images").is_dir() and (candidate / "labels").is_dir()):
            return candidate
        if any((candidate / name).is_file() for name in NAMES_FILES):
            return candidate
    return folder.parent if folder.name == "labels" else folder


def _has_names_yaml(folder: Path) -> bool:
    try:
        return _find_yaml(folder) is not None
    except OSError:
        return False


def _load_names_file(layout: _Layout, path: Path) -> None:
    text, problem, _ = fileio.read_text(path)
    rel = fileio.relpath(path, layout.root)
    layout.config_files.append(rel)
    if text is None:
        if problem is not None:
            problem.file = rel
            layout.problems.append(problem)
        return
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    layout.names = [line.strip() for line in lines]
    layout.names_file = rel
    layout.names_lines = list(range(1, len(lines) + 1))


def _find_names_file(root: Path) -> Path | None:
    for name in NAMES_FILES:
        if (root / name).is_file():
            return root / name
    return None


# ------------------------------------------------------------------------------ ultralytics yaml


def _yaml_key_lines(text: str) -> tuple[dict[str, int], dict[Any, int]]:
    """1-based lines of the top-level keys and of the ``names`` mapping keys (PyYAML marks)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}, {}
    top: dict[str, int] = {}
    names: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            top[str(key.value)] = key.start_mark.line + 1
            if key.value == "names":
                if isinstance(value, yaml.MappingNode):
                    for sub_key, _ in value.value:
                        names[sub_key.value] = sub_key.start_mark.line + 1
                elif isinstance(value, yaml.SequenceNode):
                    for i, item in enumerate(value.value):
                        names[i] = item.start_mark.line + 1
    return top, names


def _names_from_yaml(layout: _Layout, data: dict, yaml_rel: str, key_lines: dict[str, int],
                     name_lines: dict[Any, int]) -> None:
    raw_names = data.get("names")
    names_line = key_lines.get("names")
    if isinstance(raw_names, dict):
        keys = list(raw_names)
        int_keys = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)]
        bad = [k for k in keys if k not in int_keys or k < 0]
        if bad or sorted(int_keys) != list(range(len(int_keys))):
            first_bad = bad[0] if bad else next(
                (k for k in sorted(int_keys) if k not in range(len(int_keys))), sorted(int_keys)[-1])
            layout.problems.append(Finding(
                "C006", f"names keys are not 0..{len(keys) - 1}: {sorted(map(str, keys))!r}",
                file=yaml_rel, line=name_lines.get(first_bad, names_line)))
        size = max(int_keys) + 1 if int_keys else 0
        names = [str(i) for i in range(size)]
        for k in int_keys:
            if k >= 0:
                names[k] = str(raw_names[k])
        layout.names = names
        layout.names_lines = [name_lines.get(i, names_line or 0) for i in range(size)]
    elif isinstance(raw_names, list):
        layout.names = [str(n) for n in raw_names]
        layout.names_lines = [name_lines.get(i, names_line or 0) for i in range(len(raw_names))]
    else:
        layout.problems.append(Finding("C006", f"names is not a list or a mapping: {raw_names!r}",
                                       file=yaml_rel, line=names_line))
        return
    layout.names_file = yaml_rel
    nc = data.get("nc")
    if nc is not None and (not isinstance(nc, int) or nc != len(layout.names)):
        layout.problems.append(Finding("C006", f"nc is {nc!r} but names has {len(layout.names)} entries",
                                       file=yaml_rel, line=key_lines.get("nc")))


def _fallback_folders(root: Path, split_key: str, declared: str) -> list[Path]:
    """Conventional places for a split whose declared folder does not exist."""
    aliases = SPLIT_ALIASES.get(split_key, (split_key,))
    declared_parts = [p for p in declared.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    candidates: list[Path] = []
    for tail in (2, 1):  # the declared path's tail, e.g. "valid/images" of "/Users/x/valid/images"
        if len(declared_parts) >= tail and declared_parts[-1] == "images":
            candidates.append(root.joinpath(*declared_parts[-tail:]))
    for alias in aliases:
        candidates += [root / alias / "images", root / "images" / alias]
    return [c for c in candidates if c != root / "images" or c.is_dir()]


def _ultralytics(root: Path, yaml_path: Path) -> _Layout:
    import yaml

    layout = _Layout(root=root, kind="ultralytics")
    yaml_rel = fileio.relpath(yaml_path, root)
    layout.config_files.append(yaml_rel)
    text, problem, _ = fileio.read_text(yaml_path)
    data: Any = None
    if text is not None:
        try:
            data = yaml.safe_load(text)
        except RecursionError:
            layout.problems.append(Finding("F001", "invalid YAML: nested too deeply to read", file=yaml_rel))
            data = None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            layout.problems.append(Finding(
                "F001", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", file=yaml_rel,
                line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None))
    elif problem is not None:
        problem.file = yaml_rel
        layout.problems.append(problem)
    if not isinstance(data, dict):
        if text is not None and data is not None:
            layout.problems.append(Finding("F001", "data.yaml is not a mapping", file=yaml_rel, line=1))
        return _folders(root, layout)
    layout.meta["yaml"] = data
    layout.meta["yaml_file"] = yaml_rel
    key_lines, name_lines = _yaml_key_lines(text or "")
    _names_from_yaml(layout, data, yaml_rel, key_lines, name_lines)

    base_dir = yaml_path.parent
    declared_base = data.get("path")
    if isinstance(declared_base, str) and declared_base:
        candidate = Path(declared_base)
        candidate = candidate if candidate.is_absolute() else (yaml_path.parent / candidate)
        if candidate.is_dir():
            base_dir = candidate

    found_any = False
    declared = {key: data.get(key) for key in SPLIT_KEYS if data.get(key) not in (None, "")}
    values = list(declared.values())
    if len(values) > 1 and all(value == values[0] for value in values):
        # every split key names the same images (ultralytics needs a val key, so an unsplit
        # dataset says `train: images` and `val: images`): one unsplit set, read once
        declared = {"": values[0]}
    for key, value in declared.items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            found_any |= _add_yaml_split(layout, key, str(entry), base_dir, yaml_path, yaml_rel,
                                         key_lines.get(key or "train"))
    if not found_any and not layout.images:
        layout.adopt(_folders(root, _Layout(root=root, kind="folders")))
    return layout


def _add_yaml_split(layout: _Layout, key: str, declared: str, base_dir: Path, yaml_path: Path,
                    yaml_rel: str, line: int | None) -> bool:
    root = layout.root
    path = Path(declared)
    resolved = path if path.is_absolute() else (base_dir / path)
    if not resolved.exists() and not path.is_absolute():
        beside_yaml = yaml_path.parent / path
        resolved = beside_yaml if beside_yaml.exists() else resolved
    if resolved.is_file() and resolved.suffix.lower() == ".txt":
        _add_image_list(layout, key, resolved)
        return True
    if resolved.is_dir():
        _add_image_folder(layout, key, resolved)
        return True
    fallback = next((c for c in _fallback_folders(root, key, declared) if c.is_dir()), None)
    shown = os.path.normpath(str(resolved))
    shown = f" (resolved to {shown})" if shown != declared else ""
    if fallback is None:
        layout.problems.append(Finding(
            "I001", f"{key}: folder {declared!r} does not exist{shown}; "
                    f"no conventional {key}/images or images/{key} folder either",
            file=yaml_rel, line=line))
        return False
    layout.problems.append(Finding(
        "I001", f"{key}: folder {declared!r} does not exist{shown}; "
                f"using {fileio.relpath(fallback, root)} instead", file=yaml_rel, line=line))
    _add_image_folder(layout, key, fallback)
    return True


def _add_image_folder(layout: _Layout, split: str, folder: Path) -> None:
    listings = _walk(folder)
    layout.add_listings(listings)
    layout.images += _walked_images(listings, split)
    for listing in listings:  # labels beside images
        if listing.images:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)
    counterpart = _labels_counterpart(folder)
    if counterpart is not None and os.path.isdir(counterpart):
        label_listings = _walk(counterpart)
        layout.add_listings(label_listings)
        for listing in label_listings:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)


def _add_image_list(layout: _Layout, split: str, list_file: Path) -> None:
    """A ``train.txt`` listing image paths (ultralytics or darknet)."""
    text, problem, _ = fileio.read_text(list_file)
    rel_list = fileio.relpath(list_file, layout.root)
    if text is None:
        if problem is not None:
            problem.file = rel_list
            layout.problems.append(problem)
        return
    layout.config_files.append(rel_list)
    folders: set[Path] = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = _resolve_listed(layout.root, list_file, entry)
        if not _inside(path, layout.root):
            layout.problems.append(Finding("F008", f"image path {entry!r} is outside the dataset root",
                                           file=rel_list, line=number))
        exists = path.is_file()
        if not exists:
            matched = _case_insensitive(path)
            if matched is not None:
                layout.problems.append(Finding(
                    "F014", f"image {entry!r} exists only as {matched.name!r} (case differs)",
                    file=rel_list, line=number, image=fileio.relpath(matched, layout.root)))
                path, exists = matched, True
        folder, name = os.path.split(str(path))
        last = layout.images[-1] if layout.images else None
        if last is not None and not last.walked and (last.split, last.folder, last.exists) == (split, folder, exists):
            last.names.append(name)
        else:
            layout.images.append(_ImageGroup(split, folder, [name], exists))
        folders.add(str(path.parent))
    for folder in folders:
        for candidate in (folder, _labels_counterpart(folder)):
            if candidate is not None and os.path.isdir(candidate):
                layout.label_pool.update(os.path.join(candidate, name) for name in sorted(os.listdir(candidate))
                                         if _is_label_name(name))


def _resolve_listed(root: Path, list_file: Path, entry: str) -> Path:
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


# ------------------------------------------------------------------------------- darknet obj.data


def _darknet(root: Path, data_path: Path) -> _Layout:
    layout = _Layout(root=root, kind="darknet")
    rel = fileio.relpath(data_path, root)
    layout.config_files.append(rel)
    text, problem, _ = fileio.read_text(data_path)
    if text is None:
        if problem is not None:
            problem.file = rel
            layout.problems.append(problem)
        return _folders(root, layout)
    config: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip()
    layout.meta["obj_data"] = config
    names_path = _resolve_listed(root, data_path, config["names"]) if config.get("names") else None
    if names_path is None or not names_path.is_file():
        names_path = _find_names_file(root)
    if names_path is not None and names_path.is_file():
        _load_names_file(layout, names_path)
    declared_classes = config.get("classes")
    if layout.names is not None and declared_classes and declared_classes.isdigit() \
            and int(declared_classes) != len(layout.names):
        layout.problems.append(Finding(
            "C006", f"classes = {declared_classes} but {layout.names_file} has {len(layout.names)} names",
            file=rel, line=_line_of(text, "classes")))
    for key in ("train", "valid", "val", "test"):
        if config.get(key):
            list_file = _resolve_listed(root, data_path, config[key])
            if list_file.is_file():
                _add_image_list(layout, key, list_file)
            else:
                layout.problems.append(Finding(
                    "I001", f"{key} list {config[key]!r} does not exist (resolved to {list_file})",
                    file=rel, line=_line_of(text, key)))
    if not layout.images:
        layout.adopt(_folders(root, _Layout(root=root, kind="folders")))
    return layout


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.split("=", 1)[0].strip() == key:
            return number
    return None


# ----------------------------------------------------------------------------------- bare folders


def _split_of(rel_parts: tuple[str, ...]) -> str:
    """Split implied by a path: images/<split>/x, <split>/images/x, obj_<split>_data/x."""
    if len(rel_parts) > 2 and rel_parts[0] in ("images", "labels"):
        return rel_parts[1]
    if len(rel_parts) > 2 and rel_parts[1] in ("images", "labels"):
        return rel_parts[0]
    if len(rel_parts) > 1:
        match = DARKNET_SPLIT_DIR.match(rel_parts[0])
        if match:
            return match.group(1)
    return ""


def _folders(root: Path, layout: _Layout) -> _Layout:
    if layout.names is None:
        names_path = _find_names_file(root)
        if names_path is not None:
            _load_names_file(layout, names_path)
    listings = _walk(root)
    layout.add_listings(listings)
    root_str = str(root)
    for listing in listings:
        # everything that decides the split or the label pool is a folder component: once per folder
        folder_parts = tuple(_rel(listing.prefix + "x", root_str).split("/")[:-1])
        if listing.images:
            layout.images.append(_ImageGroup(_split_of(folder_parts + ("x",)), listing.folder, listing.images,
                                             walked=True))
        if listing.images or "labels" in folder_parts:
            layout.label_pool.update(listing.prefix + name for name in listing.labels)
    return layout


def _root_of(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if path.is_file():
        return path.parent if path.suffix.lower() in (".yaml", ".yml", ".data") else _dataset_root_of(path)
    return path


def _discover(path: Path) -> _Layout:
    root = _root_of(path)
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            return _ultralytics(root, path)
        if path.suffix.lower() == ".data":
            return _darknet(root, path)
    yaml_path = _find_yaml(root)
    if yaml_path is not None:
        return _ultralytics(root, yaml_path)
    data_path = _find_darknet(root)
    if data_path is not None:
        return _darknet(root, data_path)
    return _folders(root, _Layout(root=root, kind="folders"))


# ------------------------------------------------------------------------------- pairing, parsing


def _pair_labels(layout: _Layout) -> tuple[list[str | None], list[str]]:
    """The label file of each image (None if none) and the label files left over (orphans).

    Per image folder, the candidate folders are worked out once; per image it is one string
    concatenation and a set lookup. A candidate outside the label pool is looked up in its
    folder's listing when that folder was listed, else on disk.
    """
    pool = layout.label_pool
    by_lower: dict[str, str] | None = None  # built on the first miss (case-insensitive pairing)
    root = str(layout.root)
    claimed: set[str] = set()
    result: list[str | None] = []
    for group in layout.images:
        prefixes = _label_prefixes(group.folder)
        listings = [layout.listings.get(prefix) for prefix in prefixes]
        walked = group.walked
        if walked:  # the usual case: every image's label is in the first candidate folder
            first = prefixes[0]
            candidates = [first + name[:name.rfind(".")] + ".txt" for name in group.names]
            if pool.issuperset(candidates):
                claimed.update(candidates)
                result += candidates
                continue
        for name in group.names:
            stem_txt = (name[:name.rfind(".")] if walked else os.path.splitext(name)[0]) + ".txt"
            candidate = prefixes[0] + stem_txt
            if candidate in pool:  # the usual case: the first candidate is a label
                claimed.add(candidate)
                result.append(candidate)
                continue
            found: str | None = None
            for prefix, listing in zip(prefixes, listings):
                candidate = prefix + stem_txt
                if candidate in pool or (candidate not in claimed and _is_file(candidate, stem_txt, listing)):
                    found = candidate
                    break
                if by_lower is None:
                    by_lower = {}
                    for path in sorted(pool):
                        by_lower.setdefault(path.lower(), path)
                loose = by_lower.get(candidate.lower())
                if loose is not None:
                    layout.problems.append(Finding(
                        "F014", f"label {os.path.basename(loose)!r} pairs with image {name!r} "
                                f"only when case is ignored", file=_rel(loose, root),
                        image=_rel(group.prefix + name, root)))
                    found = loose
                    break
            if found is not None:
                claimed.add(found)
            result.append(found)
    orphans = sorted(pool - claimed)
    return result, orphans


def _is_file(path: str, name: str, listing: _Listing | None) -> bool:
    """Whether ``path`` (named ``name`` in a folder with ``listing``, if listed) is a file."""
    if listing is not None and not listing.has_txt(name):
        return False
    return os.path.isfile(path)


def _label_prefixes(folder: str) -> list[str]:
    """Where the labels of images in ``folder`` may be: ``.../labels/...`` first, then beside them."""
    counterpart = _labels_counterpart(folder)
    prefixes = [os.path.join(counterpart, "")] if counterpart is not None else []
    prefixes.append(os.path.join(folder, ""))
    return prefixes


def _read_labels(paths: list[str]) -> list[tuple[str, Finding | None]]:
    """Read a batch of label files (batched: one thread-pool task per file costs more than the read).

    ASCII files, nearly all, need no UTF-8 decoding; any other goes through
    :func:`fileio.decode_text`.
    """
    results: list[tuple[str, Finding | None]] = []
    for path in paths:
        data = fileio.read_bytes(path)
        if isinstance(data, OSError):  # let the shared reader word the finding, as for any other file
            text, problem, _ = fileio.read_text(Path(path))
            results.append((text if text is not None else "", problem))
            continue
        if data.isascii():
            results.append((data.decode("ascii"), None))
        else:
            text, problem = fileio.decode_text(data)
            results.append((text if text is not None else "", problem))
    return results


@dataclass
class _Rows:
    """Parsed label rows, in file order: one entry per valid line."""

    file: np.ndarray  # int64 index into the label list
    line: np.ndarray  # 1-based
    class_value: np.ndarray  # int64
    raw: np.ndarray  # float64[N,4], cx cy w h (for polygons: of their bounding box)
    norm_xyxy: np.ndarray  # float64[N,4]
    kind: np.ndarray  # uint8
    segmentation: np.ndarray  # object
    malformed: list[tuple[int, int, str]]  # (file, line, reason)


def _to_floats(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Values of the tokens and a mask of the non-numeric ones (NaN there).

    ``float`` itself (what the slow path uses too) is the fastest parser here: ~10% faster than
    ``np.array(tokens, float)`` and as fast as ``np.fromstring``/``np.loadtxt``.
    """
    try:
        return np.fromiter(map(float, tokens), np.float64, len(tokens)), np.zeros(len(tokens), bool)
    except ValueError:
        values = np.empty(len(tokens), np.float64)
        bad = np.zeros(len(tokens), bool)
        for i, token in enumerate(tokens):
            try:
                values[i] = float(token)
            except ValueError:
                values[i] = np.nan
                bad[i] = True
        return values, bad


def _parse_rows(texts: list[str]) -> _Rows:
    """Parse all label files at once: one big split, numpy for the numbers."""
    joined = "\n".join(texts)
    lines = joined.split("\n")
    per_file = np.fromiter(map(str.count, texts, repeat("\n")), np.int64, len(texts)) + 1
    file_of_line = np.repeat(np.arange(len(texts), dtype=np.int64), per_file)
    line_number = np.arange(len(lines), dtype=np.int64) - np.repeat(np.cumsum(per_file) - per_file, per_file) + 1
    counts = _tokens_per_line(joined, lines)
    values, bad = _to_floats(joined.split())
    starts = np.cumsum(counts) - counts
    bad_cum = np.concatenate([[0], np.cumsum(bad)])
    line_bad = bad_cum[starts + counts] - bad_cum[starts] > 0
    nonblank = counts > 0
    class_value = np.where(nonblank, values[np.minimum(starts, max(len(values) - 1, 0))] if len(values) else 0, np.nan)
    with np.errstate(invalid="ignore"):
        class_ok = np.isfinite(class_value) & (class_value >= 0) & (class_value == np.floor(class_value))
    is_box = counts == 5
    is_polygon = (counts >= 7) & (counts % 2 == 1)
    valid = nonblank & (is_box | is_polygon) & ~line_bad & class_ok
    malformed_idx = np.flatnonzero(nonblank & ~valid)
    malformed = [(int(file_of_line[i]), int(line_number[i]),
                  _malformed_reason(lines[i], int(counts[i]), bool(line_bad[i]))) for i in malformed_idx]

    keep = np.flatnonzero(valid)
    n = len(keep)
    raw = np.full((n, 4), np.nan)
    norm = np.full((n, 4), np.nan)
    kind = np.zeros(n, np.uint8)
    segmentation = np.full(n, None, dtype=object)
    box_rows = is_box[keep]
    box_starts = starts[keep[box_rows]]
    raw[box_rows] = values[box_starts[:, None] + np.arange(1, 5)]
    cx, cy, w, h = raw[box_rows].T
    norm[box_rows] = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    poly_rows = np.flatnonzero(~box_rows)
    kind[poly_rows] = Annotations.KIND_POLYGON
    for row in poly_rows:
        line_index = keep[row]
        points = values[starts[line_index] + 1: starts[line_index] + counts[line_index]]
        xs, ys = points[0::2], points[1::2]
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max(), ys.max()
        norm[row] = (x1, y1, x2, y2)
        raw[row] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        segmentation[row] = points.tolist()
    return _Rows(file=file_of_line[keep], line=line_number[keep],
                 class_value=class_value[keep].astype(np.int64), raw=raw, norm_xyxy=norm,
                 kind=kind, segmentation=segmentation, malformed=malformed)


# Whitespace that str.split() splits on besides the single space and the newline: where none of
# it occurs and no line starts or ends with a space or holds two in a row, a line's tokens are
# its spaces plus one (half the cost of splitting every line).
_OTHER_WHITESPACE = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "  ", " \n", "\n ")


def _tokens_per_line(joined: str, lines: list[str]) -> np.ndarray:
    """How many whitespace-separated tokens each line has (``len(line.split())``)."""
    simple = (joined.isascii() and not joined.startswith(" ") and not joined.endswith(" ")
              and not any(other in joined for other in _OTHER_WHITESPACE))
    if not simple:
        return np.fromiter(map(len, map(str.split, lines)), np.int64, len(lines))
    spaces = np.fromiter(map(str.count, lines, repeat(" ")), np.int64, len(lines))
    blank = np.fromiter(map(len, lines), np.int64, len(lines)) == 0
    return np.where(blank, 0, spaces + 1)


def _malformed_reason(line: str, count: int, has_bad_token: bool) -> str:
    tokens = line.split()
    if has_bad_token:
        token = next((t for t in tokens if not _is_number(t)), tokens[0])
        return f"non-numeric value {token!r} in {line.strip()!r}"
    if count not in (5,) and not (count >= 7 and count % 2 == 1):
        return (f"expected 5 values (class cx cy w h) or a polygon (class and 3+ x y pairs), "
                f"got {count}: {line.strip()!r}")
    return f"class {tokens[0]!r} is not a non-negative integer index"


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------- read


def read(path: Path, options: ReadOptions) -> Dataset:
    """Read a YOLO dataset (folder, data.yaml, obj.data, or one label file's dataset)."""
    path = Path(path)
    cache = options.cache
    store = cache.load(NAME, str(_root_of(path)))
    listings = _ListingCache(store, cache) if cache.enabled else None
    token = _LISTINGS.set(listings)
    try:
        layout = _discover(path)
    finally:
        _LISTINGS.reset(token)
    root = layout.root
    root_str = str(root)
    label_of_image, orphans = _pair_labels(layout)
    if not layout.images and not orphans and not layout.label_pool:
        raise NotADatasetError(f"{path}: no YOLO images or label files found")

    files = list(layout.config_files)
    paired = [p for p in label_of_image if p is not None]
    unique_labels = list(dict.fromkeys(paired + orphans))
    label_index = _label_file_index(label_of_image, paired, unique_labels, orphans, len(files))
    files += _rels(unique_labels, root_str)
    problems = list(layout.problems)
    label_rows, stored, changed = cache.rows(
        NAME, root_str, unique_labels, lambda which: _parse_labels(unique_labels, which, options, problems, root_str),
        ROW_COLUMNS, store)

    # images: the listed ones, then one synthetic entry per orphan label
    # absolute and normalised, as the header prober keys them (a relative path costs it a getcwd each)
    image_paths = [prefix + name for group in layout.images
                   for prefix in (os.path.join(os.path.abspath(group.folder), ""),) for name in group.names]
    n_real = len(image_paths)
    images = Images.empty(n_real + len(orphans))
    rel_paths = [rel_prefix + name for group in layout.images
                 for rel_prefix in (_rel(group.prefix + "x", root_str)[:-1],) for name in group.names]
    images.file_name[:n_real] = rel_paths
    if all(group.exists for group in layout.images):
        exists = [True] * n_real
        images.path[:n_real] = rel_paths
    else:
        exists = [group.exists for group in layout.images for _ in group.names]
        images.path[:n_real] = [p if e else "" for p, e in zip(rel_paths, exists)]
    images.split[:n_real] = [group.split for group in layout.images for _ in group.names]
    images.src_file[:n_real + len(orphans)] = label_index
    for i, orphan in enumerate(orphans):
        rel = _rel(orphan, root_str)
        implied_image = _swap_component(orphan, "labels", "images", skip_last=True) or orphan
        images.file_name[n_real + i] = _rel(os.path.splitext(implied_image)[0], root_str)
        images.split[n_real + i] = _split_of(tuple(rel.split("/")))
        images.extra[n_real + i] = {"orphan_label": rel}
        problems.append(Finding("I006", f"label file {rel} has no image", file=rel))
    sizes_stored, sizes_changed = _probe_sizes(images, image_paths, exists, options, cache, store)
    if listings is not None and (changed or sizes_changed or listings.dirty):
        cache.save(NAME, root_str, {**stored, **sizes_stored, **listings.arrays()})

    # one parse unit per (image, label file) pair: a label shared by two entries counts for both
    pair_image = np.flatnonzero(images.src_file >= 0)
    pair_file = images.src_file[pair_image].astype(np.int64)
    first_label_file = len(files) - len(unique_labels)
    pair_label = pair_file - first_label_file
    same_order = len(pair_label) == len(label_rows.counts) and np.array_equal(pair_label, np.arange(len(pair_label)))
    rows = _rows_of(label_rows if same_order else label_rows.take(pair_label))
    for pair, line, reason in rows.malformed:
        img = int(pair_image[pair])
        problems.append(Finding("F006", reason, file=files[pair_file[pair]], line=line,
                                annotation=str(line), image=images.file_name[img]))

    categories, names_inferred = _categories(layout, rows, files)
    annotations = _annotations(rows, images, pair_image[rows.file], pair_file[rows.file], len(categories))
    meta: dict[str, Any] = dict(layout.meta)
    meta.update({"layout": layout.kind, "names_inferred": names_inferred})
    return Dataset(format=NAME, root=root, categories=categories, images=images, annotations=annotations,
                   files=files, problems=problems, meta=meta)


REPARSED_CODES = frozenset({"F001", "F006"})  # what a label file's content alone decides


def reparse(ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
    """``ds`` with the label files ``files`` (indices into ``ds.files``) read again, and the
    image rows they label; None when the change can reach past those files (a class list
    inferred from the largest index, an orphan label)."""
    if ds.meta.get("names_inferred"):
        return None
    images = ds.images
    pair_image = np.flatnonzero(np.isin(images.src_file, np.asarray(files, np.int32)))
    if orphan_label_rows(images, pair_image):
        return None
    root = str(ds.root)
    _reprobe_sizes(images, pair_image, root, options)
    problems: list[Finding] = []
    quiet = dataclasses.replace(options, progress=False)
    table = _parse_labels([os.path.join(root, ds.files[f]) for f in files], list(range(len(files))), quiet,
                          problems, root)
    position = {f: i for i, f in enumerate(files)}
    pair_file = images.src_file[pair_image].astype(np.int64)
    rows = _rows_of(table.take(np.array([position[int(f)] for f in pair_file], np.int64)))
    for pair, line, reason in rows.malformed:
        problems.append(Finding("F006", reason, file=ds.files[pair_file[pair]], line=line,
                                annotation=str(line), image=images.file_name[int(pair_image[pair])]))
    annotations = _annotations(rows, images, pair_image[rows.file], pair_file[rows.file], len(ds.categories))
    return Reparsed(annotations, problems, REPARSED_CODES, pair_image)


def _reprobe_sizes(images: Images, rows: np.ndarray, root: str, options: ReadOptions) -> None:
    """The header sizes of a few images, measured again: an image replaced in place (same
    name) changes no folder, and YOLO boxes are scaled by its size."""
    if not options.probe_images:
        return
    for row in rows.tolist():
        if images.path[row]:
            size = header_size(os.path.join(root, images.path[row]))
            images.width[row], images.height[row] = size if size else (0, 0)


def dataset_files(ds: Dataset) -> list[str]:
    """The files that describe the whole dataset (data.yaml, class lists, image lists): every
    file of ``ds.files`` that no image entry is labelled by."""
    labelled = set(ds.images.src_file[ds.images.src_file >= 0].tolist())
    return [name for i, name in enumerate(ds.files) if i not in labelled]


def orphan_label_rows(images: Images, rows: np.ndarray) -> bool:
    return any(isinstance(extra, dict) and "orphan_label" in extra for extra in images.extra[rows].tolist())


def _label_file_index(label_of_image: list[str | None], paired: list[str], unique_labels: list[str],
                      orphans: list[str], first: int) -> np.ndarray:
    """``Images.src_file`` of the images, then of the orphans: the index in ``files`` of each
    one's label file (-1 none), where the label files follow the ``first`` config files."""
    if len(unique_labels) == len(paired) + len(orphans):  # no label file serves two images: in order
        has_label = np.fromiter((p is not None for p in label_of_image), bool, len(label_of_image))
        images = np.where(has_label, np.cumsum(has_label) - 1 + first, -1)
        return np.concatenate([images, first + len(paired) + np.arange(len(orphans))]).astype(np.int32)
    index = {p: first + i for i, p in enumerate(unique_labels)}
    return np.array([index[p] if p is not None else -1 for p in label_of_image] + [index[p] for p in orphans],
                    np.int32)


def _read_all(labels: list[str], options: ReadOptions, problems: list[Finding],
              root: str) -> list[str]:
    """Texts of all label files (unreadable ones: "" plus an F001)."""
    results = fileio.batch_map(_read_labels, labels, options.workers, desc="labels", progress=options.progress)
    texts: list[str] = []
    for label, (text, problem) in zip(labels, results):
        if problem is not None:
            problem.file = _rel(label, root)
            problems.append(problem)
        texts.append(text)
    return texts


def _probe_sizes(images: Images, image_paths: list[str], exists: list[bool], options: ReadOptions,
                 cache: ReadCache,
                 store: dict[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], bool]:
    """Measured (after EXIF orientation) width/height of every present image (0 where unknown).

    With a parse cache, only images whose (size, mtime) changed are probed; returns the arrays
    to store and whether anything changed.
    """
    if not options.probe_images or not image_paths:
        return {}, False
    present = [i for i, e in enumerate(exists) if e]
    probe = [image_paths[i] for i in present]

    def measure(which: list[int]) -> np.ndarray:
        sizes = fileio.batch_map(lambda part: [header_size(p) for p in part], [probe[i] for i in which],
                               options.workers, desc="image headers", progress=options.progress)
        return np.array([s if s else (0, 0) for s in sizes], np.int64).reshape(len(which), 2)

    measured, stored, changed = cache.values(store or {}, "sizes_", probe, measure, 2)
    width = np.zeros(len(image_paths), np.int64)
    height = np.zeros(len(image_paths), np.int64)
    width[present], height[present] = measured[:, 0], measured[:, 1]
    n = len(image_paths)
    images.width[:n] = width
    images.height[:n] = height
    return stored, changed


ROW_COLUMNS = ("line", "class_value", "raw", "kind")


def _parse_labels(labels: list[str], which: list[int], options: ReadOptions, problems: list[Finding],
                  root: str) -> RowTable:
    """Read and parse ``labels[i]`` for ``i`` in ``which``: a table of their rows, file by file.

    Per-file leftovers go to ``extras``: malformed lines ``[line, reason]``, polygon points
    ``[row within the file, points]``, and ``uncacheable`` for a file that could not be read.
    """
    paths = [labels[i] for i in which]
    if not paths:
        return RowTable(counts=np.zeros(0, np.int64), columns={
            "line": np.zeros(0, np.int64), "class_value": np.zeros(0, np.int64),
            "raw": np.zeros((0, 4)), "kind": np.zeros(0, np.uint8)})
    before = len(problems)
    texts = _read_all(paths, options, problems, root)
    unreadable = {p.file for p in problems[before:]}
    rows = _parse_rows(texts)
    counts = np.bincount(rows.file, minlength=len(paths)).astype(np.int64)
    starts = np.cumsum(counts) - counts
    extras: dict[int, Any] = {}
    for file, line, reason in rows.malformed:
        extras.setdefault(file, {}).setdefault("malformed", []).append([line, reason])
    for row in np.flatnonzero(rows.kind == Annotations.KIND_POLYGON).tolist():
        file = int(rows.file[row])
        extras.setdefault(file, {}).setdefault("polygons", []).append(
            [row - int(starts[file]), rows.segmentation[row]])
    if unreadable:
        for i, path in enumerate(paths):
            if _rel(path, root) in unreadable:
                extras.setdefault(i, {})["uncacheable"] = True
    columns = {"line": rows.line, "class_value": rows.class_value, "raw": rows.raw, "kind": rows.kind}
    return RowTable(counts=counts, columns=columns, extras=extras)


def _rows_of(table: RowTable) -> _Rows:
    """The parsed rows of a table (the inverse of :func:`_parse_labels`, for any file order)."""
    raw = table.columns["raw"].astype(np.float64, copy=False)
    kind = table.columns["kind"].astype(np.uint8, copy=False)
    file = np.repeat(np.arange(len(table.counts), dtype=np.int64), table.counts)
    starts = table.offsets[:-1]
    cx, cy, w, h = raw.T
    norm = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) if len(raw) else np.zeros((0, 4))
    segmentation = np.full(len(raw), None, dtype=object)
    malformed: list[tuple[int, int, str]] = []
    for file_index, extra in sorted(table.extras.items()):
        for line, reason in extra.get("malformed", ()):
            malformed.append((file_index, int(line), str(reason)))
        for offset, points in extra.get("polygons", ()):
            row = int(starts[file_index]) + int(offset)
            values = np.asarray(points, np.float64)
            xs, ys = values[0::2], values[1::2]
            norm[row] = (xs.min(), ys.min(), xs.max(), ys.max())
            segmentation[row] = values.tolist()
    return _Rows(file=file, line=table.columns["line"].astype(np.int64, copy=False),
                 class_value=table.columns["class_value"].astype(np.int64, copy=False), raw=raw,
                 norm_xyxy=norm, kind=kind, segmentation=segmentation, malformed=malformed)


def _categories(layout: _Layout, rows: _Rows, files: list[str]) -> tuple[Categories, bool]:
    if layout.names is not None:
        src = files.index(layout.names_file) if layout.names_file in files else -1
        return Categories.build(layout.names, src_file=src, lines=layout.names_lines), False
    top = int(rows.class_value.max()) + 1 if len(rows.class_value) else 0
    return Categories.build([str(i) for i in range(top)]), True


def _annotations(rows: _Rows, images: Images, image_index: np.ndarray, file_index: np.ndarray,
                 n_classes: int) -> Annotations:
    n = len(rows.line)
    ann = Annotations.empty(n)
    ann.image = image_index.astype(np.int32)
    ann.class_id = rows.class_value
    ann.category = np.where((rows.class_value >= 0) & (rows.class_value < n_classes),
                            rows.class_value, -1).astype(np.int32)
    ann.raw = rows.raw
    ann.kind = rows.kind
    ann.segmentation = rows.segmentation
    width = images.width[image_index].astype(np.float64) if n else np.zeros(0)
    height = images.height[image_index].astype(np.float64) if n else np.zeros(0)
    known = (width > 0) & (height > 0)
    scale = np.stack([width, height, width, height], axis=1) if n else np.zeros((0, 4))
    ann.boxes = np.where(known[:, None], rows.norm_xyxy * scale, rows.norm_xyxy)
    ann.normalized = ~known
    ann.src_file = file_index.astype(np.int32)
    ann.src_line = rows.line.astype(np.int32)
    ann.src_item = rows.line.astype(np.int32)
    return ann


# ---------------------------------------------------------------------------------------- sniff


def _looks_like_label(path: Path) -> bool:
    text, _, _ = fileio.read_text(path)
    if text is None:
        return False
    lines = [line.split() for line in text.splitlines()[:20] if line.strip()]
    return bool(lines) and all((len(t) == 5 or (len(t) >= 7 and len(t) % 2 == 1))
                               and all(_is_number(x) for x in t) for t in lines)


def sniff(path: Path) -> int:
    """How sure we are that ``path`` is a YOLO dataset (0: not YOLO)."""
    path = Path(path)
    try:
        if path.is_file():
            suffix = path.suffix.lower()
            if suffix in (".yaml", ".yml"):
                text, _, _ = fileio.read_text(path)
                return 90 if text and re.search(r"^names\s*:", text, re.MULTILINE) else 0
            if suffix == ".data":
                return 90
            if suffix == ".txt" and _is_label_name(path.name):
                return 50 if _looks_like_label(path) else 0
            return 0
        if not path.is_dir():
            return 0
        if _find_yaml(path) is not None or _find_darknet(path) is not None:
            return 90
        if (path / "images").is_dir() and (path / "labels").is_dir():
            return 70
        return 40 if _has_label_beside_image(path) else 0
    except OSError:
        return 0


def _has_label_beside_image(root: Path, limit: int = 2000) -> bool:
    """A .txt label with box rows next to an image of the same stem, among the first ``limit``
    entries (folders top-down): a 100k-image folder is not listed to the end."""
    seen = 0
    folders = [os.fspath(root)]
    while folders and seen <= limit:
        folder = folders.pop(0)
        names: list[str] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > limit:
                        break
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith("."):
                            folders.append(entry.path)
                    else:
                        names.append(entry.name)
        except OSError:
            continue
        stems = {os.path.splitext(n)[0] for n in names if fileio.is_image(n)}
        for name in names:
            if _is_label_name(name) and os.path.splitext(name)[0] in stems:
                return _looks_like_label(Path(folder) / name)
    return False


# ---------------------------------------------------------------------------------------- write


YAML_OWN_KEYS = ("path", "train", "val", "test", "nc", "names")


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """Write ``ds`` in the ultralytics layout under ``dst``; every loss goes to ``options``."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    names_out = _unique_names(ds, options)
    label_texts = _label_texts(ds, options)

    labels: list[tuple[Path, str]] = []
    placements: list[tuple[Path, Path]] = []
    missing = 0
    for i in range(len(ds.images)):
        split = _safe_split(str(ds.images.split[i] or ""))
        prefix = f"/{split}" if split else ""
        name = names_out[i]
        labels.append((dst / f"labels{prefix}/{os.path.splitext(name)[0]}.txt", label_texts[i]))
        source = str(ds.images.path[i] or "")
        if source:
            placements.append((ds.root / source, dst / f"images{prefix}/{name}"))
        else:
            missing += 1
    # Label files are written from one thread: creating files in one folder from many threads
    # contends on the folder lock and was 3x slower (measured on ext4/overlayfs).
    for target, text in labels:
        fileio.atomic_write_text(target, text)

    def place(batch: list[tuple[Path, Path]]) -> int:
        """Place a batch of images (copies, when links fail, benefit from threads)."""
        return sum(not fileio.place_image(source, target, link=options.link_images) for source, target in batch)

    batches = [placements[i:i + 256] for i in range(0, len(placements), 256)]
    not_found = fileio.thread_map(place, batches, workers=8, desc="images", progress=False)
    options.lose("image file missing (label written, image not copied)", missing + sum(not_found))
    fileio.atomic_write_text(dst / "data.yaml", _data_yaml(ds, options))


def _safe_split(split: str) -> str:
    """A split name usable as one folder name (no separators, no ``..``)."""
    return re.sub(r"[^\w.-]+", "_", split).strip(".") if split else ""


def _unique_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """One file name per image, unique per split (case-insensitively, by stem)."""
    used: dict[tuple[str, str], int] = {}
    names: list[str] = []
    renamed = 0
    for i in range(len(ds.images)):
        source = str(ds.images.path[i] or ds.images.file_name[i] or f"image_{i}")
        safe = fileio.safe_relative(source) or source.replace("\\", "/")
        name = safe.rsplit("/", 1)[-1] or f"image_{i}"
        stem, ext = os.path.splitext(name)
        key = (str(ds.images.split[i]), stem.lower())
        if key in used:
            used[key] += 1
            while (key[0], f"{stem}_{used[key]}".lower()) in used:
                used[key] += 1
            stem = f"{stem}_{used[key]}"
            renamed += 1
            used[(key[0], stem.lower())] = 0
        else:
            used[key] = 0
        names.append(stem + ext)
    options.lose("file name collision (renamed)", renamed, "two images of one split share a file stem")
    return names


def _fmt(values: np.ndarray) -> list[str]:
    return [f"{v:.{COORD_DECIMALS}f}" for v in values]


def _label_texts(ds: Dataset, options: WriteOptions) -> list[str]:
    """The label file text of every image (empty for images without rows)."""
    ann = ds.annotations
    n_images = len(ds.images)
    if not len(ann):
        return [""] * n_images
    width = ds.images.width.astype(np.float64)[ann.image]
    height = ds.images.height.astype(np.float64)[ann.image]
    size_known = (width > 0) & (height > 0)
    boxless = ~ann.has_box | (ann.kind == Annotations.KIND_NONE)
    unknown_class = ann.category < 0
    can_place = ann.normalized | size_known
    write_mask = ~boxless & ~unknown_class & can_place
    options.lose("annotation without a box", int(boxless.sum()))
    options.lose("annotation of an unknown class", int((~boxless & unknown_class).sum()))
    options.lose("box on an image of unknown size (cannot normalise)",
                 int((~boxless & ~unknown_class & ~can_place).sum()))
    options.lose("iscrowd flag", int((write_mask & (ann.iscrowd == 1)).sum()), "crowd boxes written as boxes")
    for flag in ("difficult", "truncated", "occluded"):
        options.lose(f"{flag} flag", int((write_mask & (getattr(ann, flag) == 1)).sum()))
    polygon_rows = write_mask & (ann.kind == Annotations.KIND_POLYGON) & np.array(
        [isinstance(s, list) and len(s) >= 6 and not isinstance(s[0], list) for s in ann.segmentation], bool)
    has_other_seg = write_mask & ~polygon_rows & np.array([bool(s) for s in ann.segmentation], bool)
    options.lose("segmentation dropped", int(has_other_seg.sum()), "detection export writes boxes")
    if ds.format != NAME:
        options.lose("annotation extra fields", int(sum(e is not None for e in ann.extra[write_mask])))

    scale = np.where(ann.normalized[:, None], 1.0, np.stack([width, height, width, height], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):  # unknown sizes give NaN rows, never written
        norm = ann.boxes / scale
        cx = (norm[:, 0] + norm[:, 2]) / 2
        cy = (norm[:, 1] + norm[:, 3]) / 2
        w = norm[:, 2] - norm[:, 0]
        h = norm[:, 3] - norm[:, 1]
    index = np.flatnonzero(write_mask)
    index = index[np.lexsort((ann.src_item[index], ann.image[index]))] if ds.format == NAME else \
        index[np.argsort(ann.image[index], kind="stable")]
    lines: list[list[str]] = [[] for _ in range(n_images)]
    category = ann.category
    for i in index:
        if polygon_rows[i]:
            points = " ".join(_fmt(np.asarray(ann.segmentation[i], np.float64)))
            lines[ann.image[i]].append(f"{category[i]} {points}")
        else:
            lines[ann.image[i]].append(
                f"{category[i]} {cx[i]:.6f} {cy[i]:.6f} {w[i]:.6f} {h[i]:.6f}")
    return ["".join(line + "\n" for line in rows) for rows in lines]


def _data_yaml(ds: Dataset, options: WriteOptions) -> str:
    import yaml

    splits = [_safe_split(str(split)) for split in ds.splits] or [""]
    content: dict[str, Any] = {"path": "."}
    if "" in splits:  # unsplit images live directly in images/; trainers need train and val keys
        content["train"] = content["val"] = "images"  # the reader reads such a pair once, unsplit
    for split in splits:
        if not split:
            continue
        key = "val" if split in ("valid", "validation") else split
        if key in content and key in SPLIT_KEYS:
            key = split  # e.g. both "val" and "valid": keep the second under its own name
        content.setdefault(key, f"images/{split}")
    content["nc"] = len(ds.categories)
    content["names"] = list(ds.categories.names)
    source_yaml = ds.meta.get("yaml") if ds.format == NAME else None
    if isinstance(source_yaml, dict):
        for key, value in source_yaml.items():
            if key not in YAML_OWN_KEYS:
                content[key] = value
    elif ds.format != NAME:
        dropped = sum(1 for e in ds.categories.extra if e)
        options.lose("category extra fields (e.g. supercategory)", dropped)
    return yaml.safe_dump(content, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- transitional adapter
# Replaced by the detlint/formats/yolo/ package's FORMAT object.
from detlint.formats.protocol import FormatBase as _FormatBase, Trait as _Trait  # noqa: E402


class _Adapter(_FormatBase):
    name = NAME
    title = "YOLO"
    traits = frozenset({_Trait.NORMALIZED_COORDINATES, _Trait.LABEL_ROWS, _Trait.CLASS_INDEX})

    def sniff(self, path):
        return sniff(path)

    def read(self, path, options):
        return read(path, options)

    def write(self, ds, dst, options):
        return write(ds, dst, options)

    def write_back(self, old, new):
        from detlint.formats import _writeback_yolo

        return _writeback_yolo.yolo_changes(old, new)


    def reparse(self, ds, files, options):
        return reparse(ds, files, options)

    def dataset_files(self, ds):
        return dataset_files(ds)


    def raw_from_boxes(self, ds, rows):
        from detlint.formats import _raw_boxes

        return _raw_boxes.yolo(ds, rows)


FORMAT = _Adapter()
