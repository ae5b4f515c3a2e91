"""Format registry, sniffing, and the ``load`` / ``save`` entry points.

Each format module exposes ``NAME``, ``sniff(path) -> int`` (0: not this format; higher is
more certain), ``read(path, options) -> Dataset`` and ``write(ds, dst, options)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from detlint.errors import NotADatasetError, UsageError
from detlint.formats.base import ReadOptions, WriteOptions, collector_paused
from detlint.model import Dataset

FORMAT_NAMES = ("coco", "voc", "yolo")


def module(name: str) -> ModuleType:
    if name not in FORMAT_NAMES:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMAT_NAMES)})")
    return importlib.import_module(f"detlint.formats.{name}")


def sniff(path: Path) -> str:
    """The format of the dataset at ``path``; a one-line UsageError when there is none."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    scores = {name: module(name).sniff(path) for name in FORMAT_NAMES}
    best = max(scores, key=lambda name: scores[name])
    if scores[best] <= 0:
        raise NotADatasetError(f"{path}: not a COCO, VOC or YOLO dataset (no annotation files found)")
    return best


def load(path: str | Path, format: str | None = None, options: ReadOptions | None = None) -> Dataset:
    """Read a dataset folder or annotation file into the one model."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    reader = module(format or sniff(path))
    with collector_paused():
        return reader.read(path, options or ReadOptions()).validate()


def save(ds: Dataset, path: str | Path, format: str, options: WriteOptions | None = None) -> WriteOptions:
    """Write ``ds`` under ``path`` in ``format``; returns the options with the list of losses."""
    writer = module(format)
    options = options or WriteOptions()
    with collector_paused():  # a writer builds one dict or string per annotation: no cycles among them
        writer.write(ds, Path(path), options)
    return options
