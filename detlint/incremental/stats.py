"""Stats the incremental subsystem trusts: (size, mtime_ns) of files and folders, and when a
timestamp is too recent to be trusted later."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from detlint.fileio import batch_map

RACY_NS = 2_000_000_000  # files and folders changed this close to a read are not trusted to it
STAT_MISSING = -1
_STAT_BATCH = 2048


def size_mtime(path: str) -> tuple[int, int]:
    """(size, mtime_ns) of ``path``; (-1, -1) when it cannot be stat'ed."""
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def trusted_mtime(path: str) -> int:
    """``path``'s mtime_ns, or -1 if missing or so recent that a change within the file system's
    timestamp granularity could keep it."""
    mtime = size_mtime(path)[1]
    return mtime if 0 <= mtime < time.time_ns() - RACY_NS else -1


def stat_many(paths: list[str], workers: int = 8) -> np.ndarray:
    """int64[n, 2]: (size, mtime_ns) per path; STAT_MISSING where stat fails.

    In-process on a local disk (a stat is ~4 us, mostly the GIL-holding part: 8 threads cost
    more than they overlap); :func:`base.batch_map` moves to threads where storage is slow.
    """
    def batch(part: list[str]) -> list[tuple[int, int]]:
        out = []
        stat = os.stat
        for path in part:
            try:
                st = stat(path)
                out.append((st.st_size, st.st_mtime_ns))
            except OSError:
                out.append((STAT_MISSING, STAT_MISSING))
        return out

    flat = batch_map(batch, paths, workers, progress=False, batch=_STAT_BATCH)
    return np.array(flat, dtype=np.int64).reshape(len(paths), 2)


def cacheable(stats: np.ndarray) -> np.ndarray:
    """Which stats are safe to trust on a later run (not missing, not modified just now)."""
    recent = time.time_ns() - RACY_NS
    return (stats[:, 0] >= 0) & (stats[:, 1] < recent)




def listing_digest(folder: str) -> str:
    """A digest of the names in ``folder`` ("" when it cannot be listed)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ""
    return hashlib.blake2b("\0".join(names).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def folders_under(root: str) -> list[str]:
    """Every folder under ``root`` (itself included), hidden ones (``.git``) left out."""
    found = [root]
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
                        stack.append(entry.path)
        except OSError:
            continue
    return found
