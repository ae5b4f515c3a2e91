"""Folder listings: one ``os.scandir`` per folder, sorted and classified (images, label
candidates, other ``.txt``), and the :class:`Walker` a read lists its folders through.

A read creates one walker and hands it down the discovery: :class:`Walker` scans every time;
:class:`ListingCache` (when a parse cache is enabled) reuses the listings of the last cached
check while each folder's mtime holds. Nothing here outlives the read that made it but what the
cache stores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detlint import fileio
from detlint.formats.yolo.paths import NOT_LABEL_NAMES
from detlint.readcache import ReadCache, decode_paths, encode_paths


@dataclass
class Listing:
    """One folder's files as the reader sorts them (names sorted; hidden files skipped)."""

    prefix: str  # the folder path ending in a separator: prefix + name is a file's path
    images: list[str]
    labels: list[str]  # label candidates (``is_label_name``)
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


def list_folder(folder: str) -> tuple[Listing, list[str]] | None:
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
    return _classify(folder, files), sorted(folders)


def _classify(folder: str, files: list[str]) -> Listing:
    """The listing of ``folder`` holding ``files``: sorted, split into images, labels and other ``.txt``."""
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
    return Listing(os.path.join(folder, ""), images, labels, other_txt)


def _is_link(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def scan(folder: str, mtime_of: Callable[[str], int] | None) -> list[tuple[Listing, int]]:
    """The listings under ``folder`` (top-down, sorted, as ``os.walk``), each with its folder's
    mtime_ns taken by ``mtime_of`` just before the scan (-1 without one; see :class:`ListingCache`)."""
    listings: list[tuple[Listing, int]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        mtime = mtime_of(current) if mtime_of is not None else -1
        listed = list_folder(current)
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


class Walker:
    """Lists the folders of one read: every walk scans (no cache)."""

    dirty = False  # whether there are listings to store

    def walk(self, folder: str) -> list[Listing]:
        """Every folder under ``folder`` (top-down, sorted, as ``os.walk``) with its file names."""
        return [listing for listing, _ in scan(folder, None)]

    def arrays(self) -> dict[str, np.ndarray]:
        """What the parse cache stores of the walks (nothing)."""
        return {}


class ListingCache(Walker):
    """The folder listings of the last cached check, reused while each folder's mtime holds.

    A folder's mtime changes whenever an entry is added to it, removed or renamed (POSIX), not
    when a file's content changes: a folder whose mtime_ns is what it was just before the last
    scan needs no new ``os.scandir``, sort and classification (118k names: ~0.5 s). Assumes a
    file system that keeps folder mtimes (any local POSIX one); ``--no-cache`` turns it off.
    """

    def __init__(self, store: dict[str, np.ndarray], cache: ReadCache) -> None:
        self.cache = cache
        self.walks: dict[str, list[tuple[Listing, int]]] = {}
        self.used: dict[str, list[tuple[Listing, int]]] = {}
        self.dirty = False
        try:
            self.walks = _decode(store)
        except (KeyError, ValueError, IndexError, TypeError):
            self.walks = {}

    def walk(self, folder: str) -> list[Listing]:
        cached = self.walks.get(folder)
        if not cached or not all(mtime >= 0 and _mtime(listing.prefix) == mtime for listing, mtime in cached):
            cached = scan(folder, self.cache.trusted_mtime)
            self.dirty = True
        self.used[folder] = cached
        return [listing for listing, _ in cached]

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


def _decode(store: dict[str, np.ndarray]) -> dict[str, list[tuple[Listing, int]]]:
    """The walks a cache stored (:meth:`ListingCache.arrays`), by top folder; {} when inconsistent."""
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
    walks: dict[str, list[tuple[Listing, int]]] = {}
    listing_index = name_index = 0
    for top, size in zip(tops, sizes):
        entries = []
        for _ in range(size):
            n_images, n_labels, n_other = counts[listing_index]
            start = name_index
            name_index += n_images + n_labels + n_other
            listing = Listing(prefixes[listing_index], names[start:start + n_images],
                              names[start + n_images:start + n_images + n_labels],
                              names[start + n_images + n_labels:name_index])
            entries.append((listing, mtimes[listing_index]))
            listing_index += 1
        walks[top] = entries
    return walks
