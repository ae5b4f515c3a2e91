"""The dataset boundary: which files a read may open, and how much of them.

Annotation repositories take pull requests from strangers and are checked in CI with secrets in
the environment, so a dataset is hostile input. Three rules hold for every file detlint opens on
a dataset's behalf (labels, XML, JSON, lists, class lists, image headers and pixels, images a
writer places):

- its real path (every symbolic link followed) lies under the dataset root's real path: a
  symlink, a folder link or a listed path that leaves the root is refused (F008), never opened;
- it is a regular file: a FIFO or a device (``/dev/urandom``, ``/dev/zero``) is refused, never
  opened in a way that blocks or reads without end;
- it is not larger than its limit (:class:`Limits`): a bigger one is refused before its first
  byte is read.

A refusal is a :class:`Refusal` (the code and the message of the finding to report). Messages
name the path as the dataset lists it and never what a link points to: nothing outside the root
is printed.

Ground floor: imports nothing of detlint. One :class:`Boundary` serves one read (it memoises the
real path of each folder it has seen, so checking 118k files in a few hundred folders costs one
``realpath`` a folder plus one ``open`` a file).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
          | getattr(os, "O_CLOEXEC", 0))
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_MAX_READ = 0x7FFFF000  # the most one read(2) returns on Linux


@dataclass(frozen=True)
class Limits:
    """The largest files a read opens (configurable: ``max-label-mib``, ``max-document-mib``).

    A label file holds one image's boxes (a YOLO ``.txt``, a VOC ``.xml``): 64 MiB is a million
    rows. A document describes a whole dataset (a COCO JSON, a data.yaml, an image list): COCO
    train2017 is 448 MB and Objects365 5 GB.
    """

    label_bytes: int = 64 * MIB
    document_bytes: int = 8192 * MIB


@dataclass(frozen=True)
class Refusal:
    """Why a file was not opened: the finding's code and message."""

    code: str
    message: str


def _realpath(path: str) -> str:
    """``os.path.realpath``; a path no file system can hold (a NUL byte) stays as written: it
    names nothing, so it opens nothing."""
    try:
        return os.path.realpath(path)
    except ValueError:
        return os.path.normpath(os.path.abspath(path))


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class Boundary:
    """The files one read of the dataset at ``root`` may open."""

    root: Path
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        self.root = Path(os.path.abspath(self.root))
        self.real_root = os.path.realpath(self.root)
        self._real_folders: dict[str, str] = {}
        self._inside: dict[str, bool] = {}  # folder as a path names it -> under the root

    def real_folder(self, folder: str) -> str:
        """The real path of ``folder`` (memoised: folders are few, files many)."""
        real = self._real_folders.get(folder)
        if real is None:
            real = self._real_folders[folder] = _realpath(folder or ".")
        return real

    def contains(self, path: str | os.PathLike) -> bool:
        """Whether ``path``'s real path lies under the root (a path that does not exist: by the
        real path of its folder and its name)."""
        # never abspath/normpath first: "link/.." is where the link's parent is, not the folder
        # holding "link" (the kernel follows the link before the ".."); realpath does it so
        folder, name = os.path.split(os.fspath(path))
        real_folder = self.real_folder(folder or ".")
        if not within(real_folder, self.real_root):
            return False
        if name in ("", ".", ".."):
            return within(_realpath(os.path.join(real_folder, name)), self.real_root)
        candidate = os.path.join(real_folder, name)
        if os.path.islink(candidate):
            return within(_realpath(candidate), self.real_root)
        return True

    def contains_folder(self, folder: str | os.PathLike) -> bool:
        """Whether a folder's real path lies under the root."""
        return within(self.real_folder(os.fspath(folder) or "."), self.real_root)

    def open(self, path: str, limit: int | None = None) -> tuple[int, int] | Refusal | OSError:
        """An open descriptor of ``path`` and its size, or why not (the caller closes it)."""
        folder = path.rpartition(os.sep)[0] if os.sep in path else "."
        inside = self._inside.get(folder)
        if inside is None:  # one realpath a folder; the hot path is a dict lookup
            inside = self._inside[folder] = within(self.real_folder(folder or os.sep), self.real_root)
        if not inside:
            return Refusal("F008", "is outside the dataset root (its folder links out of it); not read")
        try:
            fd = os.open(path, _FLAGS | _NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP or not _NOFOLLOW:
                return exc
            if not self.contains(path):
                return Refusal("F008", "is a symbolic link to a file outside the dataset root; not read")
            try:
                fd = os.open(_realpath(path), _FLAGS)
            except OSError as inner:
                return inner
        except ValueError:  # a NUL byte in the path
            return OSError(errno.EINVAL, "file name contains a NUL byte")
        return _checked(fd, limit)

    def read(self, path: str, limit: int | None = None) -> bytes | Refusal | OSError:
        """The bytes of ``path`` (at most ``limit``), or why not."""
        opened = self.open(path, limit)
        return _read_opened(opened, None) if isinstance(opened, tuple) else opened

    def head(self, path: str, size: int) -> bytes | Refusal | OSError:
        """The first ``size`` bytes of ``path`` (for sniffing a file of any size), or why not."""
        opened = self.open(path)
        return _read_opened(opened, size) if isinstance(opened, tuple) else opened

    def read_label(self, path: str) -> bytes | Refusal | OSError:
        return self.read(path, self.limits.label_bytes)

    def read_document(self, path: str) -> bytes | Refusal | OSError:
        return self.read(path, self.limits.document_bytes)


def _checked(fd: int, limit: int | None) -> tuple[int, int] | Refusal:
    """``(fd, size)`` for a regular file within ``limit``; else closes ``fd`` and says why."""
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        return Refusal("F001", f"cannot read file: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return Refusal("F001", f"is {_kind_of(info.st_mode)}, not a regular file; not read")
    if limit is not None and info.st_size > limit:
        os.close(fd)
        return Refusal("F001", f"is {info.st_size / MIB:.1f} MiB, over the {limit / MIB:.0f} MiB limit "
                               f"(raise max-label-mib / max-document-mib to read it); not read")
    return fd, info.st_size


def read_fd(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes of an open regular file (never more: a file growing while it is read
    is cut at the size it had when it was opened)."""
    if size <= 0:
        return b""
    # one read of the known size: a regular file gives it all at once, in the bytes object
    # returned (64 KB reads joined copied a 120 MB COCO file once more: 0.27 s of 3 s)
    chunks = [os.read(fd, min(size, _MAX_READ))]
    total = len(chunks[0])
    while chunks[-1] and total < size:  # short reads: a file shrinking, or over _MAX_READ
        chunks.append(os.read(fd, min(_MAX_READ, size - total)))
        total += len(chunks[-1])
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def open_regular(path: str, limit: int | None = None) -> tuple[int, int] | Refusal | OSError:
    """``path`` opened if it is a regular file within ``limit`` (no boundary: for files the user
    named or detlint's own caches). Never blocks on a FIFO."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        return exc
    except ValueError:
        return OSError(errno.EINVAL, "file name contains a NUL byte")
    return _checked(fd, limit)


def _read_opened(opened: tuple[int, int], size: int | None) -> bytes | OSError:
    """The first ``size`` bytes (None: all) of a file :func:`open_regular` or
    :meth:`Boundary.open` opened; closes it."""
    fd, file_size = opened
    try:
        return read_fd(fd, file_size if size is None else min(size, file_size))
    except OSError as exc:
        return exc
    finally:
        os.close(fd)


def read_head(path: str | os.PathLike, size: int) -> bytes | Refusal | OSError:
    """The first ``size`` bytes of a regular file, or why not (see :func:`open_regular`)."""
    opened = open_regular(os.fspath(path))
    return _read_opened(opened, size) if isinstance(opened, tuple) else opened


CACHE_BYTES = 8192 * MIB  # detlint's own cache files: bigger is not one it wrote


def read_file(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """:func:`read_regular` for callers that handle ``OSError``: a refusal (a FIFO, a device, a
    file over ``limit``) raises one too."""
    data = read_regular(path, limit)
    if isinstance(data, Refusal):
        raise OSError(errno.EINVAL, f"{os.fspath(path)} {data.message}")
    if isinstance(data, OSError):
        raise data
    return data


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes | Refusal | OSError:
    """The bytes of a regular file within ``limit``, or why not (see :func:`open_regular`)."""
    opened = open_regular(os.fspath(path), limit)
    return _read_opened(opened, None) if isinstance(opened, tuple) else opened
