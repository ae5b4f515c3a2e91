"""Dataset snapshots: the pre-commit re-check of a few label files without reading the rest.

pre-commit passes ``detlint check`` the few annotation files a commit changes. Re-reading a
118k-file dataset around them costs seconds even with the parse cache (one ``stat`` per file
alone is ~4 us), so after a full check detlint stores the whole loaded :class:`Dataset` (its
numpy columns) as a snapshot, and a later check of *files* builds the dataset from it:

1. the snapshot must be for the same dataset path, format and read options, and still
   describe the layout: every dataset-level file (``data.yaml``, class lists, split lists) has
   its size and mtime, and every folder under the dataset root (and around its files) its mtime.
   A folder's mtime changes when an entry is added, removed or renamed: new, deleted and renamed
   files, but also a file saved by writing a copy and renaming it over the original (vim,
   ``sed -i``, git checkout). So a folder with a new mtime but the same names keeps the
   snapshot: its per-image files are stat'ed against the sizes and mtimes stored with the
   snapshot and the changed ones re-read. A folder of images with a new mtime, or one whose
   names changed, means a full read;
2. every passed file must be one of the snapshot's per-image annotation files (a YOLO label
   file, a VOC XML): those are re-read by the format's ``reparse`` (which hands back fresh rows, a
   :class:`~detlint.readcache.Reparsed`) and spliced in by :func:`splice`, and so are
   the files re-read by earlier fast re-checks since the snapshot was written (kept in a small
   overlay list), so the snapshot is rewritten only after a full read;
3. the rules then run on the spliced columns: per-image rules (``SCOPE = "image"``) only on the
   images of the passed files, dataset-wide rules on everything (see ``engine.run_rules``).

Anything else (a passed class map or COCO JSON, a change the reparse cannot splice, such as a
VOC class name never seen before, a missing or unusable snapshot) falls back to the full read,
which writes a fresh snapshot. What it trusts: a per-image file that was neither passed nor
re-read since the snapshot, in a folder whose mtime did not change, is as the snapshot saw it
(files changed while the snapshot's read ran are re-read every time). Under pre-commit that
holds: pre-commit passes every staged file and restores unstaged ones through git, which
replaces files. A file edited in place *and* committed without the hook is seen again at the
next whole-dataset check. ``--no-cache`` and whole-dataset checks never use snapshots.

Storage: one column file per (dataset path, format, read options) in the cache folder (see
:mod:`detlint.incremental.columns`: a JSON header, then the arrays at aligned offsets, mapped
back copy-on-write; no pickle anywhere). Object columns are stored as a table of their distinct values
(JSON) plus an index per row; the read-back is compared with the original when written, so a
value JSON cannot carry exactly (a tuple, a non-string dict key) means no snapshot, never a
changed one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson

from detlint.boundary import CACHE_BYTES, read_file
from detlint.fileio import atomic_write_bytes, cache_dir
from detlint.incremental.columns import (
    SNAPSHOT_VERSION,
    column_file,
    decode,
    encode,
    finding_dict,
    finding_from,
    pack,
    read_column_file,
    unpack,
)
from detlint.incremental.stats import RACY_NS, folders_under, listing_digest, size_mtime
from detlint.model import Annotations, Dataset
from detlint.readcache import Reparsed

log = logging.getLogger("detlint")

UNTRACKED = -2  # member_stats rows of files that are not per-image files
MAX_OVERLAY = 256  # files re-read since the snapshot; beyond this a full read rewrites it
KEEP_SNAPSHOTS = 8  # the most recently written; a snapshot is as big as the dataset's columns

# ------------------------------------------------------------------------------------ identity


def snapshot_file(path: Path, key: dict[str, Any]) -> Path:
    """Where the snapshot of ``path`` read with ``key`` (format and read options) lives."""
    digest = hashlib.blake2b(orjson.dumps([os.path.abspath(path), key], option=orjson.OPT_SORT_KEYS),
                             digest_size=10).hexdigest()
    return cache_dir() / f"snapshot-v{SNAPSHOT_VERSION}-{digest}.columns"


def _overlay_file(snapshot: Path) -> Path:
    return snapshot.with_suffix(".overlay.json")


# --------------------------------------------------------------------------------- the watch list


class Incremental(Protocol):
    """What the snapshot needs of a format (a :class:`~detlint.formats.protocol.Format`): the
    caller hands the format object in, so this package never imports the formats."""

    incremental: bool

    def dataset_files(self, ds: Dataset) -> list[str]: ...

    def reparse(self, ds: Dataset, files: list[int], options: Any) -> Reparsed | None: ...


FormatLookup = Callable[[str], Incremental]


def watch_list(ds: Dataset, fmt: Incremental, dataset_path: Path, config_source: Path | None) -> dict[str, list]:
    """What must hold for the snapshot to describe the dataset: each folder's mtime, or else
    the same names in it (then its per-image files are stat'ed: an editor that saves by a rename,
    a git checkout), and the (size, mtime) of every dataset-level file."""
    root = os.path.abspath(ds.root)
    fixed = [os.path.join(root, name) for name in fmt.dataset_files(ds)]
    if config_source is not None:
        fixed.append(os.fspath(config_source))
    if os.path.isfile(dataset_path):
        fixed.append(os.path.abspath(dataset_path))
    folders = set(folders_under(root))
    for rel in ds.files:
        folders.add(os.path.dirname(os.path.normpath(os.path.join(root, rel))))
    image_folders = {os.path.dirname(os.path.normpath(os.path.join(root, rel)))
                     for rel in dict.fromkeys(ds.images.path.tolist()) if rel}
    folders |= image_folders
    return {"folders": [[f, size_mtime(f)[1], listing_digest(f), f in image_folders] for f in sorted(folders)],
            "files": [[f, *size_mtime(f)] for f in sorted(set(fixed))]}


def _stale_members(watch: dict[str, list], ds: Dataset, member_stats: np.ndarray) -> list[int] | None:
    """Per-image files (indices into ``ds.files``) that changed in folders whose names did not;
    None when the layout changed (a dataset-level file, a folder's names, a folder of images)."""
    if not all(list(size_mtime(path)) == [size, mtime] for path, size, mtime in watch["files"]):
        return None
    touched = set()
    for folder, mtime, digest, holds_images in watch["folders"]:
        if size_mtime(folder)[1] == mtime:
            continue
        if holds_images or listing_digest(folder) != digest:
            return None
        touched.add(folder)
    if not touched:
        return []
    root = os.path.join(os.path.abspath(ds.root), "")
    stale = []
    for i in np.flatnonzero(member_stats[:, 0] != UNTRACKED).tolist():
        path = os.path.normpath(root + ds.files[i])
        if os.path.dirname(path) in touched and list(size_mtime(path)) != member_stats[i].tolist():
            stale.append(i)
    return stale


def _member_stats(ds: Dataset, read_started_ns: int, watch: dict[str, list]) -> tuple[np.ndarray, list[str]]:
    """(size, mtime) of each per-image file, also of one that did not parse (UNTRACKED rows
    for dataset-level files), and the files changed since just before the read began: those go
    to the overlay, re-read every time."""
    stats = np.full((len(ds.files), 2), UNTRACKED, np.int64)
    root = os.path.join(os.path.abspath(ds.root), "")
    dataset_level = {path for path, _, _ in watch["files"]}
    recent = []
    for i in range(len(ds.files)):
        if os.path.normpath(root + ds.files[i]) in dataset_level:
            continue
        size, mtime = size_mtime(root + ds.files[i])
        stats[i] = (size, mtime)
        if mtime < 0 or mtime >= read_started_ns - RACY_NS:
            recent.append(ds.files[i])
    return stats, recent


# ------------------------------------------------------------------------------------ save/load


def save(ds: Dataset, fmt: Incremental, dataset_path: Path, key: dict[str, Any], config_source: Path | None,
         read_started_ns: int) -> None:
    """Store ``ds``, fully read from ``read_started_ns`` on, as the snapshot of ``dataset_path``;
    never fails. Not when a watched folder or file changed since just before the read began: a
    change within its timestamp's granularity would go unseen."""
    if not fmt.incremental:
        return
    target = snapshot_file(dataset_path, key)
    try:
        watch = watch_list(ds, fmt, dataset_path, config_source)
        newest = max([f[1] for f in watch["folders"]] + [m for _, _, m in watch["files"]], default=0)
        if newest >= read_started_ns - RACY_NS:
            log.debug("no snapshot for %s: it changed while it was read", dataset_path)
            _forget(target)
            return
        arrays = encode(ds)
        arrays["member_stats"], recent = _member_stats(ds, read_started_ns, watch)
        header = {"format": ds.format, "root": os.fspath(ds.root), "files": ds.files,
                  "meta": pack(ds.meta), "problems": [pack(finding_dict(p)) for p in ds.problems],
                  "categories": {"names": ds.categories.names, "extra": pack(ds.categories.extra)},
                  "watch": watch}
        header_bytes = orjson.dumps(header)
        back = orjson.loads(header_bytes)
        if unpack(back["meta"]) != ds.meta or [finding_from(unpack(p)) for p in back["problems"]] != ds.problems \
                or unpack(back["categories"]["extra"]) != ds.categories.extra:
            raise ValueError("dataset extras do not survive JSON")
        atomic_write_bytes(target, column_file(header_bytes, arrays))
        _overlay_file(target).unlink(missing_ok=True)
        if recent and not record_overlay(target, recent):
            target.unlink(missing_ok=True)  # too many files changed during the read to trust it
        _prune(target.parent)
    except (OSError, ValueError, TypeError, orjson.JSONEncodeError) as error:
        log.debug("no snapshot for %s (%s)", dataset_path, error)
        _forget(target)  # an older snapshot no longer describes the files just read


def _forget(target: Path) -> None:
    for path in (target, _overlay_file(target)):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def load(dataset_path: Path, key: dict[str, Any]) -> tuple[Dataset, list[str], Path] | None:
    """(dataset, files to re-read: changed since it was written, snapshot path) when a usable
    snapshot of ``dataset_path`` exists and its layout is unchanged; None otherwise."""
    target = snapshot_file(dataset_path, key)
    try:
        header, arrays = read_column_file(target)
        member_stats = arrays.pop("member_stats")
        ds = decode(header, arrays).validate()
        if member_stats.shape != (len(ds.files), 2):
            raise ValueError("member stats do not match the files")
        stale = _stale_members(header["watch"], ds, member_stats)
        if stale is None:
            log.debug("snapshot of %s: the layout changed; reading everything", dataset_path)
            return None
    except FileNotFoundError:
        return None
    except Exception as error:  # a corrupt file can fail in numpy, mmap, orjson or the OS
        log.debug("snapshot of %s unusable (%s); reading everything", dataset_path, error)
        return None
    return ds, sorted(set(_overlay(target)) | {ds.files[i] for i in stale}), target


def _prune(folder: Path) -> None:
    """Delete all but the ``KEEP_SNAPSHOTS`` newest snapshots (each dataset path and set of read
    options has its own)."""
    try:
        found = sorted(folder.glob(f"snapshot-v{SNAPSHOT_VERSION}-*.columns"), key=lambda p: p.stat().st_mtime_ns)
        for old in found[:-KEEP_SNAPSHOTS]:
            old.unlink(missing_ok=True)
            _overlay_file(old).unlink(missing_ok=True)
    except OSError as error:  # a file deleted meanwhile by another detlint
        log.debug("snapshot pruning stopped (%s)", error)


def _overlay(target: Path) -> list[str]:
    try:
        files = orjson.loads(read_file(_overlay_file(target), CACHE_BYTES))
        return [f for f in files if isinstance(f, str)]
    except (OSError, orjson.JSONDecodeError, TypeError):
        return []


def record_overlay(target: Path, files: list[str]) -> bool:
    """Remember the files re-read since the snapshot; False when there are too many (re-snapshot)."""
    if len(files) > MAX_OVERLAY:
        return False
    try:
        atomic_write_bytes(_overlay_file(target), orjson.dumps(sorted(files)))
    except OSError as error:
        log.debug("snapshot overlay %s not written (%s)", target, error)
    return True


# ---------------------------------------------------------------------------------- the fast path


def patched(dataset_path: Path, key: dict[str, Any], passed: set[str], options: Any,
            formats: FormatLookup) -> tuple[Dataset, np.ndarray] | None:
    """The dataset with the ``passed`` files (absolute paths) re-read, and the image rows they
    (and earlier re-read files) touch; None when only a full read can answer. ``formats`` looks
    a format up by the name the snapshot stored."""
    found = load(dataset_path, key)
    if found is None:
        return None
    ds, overlay, target = found
    root = os.path.abspath(ds.root)
    members = set(ds.images.src_file[ds.images.src_file >= 0].tolist())
    wanted = set(_file_indices(ds.files, [os.path.relpath(p, root).replace(os.sep, "/") for p in passed]))
    if -1 in wanted or not wanted <= members:
        return None  # a passed file the snapshot does not hold per image
    changed = _file_indices(ds.files, overlay)
    if not set(changed) <= members:
        return None  # a changed file that declared no image (it did not parse): read everything
    wanted |= set(changed)
    fmt = formats(ds.format)
    files = sorted(wanted)
    reparsed = fmt.reparse(ds, files, options) if fmt.incremental else None
    if reparsed is None:
        return None
    new_ds = splice(ds, files, reparsed)
    if reparsed.accept is not None and not reparsed.accept(new_ds):
        return None
    if not record_overlay(target, [ds.files[i] for i in sorted(wanted)]):
        return None
    log.debug("%s: %d file(s) re-read into its snapshot", dataset_path, len(wanted))
    return new_ds.validate(), np.asarray(reparsed.image_rows, np.int64)


def _file_indices(files: list[str], names: list[str]) -> list[int]:
    """Index of each name in ``files`` (-1: absent); a few names are searched, not indexed."""
    if len(names) > 32:
        index = {name: i for i, name in enumerate(files)}
        return [index.get(name, -1) for name in names]
    return [files.index(name) if name in files else -1 for name in names]


def splice(ds: Dataset, files: list[int], reparsed: Reparsed) -> Dataset:
    """``ds`` with the annotations of ``files`` (indices into ``ds.files``) replaced by the
    reparsed rows, and their reader problems of ``reparsed.replaced_codes`` by its problems.

    Rows stay grouped by image in image order, as every reader emits them, so rules that look
    at row order (which of two duplicates is the copy) see what a full read gives them.
    """
    old, annotations = ds.annotations, reparsed.annotations
    removed = np.flatnonzero(np.isin(old.src_file, np.asarray(files, np.int32)))
    if len(removed) == len(annotations) and np.array_equal(old.image[removed], annotations.image):
        merged = old  # as many rows as before on the same images (a box edited): in place
        for name in old.__dict__:
            getattr(merged, name)[removed] = getattr(annotations, name)
    else:
        merged = _merged(old, removed, annotations)
    if reparsed.renumber:
        merged.id = np.arange(len(merged), dtype=np.int64)  # the format numbers its rows in order
    names = {ds.files[f] for f in files}
    kept = [p for p in ds.problems if not (p.file in names and p.code in reparsed.replaced_codes)]
    return dataclasses.replace(ds, annotations=merged, problems=kept + reparsed.problems, meta=dict(ds.meta))


def _merged(old: Annotations, removed: np.ndarray, new: Annotations) -> Annotations:
    """``old`` without the rows ``removed``, with ``new`` (sorted by image) placed after the
    rows of their images, by slices (a fancy-index copy of 860k rows costs far more)."""
    image = old.image
    if len(image) > 1 and bool((image[1:] < image[:-1]).any()):  # not grouped by image: sort
        keep = np.ones(len(old), bool)
        keep[removed] = False
        merged = Annotations.concat([old.take(keep), new])
        return merged.take(np.argsort(merged.image, kind="stable"))
    pieces = _pieces(removed, np.searchsorted(image, new.image, side="right"), len(image))
    columns = {}
    for name in old.__dict__:
        sources = (getattr(old, name), getattr(new, name))
        parts = [sources[which][start:end] for which, start, end in pieces if end > start]
        columns[name] = np.concatenate(parts) if parts else sources[0][:0]
    return Annotations(**columns)


def _pieces(removed: np.ndarray, positions: np.ndarray, n_old: int) -> list[tuple[int, int, int]]:
    """(0: old / 1: new, start, end) slices that drop the ``removed`` old rows and put each new
    row before old row ``positions[k]`` (non-decreasing)."""
    breaks = np.flatnonzero(np.diff(removed) != 1) + 1
    run_starts = removed[np.r_[0, breaks]].tolist() if len(removed) else []
    run_ends = (removed[np.r_[breaks - 1, len(removed) - 1]] + 1).tolist() if len(removed) else []
    change = np.flatnonzero(np.diff(positions) != 0) + 1
    group_starts = np.r_[0, change].tolist() if len(positions) else []
    group_ends = np.r_[change, len(positions)].tolist() if len(positions) else []
    group_at = [int(positions[g]) for g in group_starts]
    pieces: list[tuple[int, int, int]] = []
    cursor = i = j = 0
    while i < len(run_starts) or j < len(group_at):
        if j == len(group_at) or (i < len(run_starts) and run_starts[i] < group_at[j]):
            pieces.append((0, cursor, run_starts[i]))
            cursor = max(cursor, run_ends[i])
            i += 1
        else:
            at = max(group_at[j], cursor)
            pieces.append((0, cursor, at))
            pieces.append((1, group_starts[j], group_ends[j]))
            cursor = at
            j += 1
    pieces.append((0, cursor, n_old))
    return pieces
