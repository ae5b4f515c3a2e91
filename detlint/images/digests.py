"""Content digests of a dataset's image files: sha1 of the bytes, each file read once, in
chunks, through a :class:`~detlint.boundary.Boundary` of the image folder (``Dataset.image_dir``).
``split --group-by hash`` and ``merge`` join images by them. Never writes an image."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from detlint.boundary import Boundary

_CHUNK = 1 << 20


def content_hashes(ds: Any) -> list[str | None]:
    """sha1 hex digest of each image row's file (None: no file, or one the boundary refuses:
    outside the image folder, not a regular file); rows of one path share one read."""
    boundary = Boundary(ds.image_dir)
    root = os.fspath(boundary.root)
    digests: dict[str, str | None] = {}
    by_file: dict[tuple[int, int, int, int], str] = {}  # hard links of one file: read once
    out: list[str | None] = []
    for path in ds.images.path.tolist():
        if not path:
            out.append(None)
            continue
        if path not in digests:
            digests[path] = _sha1(boundary, os.path.join(root, str(path)), by_file)
        out.append(digests[path])
    return out


def _sha1(boundary: Boundary, path: str, by_file: dict[tuple[int, int, int, int], str]) -> str | None:
    opened = boundary.open(path)
    if not isinstance(opened, tuple):
        return None
    fd, _size = opened
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key in by_file:
            return by_file[key]
        digest = hashlib.sha1(usedforsecurity=False)
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    by_file[key] = digest.hexdigest()
    return by_file[key]
