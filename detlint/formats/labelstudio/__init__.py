"""Label Studio JSON export (``Export > JSON``): a list of tasks, one image each.

Read: :mod:`.read` (results, rotation, polygons), :mod:`.choose` (one annotation per task),
:mod:`.images` (how ``data.image`` maps to a file under the root). Written: :mod:`.write`.
Findings are located by JSON pointer into the export (``/0/annotations/1/result/3/value/x``).
"""

from __future__ import annotations

import os
from pathlib import Path

from detlint.boundary import Boundary
from detlint.findings import json_pointer
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

NAME = "labelstudio"
HEAD_BYTES = 64 * 1024
SAMPLES = 5
EXPORT_FILE = "tasks.json"  # the file the writer writes


def _task_head(head: str) -> bool:
    """The head of a JSON list whose first task has ``data`` and ``annotations``/``predictions``."""
    text = head.lstrip("\ufeff \t\r\n")
    if not text.startswith("["):
        return False
    start = text[1:].lstrip()
    if not start.startswith("{"):
        return False
    return '"data"' in text and ('"annotations"' in text or '"predictions"' in text or '"completions"' in text)


def sniff_file(path: Path, boundary: Boundary) -> int:
    head = boundary.head(os.fspath(path), HEAD_BYTES)
    if not isinstance(head, bytes):
        return 0
    return 60 if _task_head(head.decode("utf-8", errors="replace")) else 0


def export_files(path: Path) -> list[str]:
    """The export files of ``path`` (a file, or the top-level ``.json`` files of a folder)."""
    if path.is_file():
        return [path.name] if sniff_file(path, Boundary(path.parent)) else []
    try:
        names = sorted(e.name for e in os.scandir(path)
                       if e.name.lower().endswith(".json") and e.is_file(follow_symlinks=False))
    except OSError:
        return []
    boundary = Boundary(path)
    return [n for n in names[: SAMPLES * 4] if sniff_file(path / n, boundary)]


class LabelStudioFormat(FormatBase):
    """Label Studio: tasks with percent coordinates, classes by name, one JSON for all."""

    name = NAME
    title = "Label Studio JSON"
    traits = frozenset({Trait.DECLARED_SIZES, Trait.NAMED_IMAGE_FILES, Trait.CLASS_NAME,
                        Trait.PERCENT_COORDINATES, Trait.ORIENTED_BOXES, Trait.PIXEL_POLYGONS})
    image_size_label = "original_width/original_height"

    def sniff(self, path: Path) -> int:
        return 60 if export_files(path) else 0

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.labelstudio import read

        return read.read(path, export_files(path), options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.labelstudio import write

        write.write(ds, dst / EXPORT_FILE, options)

    def dataset_files(self, ds: Dataset) -> list[str]:
        return list(ds.files)

    def locate(self, ds: Dataset, section: str, item: int | None, key: str | None) -> str | None:
        """``/<task>/annotations/<k>/result/<r>[/value[/<key>]]`` for an annotation row,
        ``/<task>[/data/image]`` for an image."""
        meta = ds.meta.get("labelstudio", {})
        if item is None:
            return None
        if section == "annotations" and 0 <= item < len(meta.get("results", ())):
            prefix = meta["results"][item]
            if key is None:
                return prefix
            return f"{prefix}/value" if key == "bbox" else f"{prefix}/{key}"
        if section == "images" and 0 <= item < len(meta.get("tasks", ())):
            if key in ("width", "height") and meta["size_pointers"][item]:
                return meta["size_pointers"][item].replace("original_width", f"original_{key}")
            return meta["tasks"][item] + ("/data/image" if key == "file_name" else "")
        return json_pointer(section) if section != "categories" else None

    def claim(self, path: Path) -> Claim | None:
        """An export file passed on its own (pre-commit) is a whole dataset."""
        if path.suffix.lower() != ".json":
            return None
        return Claim.DOCUMENT if sniff_file(path, Boundary(path.parent)) else None


FORMAT = LabelStudioFormat()
