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

from detlint.boundary import Boundary, within


class Placement(Enum):
    """What :func:`place_image` did with one image."""

    PLACED = "placed"
    MISSING = "missing"  # no such file
    OUTSIDE_ROOT = "outside-root"  # resolves (symlinks followed) outside the dataset root
    NOT_REGULAR = "not-regular"  # a FIFO, device, socket or folder: never read


class SourceRoot:
    """A dataset root that images may be placed from: its :class:`Boundary` (the real path of
    every source folder met so far, one ``realpath`` per folder, not per image) and the target
    folders made. Shared by a writer's threads: a race only computes a folder's real path twice."""

    def __init__(self, root: Path | str) -> None:
        self.boundary = Boundary(Path(root))
        self._made: set[str] = set()  # target folders already created

    def contains(self, real: str) -> bool:
        return within(real, self.boundary.real_root)

    def make_folder(self, folder: Path) -> None:
        key = os.fspath(folder)
        if key not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(key)

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


def place_image(source: Path | str, target: Path, root: SourceRoot | Path | str, link: bool = True) -> Placement:
    """Put the image file ``source`` at ``target``: hard link where possible, else copy; never
    re-encode. Only a regular file inside ``root`` (after following symlinks) is ever linked or
    read: anything else is left alone and said so in the result (the writer records the loss).
    """
    root = root if isinstance(root, SourceRoot) else SourceRoot(root)
    resolved = root.resolve(source)
    if isinstance(resolved, Placement):
        return resolved
    real, info = resolved
    root.make_folder(target.parent)
    try:
        if link and _link_checked(real, info, target):
            return Placement.PLACED
        return _copy_checked(real, info, target)
    except FileExistsError:  # placed already (two entries of one file)
        return Placement.PLACED


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and stat.S_ISREG(b.st_mode)


def _link_checked(real: str, info: os.stat_result, target: Path) -> bool:
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


def _copy_checked(real: str, info: os.stat_result, target: Path) -> Placement:
    """Copy ``real`` opened without following a symlink or blocking on a FIFO, from the
    descriptor whose identity was checked."""
    try:
        fd = os.open(real, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | getattr(os, "O_BINARY", 0))
    except OSError:
        return Placement.NOT_REGULAR  # swapped for a symlink (ELOOP) or gone since the check
    with os.fdopen(fd, "rb") as src:
        opened = os.fstat(fd)
        if not _same_file(info, opened):
            return Placement.NOT_REGULAR
        with open(target, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    os.chmod(target, stat.S_IMODE(opened.st_mode))
    os.utime(target, ns=(opened.st_atime_ns, opened.st_mtime_ns))
    return Placement.PLACED


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
