"""Placing a dataset's image files into a converted copy: hard link where possible, else copy,
never re-encode, and never a file from outside the dataset root (symlinks followed) or one that
is not a regular file. The writers record what was not placed as a loss.

Ground floor: built on :mod:`detlint.boundary`; knows no format.
"""

from __future__ import annotations

import os
import shutil
import stat
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from detlint.boundary import Boundary, within


class Placement(Enum):
    """What :func:`place_image` did with one image."""

    PLACED = "placed"
    MISSING = "missing"  # no such file
    OUTSIDE_ROOT = "outside-root"  # resolves (symlinks followed) outside the dataset root
    NOT_REGULAR = "not-regular"  # a FIFO, device, socket or folder: never read


class SourceRoot:
    """A dataset root that images may be placed from: its :class:`Boundary` (the real path of
    every source folder met so far, one ``realpath`` per folder, not per image), the target
    folders made, and the copy made of each source file that could not be linked. Shared by a
    writer's threads: a race only computes a folder's real path (or copies a file) twice."""

    def __init__(self, root: Path | str) -> None:
        self.boundary = Boundary(Path(root))
        self._made: set[str] = set()  # target folders already created
        # (st_dev, st_ino) of a source file -> its copy in the destination and that copy's lstat:
        # a file that cannot be linked (EMLINK: a few JPEGs linked 65,000 times, as generated
        # benchmark data is; another device) is copied once, and its other entries are linked
        # to that copy, as they were links of one file in the source (118k copies: 17 GB, 60 s)
        self._copies: dict[tuple[int, int], tuple[str, os.stat_result]] = {}

    def contains(self, real: str) -> bool:
        return within(real, self.boundary.real_root)

    def make_folder(self, folder: Path | str) -> None:
        key = os.fspath(folder)
        if key not in self._made:
            os.makedirs(key, exist_ok=True)
            self._made.add(key)

    def copy_of(self, info: os.stat_result) -> tuple[str, os.stat_result] | None:
        """The copy already placed of the source file ``info`` describes (and its lstat)."""
        return self._copies.get((info.st_dev, info.st_ino))

    def copied(self, info: os.stat_result, target: str) -> None:
        """Remember ``target`` as the copy of the source file ``info`` describes."""
        self._copies[(info.st_dev, info.st_ino)] = (target, os.lstat(target))

    def resolve(self, source: Path | str) -> tuple[str, os.stat_result] | Placement:
        """The real path of ``source`` and its ``lstat``, or why it must not be read."""
        path = os.fspath(source)  # not normalised: "link/.." means what the OS makes of it
        folder, name = os.path.split(path)
        real_folder = self.boundary.real_folder(folder)
        try:
            info = os.lstat(path)
        except OSError:
            return Placement.MISSING
        real = os.path.join(real_folder, name)
        inside = self.contains(real_folder)
        if stat.S_ISLNK(info.st_mode):  # rare: resolve the whole chain, then look at the target
            real = os.path.realpath(path)  # the whole chain (a NUL byte cannot reach here: lstat refused it)
            inside = self.contains(real)
            try:
                info = os.lstat(real)
            except OSError:
                return Placement.MISSING
        if not inside:
            return Placement.OUTSIDE_ROOT
        return (real, info) if stat.S_ISREG(info.st_mode) else Placement.NOT_REGULAR


def place_image(source: Path | str, target: Path | str, root: SourceRoot | Path | str,
                link: bool = True) -> Placement:
    """Put the image file ``source`` at ``target``: hard link where possible, else copy; never
    re-encode. Only a regular file inside ``root`` (after following symlinks) is ever linked or
    read: anything else is left alone and said so in the result (the writer records the loss).
    With ``link``, a file that cannot be linked is copied once and its other entries linked to
    that copy (:class:`SourceRoot`); without it every entry is a copy of its own.
    """
    root = root if isinstance(root, SourceRoot) else SourceRoot(root)
    resolved = root.resolve(source)
    if isinstance(resolved, Placement):
        return resolved
    real, info = resolved
    target = os.fspath(target)
    root.make_folder(os.path.dirname(target))
    try:
        if link and (_link_checked(real, info, target) or _link_to_copy(root, info, target)):
            return Placement.PLACED
        placed = _copy_checked(real, info, target)
        if link and placed is Placement.PLACED:
            root.copied(info, target)
        return placed
    except FileExistsError:  # placed already (two entries of one file)
        return Placement.PLACED


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and stat.S_ISREG(b.st_mode)


def _link_checked(real: str, info: os.stat_result, target: str) -> bool:
    """Hard-link ``real`` (never through a symlink); undone unless the link is the very file
    checked, so a file swapped in between the check and the link is never placed."""
    try:
        os.link(real, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except (OSError, NotImplementedError):
        return False
    if _same_file(info, os.lstat(target)):
        return True
    os.unlink(target)
    return False


def _link_to_copy(root: SourceRoot, info: os.stat_result, target: str) -> bool:
    """Hard-link the copy already made of this source file, checked as :func:`_link_checked`
    checks a source (a copy linked 65,000 times already: False, and a new copy is made)."""
    copy = root.copy_of(info)
    return copy is not None and _link_checked(*copy, target)


def _copy_checked(real: str, info: os.stat_result, target: str) -> Placement:
    """Copy ``real`` opened without following a symlink or blocking on a FIFO, from the
    descriptor whose identity was checked."""
    try:
        fd = os.open(real, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    except OSError:
        return Placement.NOT_REGULAR  # swapped for a symlink (ELOOP) or gone since the check
    with os.fdopen(fd, "rb") as src:
        opened = os.fstat(fd)
        if not _same_file(info, opened):
            return Placement.NOT_REGULAR
        with open(target, "xb") as dst:
            _copy_data(src, dst, opened.st_size)
    os.chmod(target, stat.S_IMODE(opened.st_mode))
    os.utime(target, ns=(opened.st_atime_ns, opened.st_mtime_ns))
    return Placement.PLACED


def _copy_data(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    """All of ``src`` into ``dst``: in the kernel where it can (``copy_file_range``: no copy
    through Python buffers, a reflink where the file system has them), else by reading."""
    copy_range = getattr(os, "copy_file_range", None)
    done = 0
    if copy_range is not None:
        try:
            while True:
                sent = copy_range(src.fileno(), dst.fileno(), max(size - done, 1 << 20))
                if not sent:
                    return
                done += sent
        except OSError:  # not between these file systems (EXDEV on old kernels), or unsupported
            if done:
                raise
    shutil.copyfileobj(src, dst, 1 << 20)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
