"""Format registry, sniffing, and the ``load`` / ``save`` entry points.

Each format module exposes ``NAME``, ``sniff(path) -> int`` (0: not this format; higher is
more certain), ``read(path, options) -> Dataset`` and ``write(ds, dst, options)``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from detlint.errors import NotADatasetError, UsageError
from detlint.formats import coco, voc, yolo
from detlint.formats.base import ReadOptions, WriteOptions
from detlint.model import Dataset

FORMATS: dict[str, ModuleType] = {"coco": coco, "voc": voc, "yolo": yolo}


def sniff(path: Path) -> str:
    """The format of the dataset at ``path``; a one-line UsageError when there is none."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    scores = {name: module.sniff(path) for name, module in FORMATS.items()}
    best = max(scores, key=lambda name: scores[name])
    if scores[best] <= 0:
        raise NotADatasetError(f"{path}: not a COCO, VOC or YOLO dataset (no annotation files found)")
    return best


def load(path: str | Path, format: str | None = None, options: ReadOptions | None = None) -> Dataset:
    """Read a dataset folder or annotation file into the one model."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    name = format or sniff(path)
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
    return FORMATS[name].read(path, options or ReadOptions()).validate()


def save(ds: Dataset, path: str | Path, format: str, options: WriteOptions | None = None) -> WriteOptions:
    """Write ``ds`` under ``path`` in ``format``; returns the options with the list of losses."""
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
    options = options or WriteOptions()
    FORMATS[format].write(ds, Path(path), options)
    return options
