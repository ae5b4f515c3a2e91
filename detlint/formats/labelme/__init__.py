"""labelme JSON: one document per image, usually beside it, in one folder or split subfolders.

Read: ``shapes`` of type ``rectangle`` (any corner order), ``polygon``, ``circle``, ``mask``
(base64 PNG, labelme >= 5.3) as detection objects; ``point``, ``points``, ``line``, ``linestrip``
as rows without geometry kept for the round trip (see :mod:`.shapes`, which also says how
``group_id`` joins polygons into one object). ``imagePath`` is resolved relative to the JSON,
bounded to the root (F008 otherwise), with the same-stem image beside the JSON as fallback
(:mod:`.read`). ``imageHeight``/``imageWidth`` are declared sizes. ``imageData`` is never held:
only whether the file had it; a write copies it from the source file (:mod:`.write`).

Findings are located by file and JSON pointer (``/shapes/3/points``, ``/imagePath``): F001 (the
file does not parse, with line and column), F002 (not an object with a ``shapes`` list; a shape
that is not an object; points that are not number pairs; a label that is not a string; a size
that is not a positive integer), F008 (``imagePath`` absolute, escaping or linked out of the
root). ``--fix`` rewrites the touched files (:mod:`.writeback`), keeping key order and
``imageData``.

Modules: :mod:`.layout` (files, splits, sniffing), :mod:`.parse` (one JSON), :mod:`.shapes`
(shapes as rows), :mod:`.read`, :mod:`.write`, :mod:`.writeback`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint.edits import FileChange
from detlint.findings import json_pointer
from detlint.formats.labelme import layout
from detlint.formats.labelme.layout import NAME
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

__all__ = ["FORMAT", "NAME", "LabelmeFormat"]

# the model's field names as labelme's keys (rules locate "bbox", "width", "file_name")
_SHAPE_KEYS = {"bbox": "points", "segmentation": "points", "category_id": "label", "name": "label"}
_IMAGE_KEYS = {"width": "imageWidth", "height": "imageHeight", "file_name": "imagePath"}


class LabelmeFormat(FormatBase):
    """labelme JSON (see the package docstring)."""

    name = NAME
    title = "labelme"
    traits = frozenset({Trait.DECLARED_SIZES, Trait.NAMED_IMAGE_FILES, Trait.CLASS_NAME, Trait.PIXEL_POLYGONS})
    image_size_label = "imageWidth/imageHeight"

    def sniff(self, path: Path) -> int:
        return layout.sniff(path)

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.labelme import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.labelme import write

        write.write(ds, dst, options)

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        from detlint.formats.labelme import writeback

        return writeback.write_back(old, new)

    def dataset_files(self, ds: Dataset) -> list[str]:
        """None: every JSON describes one image."""
        return []

    def locate(self, ds: Dataset, section: str, item: int | None, key: str | None) -> str | None:
        """``/shapes/<i>[/<key>]`` for an object, ``/<key>`` (or the root) for an image."""
        if section == "annotations" and item is not None:
            return json_pointer("shapes", int(item)) if key is None else json_pointer(
                "shapes", int(item), _SHAPE_KEYS.get(key, key))
        if section == "images":
            return json_pointer(_IMAGE_KEYS.get(key, key)) if key else ""
        return None

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """A rectangle's two points in the corner order the source wrote; a circle's centre and
        a point on it; the box for the rest."""
        from detlint.formats.labelme.writeback import raw_of

        return raw_of(ds, rows)

    def claim(self, path: Path) -> Claim | None:
        """A labelme JSON passed on its own is a member of the folder it lies in."""
        path = Path(path)
        return Claim.MEMBER if path.suffix.lower() == ".json" and layout.looks_like_file(path) else None

    def loose_root(self, path: Path) -> Path | None:
        """A labelme JSON no marker places is read with its folder (the split folder's parent
        when the folder names a split)."""
        path = Path(path)
        if path.suffix.lower() != ".json":
            return None
        parent = path.parent
        return parent.parent if parent.name.lower() in layout.SPLIT_WORDS else parent


FORMAT = LabelmeFormat()
