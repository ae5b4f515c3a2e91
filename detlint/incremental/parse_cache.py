"""The annotation parse cache: a re-check re-parses only the files that changed.

``detlint check`` re-run after editing one label file of a 118k-image dataset should not read
118k files again. Readers keep, per dataset root, what they parsed from each file, keyed by
(absolute path, size, mtime_ns):

- YOLO: the parsed rows of every label file as numpy columns plus per-file offsets (a changed
  file's rows are re-parsed and spliced in), every image's header size (YOLO boxes are
  normalised by it), and the folder listings, keyed by each folder's mtime_ns (taken just before
  it was listed). A folder's mtime changes when an entry is added, removed or renamed in it, not
  when a file's content changes, so an unchanged folder is not listed again; this relies on a
  file system that keeps folder mtimes (every local POSIX one). Files are still stat'ed one by
  one: an image re-saved in place (same name, new size) changes no folder mtime;
- VOC: the parsed content of every XML file.

Everything else (pairing, building the tables, the rules) runs as without a cache, so the cache
cannot change a result: the same code builds the dataset from cached and from freshly parsed
rows. Files and folders touched in the last two seconds are not cached (a second write within the
file system's timestamp granularity could keep size and mtime), nor are unreadable ones. When the
same files as last time are found and under ``RESAVE_FRACTION`` of them changed, the cache is not
rewritten: those few are re-parsed on each run (their stored stats no longer match).

Storage: one ``.npz`` per (kind, dataset root) in :func:`cache_dir` (``DETLINT_CACHE_DIR``, else
the platform cache folder, shared with the image cache), written atomically, read with
``allow_pickle=False`` (a cache file can never run code). A missing, corrupt, stale-version or
unwritable cache means a full parse and a debug log line, never a failure. ``detlint check
--no-cache`` turns it off. The caller hands the cache to the readers in
``ReadOptions.cache`` (the :class:`~detlint.readcache.ReadCache` protocol); ``detlint.load`` used
as a library gets :class:`~detlint.readcache.NoCache` and never caches.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from detlint.boundary import CACHE_BYTES, open_regular
from detlint.fileio import atomic_write_bytes, cache_dir
from detlint.incremental.stats import STAT_MISSING, cacheable, stat_many, trusted_mtime
from detlint.readcache import Compute, Parse, RowTable, decode_paths, encode_paths

log = logging.getLogger("detlint")

CACHE_VERSION = 1
RESAVE_FRACTION = 0.01  # fewer changed files than this share are re-parsed each run, not re-saved


class ParseCache:
    """Cached parse results on disk, one ``.npz`` of named arrays per (kind, dataset root): the
    :class:`~detlint.readcache.ReadCache` that ``detlint check`` hands its readers."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory  # None: caching disabled

    @classmethod
    def open(cls, enabled: bool = True) -> ParseCache:
        return cls(cache_dir() if enabled else None)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def file_for(self, kind: str, root: str) -> Path | None:
        if self.directory is None:
            return None
        key = f"{kind}\0{os.path.abspath(root)}".encode("utf-8", "surrogatepass")
        digest = hashlib.blake2b(key, digest_size=10).hexdigest()
        return self.directory / f"parse-{kind}-v{CACHE_VERSION}-{digest}.npz"

    def load(self, kind: str, root: str) -> dict[str, np.ndarray]:
        """The stored arrays ({} when there are none or they are unusable)."""
        path = self.file_for(kind, root)
        if path is None:
            return {}
        opened = open_regular(os.fspath(path), CACHE_BYTES)  # never a FIFO or /dev/zero put in its place
        if not isinstance(opened, tuple):
            if not isinstance(opened, FileNotFoundError):
                log.debug("parse cache %s not read (%s); parsing everything", path, opened)
            return {}
        try:
            with os.fdopen(opened[0], "rb") as fh, np.load(fh, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as error:  # a corrupt file can fail in numpy, zipfile or the OS
            log.debug("parse cache %s unreadable (%s); parsing everything", path, error)
            return {}
        stamp = arrays.get("__key__")
        if stamp is None or _text(stamp) != f"{CACHE_VERSION}\0{os.path.abspath(root)}":
            log.debug("parse cache %s is for another version or root; parsing everything", path)
            return {}
        return arrays

    def save(self, kind: str, root: str, arrays: dict[str, np.ndarray]) -> None:
        path = self.file_for(kind, root)
        if path is None:
            return
        try:
            buffer = io.BytesIO()
            np.savez(buffer, __key__=_bytes(f"{CACHE_VERSION}\0{os.path.abspath(root)}"), **arrays)
            atomic_write_bytes(path, buffer.getvalue())
        except (OSError, ValueError, TypeError) as error:
            log.debug("parse cache %s not written (%s)", path, error)

    def rows(self, kind: str, root: str, paths: list[str], parse: Parse, names: tuple[str, ...],
             store: dict[str, np.ndarray] | None = None) -> tuple[RowTable, dict[str, np.ndarray], bool]:
        if not self.enabled:
            return parse(list(range(len(paths)))), {}, False
        return cached_rows(self, kind, root, paths, parse, names, store)

    def values(self, store: dict[str, np.ndarray], prefix: str, paths: list[str], compute: Compute,
               width: int) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
        if not self.enabled:
            return compute(list(range(len(paths)))).reshape(len(paths), width), {}, False
        return cached_values(store, prefix, paths, compute, width)

    def trusted_mtime(self, path: str) -> int:
        return trusted_mtime(path) if self.enabled else -1


def _bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def _text(array: np.ndarray) -> str:
    return array.tobytes().decode("utf-8", "surrogatepass")


def cached_slots(paths: list[str], encoded: np.ndarray, stats: np.ndarray, stored: dict[str, np.ndarray],
                 prefix: str, entries: int | None) -> np.ndarray:
    """int64[n]: the slot in the stored ``prefix`` entries of each path still fresh; -1 else.

    The usual re-check sees the same files in the same order: the encoded path lists are equal
    (one memcmp) and the slots follow from comparing the stats, with no dict of 118k paths.
    ``entries`` is how many entries the stored records hold (None: none usable).
    """
    cached_encoded = stored.get(f"{prefix}paths")
    cached_stats = stored.get(f"{prefix}stats")
    if entries is None or cached_encoded is None or cached_stats is None or len(cached_stats) != entries:
        return np.full(len(paths), -1, np.int64)
    if entries == len(paths) and np.array_equal(cached_encoded, encoded):
        same = (cached_stats == stats).all(axis=1) & (stats[:, 0] >= 0)
        return np.where(same, np.arange(len(paths), dtype=np.int64), -1)
    cached_paths = decode_paths(cached_encoded)
    if len(cached_paths) != entries:
        return np.full(len(paths), -1, np.int64)
    return fresh_slots(paths, stats, cached_paths, cached_stats)


def needs_saving(slots: np.ndarray, stale: np.ndarray, had_cache: bool) -> bool:
    """Whether the stored records must be rewritten.

    Not when the same files are in the same order and only a few changed: those few are
    re-parsed on every run until more than ``RESAVE_FRACTION`` of the files differ, instead
    of rewriting ~60 MB (at COCO scale) after each edit. A stale entry stays stale (its stored
    stat no longer matches), so this never serves an old result.
    """
    if not had_cache:
        return True
    same_order = np.array_equal(np.where(slots >= 0, slots, np.arange(len(slots))), np.arange(len(slots)))
    return not same_order or len(stale) > RESAVE_FRACTION * len(slots)


def fresh_slots(paths: list[str], stats: np.ndarray, cached_paths: list[str],
                cached_stats: np.ndarray | None) -> np.ndarray:
    """int64[n]: the cache slot of each path whose stored (size, mtime_ns) still holds; -1 else."""
    slots = np.full(len(paths), -1, np.int64)
    if not cached_paths or cached_stats is None or len(cached_stats) != len(cached_paths):
        return slots
    index = {path: i for i, path in enumerate(cached_paths)}
    found = np.fromiter((index.get(path, -1) for path in paths), np.int64, len(paths))
    hit = found >= 0
    same = np.zeros(len(paths), bool)
    same[hit] = (cached_stats[found[hit]] == stats[hit]).all(axis=1) & (stats[hit, 0] >= 0)
    slots[same] = found[same]
    return slots


def cached_rows(cache: ParseCache, kind: str, root: str, paths: list[str],
                parse: Parse, names: tuple[str, ...],
                store: dict[str, np.ndarray] | None = None) -> tuple[RowTable, dict[str, np.ndarray], bool]:
    """Rows of every file in ``paths``, parsing only those not fresh in the cache.

    ``parse(indices)`` parses the files ``paths[i]`` and returns their table (in that order) and
    marks unreadable ones by leaving them out of the cache (``extras[i]["uncacheable"]``).
    Returns the table, the arrays to store, and whether anything changed.
    """
    stored = store if store is not None else cache.load(kind, root)
    stats = stat_many(paths)
    encoded = encode_paths(paths)
    old = RowTable.from_arrays(stored, "rows_", names) if stored else None
    slots = cached_slots(paths, encoded, stats, stored, "rows_", len(old.counts) if old is not None else None)
    stale = np.flatnonzero(slots < 0)
    fresh = parse(stale.tolist())
    if old is None or len(stale) == len(paths):
        table = fresh
    elif len(old.counts) == len(paths) and np.array_equal(slots[slots >= 0], np.flatnonzero(slots >= 0)):
        table = old.replaced(stale, fresh) if len(stale) else old  # same files, same order
    else:
        where = slots.copy()
        where[stale] = len(old.counts) + np.arange(len(stale))
        table = RowTable.concat(old, fresh).take(where)
    keep = cacheable(stats)
    for i, extra in table.extras.items():
        if isinstance(extra, dict) and extra.get("uncacheable"):
            keep[i] = False
    stored_stats = np.where(keep[:, None], stats, STAT_MISSING)
    changed = needs_saving(slots, stale, old is not None) or (
        old is not None and len(old.counts) != len(paths))
    arrays = {**table.arrays("rows_"), "rows_paths": encoded, "rows_stats": stored_stats}
    return table, arrays, changed


def cached_values(store: dict[str, np.ndarray], prefix: str, paths: list[str],
                  compute: Compute, width: int) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
    """A fixed-width int64 record per path (e.g. an image's size), computing only stale ones."""
    stats = stat_many(paths)
    encoded = encode_paths(paths)
    old_values = store.get(f"{prefix}values")
    entries = len(old_values) if old_values is not None and old_values.ndim == 2 and old_values.shape[1] == width \
        else None
    slots = cached_slots(paths, encoded, stats, store, prefix, entries)
    stale = np.flatnonzero(slots < 0)
    values = np.zeros((len(paths), width), np.int64)
    if len(slots) - len(stale):
        hit = slots >= 0
        values[hit] = old_values[slots[hit]]
    if len(stale):
        values[stale] = compute(stale.tolist()).reshape(len(stale), width)
    stored_stats = np.where(cacheable(stats)[:, None], stats, STAT_MISSING)
    changed = needs_saving(slots, stale, entries is not None) or entries != len(paths)
    arrays = {f"{prefix}values": values, f"{prefix}paths": encoded, f"{prefix}stats": stored_stats}
    return values, arrays, changed
