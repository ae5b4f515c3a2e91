"""A dataset as it was at a git revision, rebuilt in a temporary folder without a checkout.

``git ls-tree -r REV -- PATH`` lists the files and their blob ids at REV; ``git diff --name-only
REV -- PATH`` the files that differ from the working tree. A file that did not change is
hard-linked from the working tree (copied where links fail); only the changed blobs are read,
in one ``git cat-file --batch``; image files git ignores (labels-only repositories) are linked as
they are now. Unchanged means unchanged by git's own stat check (what ``git status`` says). The
working tree, the index and HEAD are never touched (no checkout, no stash). Blob ids double as
content hashes: the diff matches renamed images by git's blob id, so the old side's images are
never hashed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from detlint.errors import UsageError
from detlint.fileio import IMAGE_EXTENSIONS, safe_relative


@dataclass
class Revision:
    """The rebuilt tree: ``root`` mirrors the dataset path at REV; ``blobs`` is each file's blob id
    by its path relative to ``root``."""

    root: Path
    blobs: dict[str, str] = field(default_factory=dict)
    read: int = 0  # blobs read from git (the changed files)
    linked: int = 0  # files taken from the working tree


def _git(cwd: Path, *args: str, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=False)
    except OSError as error:
        raise UsageError(f"--rev needs git: {error}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]}: {detail[-1] if detail else 'failed'}")
    return done.stdout


def rebuild(path: Path, rev: str, into: Path) -> Revision:
    """The dataset at ``path`` (a folder or file in a git work tree) as of ``rev``, under ``into``."""
    path = path.resolve()
    folder = path if path.is_dir() else path.parent
    if not folder.exists():
        raise UsageError(f"{path}: no such file or directory")
    top = Path(_git(folder, "rev-parse", "--show-toplevel").decode().strip())
    if rev.startswith("-"):
        raise UsageError(f"--rev {rev!r}: not a revision")
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except UsageError:
        raise UsageError(f"--rev {rev!r}: no such revision in {top}") from None
    prefix = path.relative_to(top).as_posix()
    # a file (a COCO JSON, a data.yaml) brings its folder: the images beside it are the dataset's
    base = prefix if path.is_dir() else Path(prefix).parent.as_posix()
    base = "" if base == "." else base
    spec = base or "."
    listing = _git(top, "ls-tree", "-r", "-z", "--full-tree", rev, "--", spec)
    changed = set(_git(top, "diff", "--name-only", "-z", "--no-renames", rev, "--", spec).decode().split("\0"))
    result = Revision(root=into / Path(base) if base else into)
    wanted: list[tuple[str, str]] = []
    for entry in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not entry:
            continue
        meta, _, name = entry.partition("\t")
        mode, kind, sha = meta.split()
        if kind != "blob" or safe_relative(name) != name:
            continue  # submodules; a crafted tree entry ("../x", "/x"): git refuses to check it out, and so do we
        if mode == "120000":
            _relink(top / name, into / name, name in changed)
            continue
        relative = name[len(base) + 1:] if base else name
        result.blobs[relative] = sha
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name not in changed and _link(top / name, target):
            result.linked += 1
        else:
            wanted.append((sha, name))
    _write_blobs(top, into, wanted)
    result.read = len(wanted)
    result.linked += _link_unversioned(top, into, spec, set(result.blobs) if not base else
                                       {f"{base}/{name}" for name in result.blobs})
    if not result.blobs:
        raise UsageError(f"{prefix}: nothing there at revision {rev}")
    if not path.is_dir():
        result.root = into / prefix
    return result


def _relink(source: Path, target: Path, changed: bool) -> None:
    """An unchanged committed symlink made again as the same link (its target never opened),
    so the reader meets it on both sides alike, not as an image added; a changed one is left out."""
    if changed or not source.is_symlink():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(os.readlink(source), target)
    except OSError:
        pass


def _link_unversioned(top: Path, into: Path, spec: str, at_rev: set[str]) -> int:
    """Hard-link the image files git ignores (``.gitignore``: images kept out of git, as
    annotation repositories often do). Their state at REV is unknown, so they are taken as they
    are now; a YOLO dataset without its image files would have no images at all. An untracked
    file that is not ignored is new work (an added image, a label not yet staged): not taken."""
    listing = _git(top, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", spec)
    linked = 0
    for relative in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not relative or Path(relative).suffix.lower() not in IMAGE_EXTENSIONS or relative in at_rev:
            continue
        source = top / relative
        if source.is_symlink():
            continue
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        linked += _link(source, target)
    return linked


def scratch_parent(path: Path) -> Path | None:
    """Where to rebuild the revision: inside the repository's git directory (one filesystem with
    the working tree, so unchanged files are hard links, not copies; git ignores what is there),
    else None (the system's temporary folder)."""
    folder = path.resolve()
    folder = folder if folder.is_dir() else folder.parent
    try:
        git_dir = Path(_git(folder, "rev-parse", "--absolute-git-dir").decode().strip())
    except UsageError:
        return None
    return git_dir if os.access(git_dir, os.W_OK) else None


def _link(source: Path, target: Path) -> bool:
    """Hard-link (else copy) an unchanged working-tree file; False when it cannot be read."""
    try:
        os.link(source, target)
        return True
    except OSError:
        pass
    try:
        shutil.copyfile(source, target)
        return True
    except OSError:
        return False


def _write_blobs(top: Path, into: Path, wanted: list[tuple[str, str]]) -> None:
    """Read the ``(blob id, path)`` blobs in one ``git cat-file --batch`` and write them out."""
    if not wanted:
        return
    out = _git(top, "cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in wanted).encode())
    at = 0
    for _, name in wanted:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        start = header_end + 1
        (into / name).write_bytes(out[start:start + size])
        at = start + size + 1  # each object ends with a newline


def blob_id(data: bytes) -> str:
    """git's blob id of ``data`` (sha1 of ``blob <size>\\0`` and the bytes): the content hash
    both sides of a diff share."""
    import hashlib

    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()
