"""The format registry (one table), sniffing, and the ``load`` / ``save`` entry points.

Each format is one package, ``detlint/formats/<name>/``, whose ``FORMAT`` object satisfies
:class:`~detlint.formats.protocol.Format`. ``BUILTIN`` maps each name to its package, imported on
first use (``detlint --help`` imports no reader). :func:`register` adds a format from outside
(a plugin, or a test's toy format); the CLI's choices, sniffing, the snapshot and the fixes all
read the same table.
"""

from __future__ import annotations

import importlib
import stat
from pathlib import Path

from detlint.errors import NotADatasetError, UsageError
from detlint.fileio import collector_paused
from detlint.formats import foreign
from detlint.formats.obbwrite import axis_aligned
from detlint.formats.prewrite import prepared
from detlint.formats.protocol import Claim, Format, FormatBase, ReadOptions, RootMark, Trait, WriteOptions
from detlint.model import Dataset

__all__ = ["Claim", "Format", "FormatBase", "ReadOptions", "RootMark", "Trait", "WriteOptions", "every", "format_of",
           "get", "load", "names", "register", "save", "sniff"]

BUILTIN: dict[str, str] = {
    "coco": "detlint.formats.coco",
    "voc": "detlint.formats.voc",
    "yolo": "detlint.formats.yolo",
    "cvat": "detlint.formats.cvat",
    "dota": "detlint.formats.dota",
    "kitti": "detlint.formats.kitti",
    "openimages": "detlint.formats.openimages",
    "labelstudio": "detlint.formats.labelstudio",
    "labelme": "detlint.formats.labelme",
}
_LOADED: dict[str, Format] = {}
_REGISTERED: dict[str, Format] = {}


def names() -> tuple[str, ...]:
    """Every format name, built-in first (the CLI's ``--format`` and ``--to`` choices)."""
    return (*BUILTIN, *(name for name in _REGISTERED if name not in BUILTIN))


def register(fmt: Format) -> Format:
    """Add ``fmt`` to the registry (replacing a registered one of the same name)."""
    if not isinstance(fmt, Format):
        raise TypeError(f"{fmt!r} does not satisfy the Format protocol")
    _REGISTERED[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def get(name: str) -> Format:
    """The format called ``name``; a one-line UsageError for an unknown one."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in BUILTIN:
        raise UsageError(f"unknown format {name!r} (choose from {', '.join(names())})")
    if name not in _LOADED:
        _LOADED[name] = importlib.import_module(BUILTIN[name]).FORMAT
    return _LOADED[name]


def every() -> list[Format]:
    """Every registered format, built-in first."""
    return [get(name) for name in names()]


def format_of(ds: Dataset) -> Format:
    """The format that read ``ds``."""
    return get(ds.format)


def sniff(path: Path) -> str:
    """The name of the format of the dataset at ``path``; a one-line error when there is none."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    _check_kind(path)
    scores = {name: get(name).sniff(path) for name in names()}
    best = max(scores, key=lambda name: scores[name])
    if scores[best] <= 0:
        titles = [get(name).title for name in names()]
        known = ", ".join(titles[:-1]) + " or " + titles[-1] if len(titles) > 1 else titles[0]
        looks = foreign.describe(path)  # another tool's export: say which, not just "nothing found"
        raise NotADatasetError(f"{path}: not a {known} dataset "
                               f"({'looks like ' + looks if looks else 'no annotation files found'})")
    return best


def load(path: str | Path, format: str | None = None, options: ReadOptions | None = None) -> Dataset:
    """Read a dataset folder or annotation file into the one model."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    _check_kind(path)
    reader = get(format or sniff(path))
    options = options or ReadOptions()
    if options.image_root is not None:
        _check_image_root(reader, options.image_root)
    with collector_paused():
        return reader.read(path, options).validate()


def _check_kind(path: Path) -> None:
    # a FIFO or a device is neither a dataset folder nor an annotation file: say so, never open it
    if not path.is_dir() and not path.is_file():
        kind = "a FIFO" if stat.S_ISFIFO(path.stat().st_mode) else "a special file"
        raise UsageError(f"{path}: {kind}, not a dataset folder or annotation file; not read")


def _check_image_root(reader: Format, image_root: Path) -> None:
    """A one-line usage error for an image root that is no folder, or one a format cannot use:
    a format whose annotations do not name their image files finds each label from its image's
    path (YOLO: ``images/`` -> ``labels/``), so its images cannot live anywhere else."""
    if not image_root.is_dir():
        raise UsageError(f"--image-root {image_root}: no such folder")
    if Trait.NAMED_IMAGE_FILES not in reader.traits:
        raise UsageError(f"--image-root: {reader.title} annotations do not name their image files (each "
                         "label is found from its image's path), so the images cannot be stored elsewhere; "
                         "name the image folders in the dataset's own description instead")


def save(ds: Dataset, path: str | Path, format: str, options: WriteOptions | None = None) -> WriteOptions:
    """Write ``ds`` under ``path`` in ``format``; returns the options with the list of losses."""
    writer = get(format)
    options = options or WriteOptions()
    with collector_paused():  # a writer builds one dict or string per annotation: no cycles among them
        ready = prepared(ds, options)
        if Trait.ORIENTED_BOXES not in writer.traits:  # one place: every axis-aligned writer alike
            ready = axis_aligned(ready, options, keep_corners=Trait.PIXEL_POLYGONS in writer.traits)
        writer.write(ready, Path(path), options)
    return options
