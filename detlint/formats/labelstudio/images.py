"""Where a task's ``data.image`` lies under the dataset root.

Label Studio writes the image as the server serves it, never as a path on disk. Each form maps
to a file under the root, and nothing outside the root is ever opened:

- ``/data/upload/<project>/<8 hex>-<name>`` (uploaded files): the stored name, then ``<name>``
  without the upload prefix, looked up by base name in the root and ``images/``;
- ``/data/local-files/?d=<path>`` (local storage): ``<path>`` relative to the root when it
  stays inside it, else by base name (a ``<path>`` with ``..`` is F008);
- ``http(s)://``, ``s3://``, ``gs://``, ``azure-blob://`` URLs: never fetched; the URL path's
  base name is looked up in the root and ``images/`` (a copy downloaded beside the export);
- a relative name: that path under the root, else its base name in ``images/``;
- any other absolute path, or a name with ``..`` that leaves the root: F008, not looked up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from detlint.boundary import Boundary
from detlint.fileio import is_image, safe_relative

IMAGE_FOLDERS = ("", "images")  # where base names are looked up, relative to the root
UPLOAD = "/data/upload/"
LOCAL_FILES = "/data/local-files/"
URL_SCHEMES = ("http", "https", "s3", "gs", "azure-blob")
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


@dataclass
class Resolved:
    path: str  # relative to the root, "" when not found
    unsafe: bool = False  # absolute or escaping: F008
    remote: bool = False  # a URL: not fetched


@dataclass
class ImageIndex:
    """The image files of the root and ``images/`` by base name (listed once, not per task)."""

    root: str
    boundary: Boundary
    by_name: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for folder in reversed(IMAGE_FOLDERS):  # the root's own files win over images/
            self._list(folder)

    def _list(self, folder: str) -> None:
        full = os.path.join(self.root, folder) if folder else self.root
        if not self.boundary.contains_folder(full):
            return
        try:
            with os.scandir(full) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False) and is_image(entry.name):
                        self.by_name[entry.name] = f"{folder}/{entry.name}" if folder else entry.name
        except OSError:
            return

    def relative(self, name: str) -> str | None:
        """``name`` (safe, relative) when it is a file inside the root, "" when there is none,
        None when a link there leads out of the root (never followed)."""
        full = os.path.join(self.root, name)
        if not self.boundary.contains(full):
            return None
        return name if os.path.isfile(full) else ""

    def base(self, *names: str) -> str:
        for name in names:
            found = self.by_name.get(name.rsplit("/", 1)[-1])
            if found:
                return found
        return ""


def resolve(value: str, index: ImageIndex) -> Resolved:
    """Where ``value`` (a task's image reference) is under the root."""
    text = value.strip()
    if text.startswith(UPLOAD):
        stored = unquote(text.rsplit("/", 1)[-1])
        return Resolved(index.base(stored, _UPLOAD_PREFIX.sub("", stored)))
    if text.startswith(LOCAL_FILES):
        wanted = unquote(parse_qs(urlsplit(text).query).get("d", [""])[0])
        inside = safe_relative(wanted) if wanted else None
        if wanted and inside is None and ".." in wanted.replace("\\", "/").split("/"):
            return Resolved("", unsafe=True)  # climbs out of the storage root
        return _found(index, inside, wanted)
    parts = urlsplit(text)
    if parts.scheme.lower() in URL_SCHEMES:
        return Resolved(index.base(unquote(parts.path)), remote=True)
    inside = safe_relative(text)
    if inside is None:
        return Resolved("", unsafe=True)
    return _found(index, inside, inside)


def _found(index: ImageIndex, inside: str | None, name: str) -> Resolved:
    """The file at ``inside`` under the root, else ``name``'s base name in the image folders."""
    at = index.relative(inside) if inside else ""
    if at is None:
        return Resolved("", unsafe=True)
    return Resolved(at or index.base(name))
