"""Open Images box annotations (V4-V7): ``<split>-annotations-bbox.csv`` with the columns
``ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,
IsDepiction,IsInside`` (coordinates as fractions of the image size), the class descriptions
``*class-descriptions*.csv`` (``LabelName,DisplayName``, header or not), and the images at
``<split>/<ImageID>.jpg`` or ``images/<split>/<ImageID>.jpg``.

The split is the file name's (``train-``, ``validation-``, ``test-``, ``oidv6-train-``...). Each
CSV is read in one pass (:mod:`.table`, no dict per row); a row is located by its line. The
class of a box is its ``LabelName`` (a MID such as ``/m/0k4j``), named by its DisplayName; a MID
the descriptions lack is class -1 (C001 at the row's line). ``IsGroupOf=1`` is ``iscrowd=1``,
IsOccluded/IsTruncated the flags; Source, Confidence, IsDepiction and IsInside stay in ``extra``
(only where they differ from ``xclick``, ``1``, ``0``, ``0``). Sizes come from the image headers;
an image of unknown size keeps its boxes normalised. A CSV without the needed columns is F001.

The writer puts one CSV per split, the class descriptions (the source's MIDs, else generated
``/m/detlint_<i>`` ones, listed) and the images at ``<split>/<ImageID><ext>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint.formats.protocol import Claim, Format, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

NAME = "openimages"


class OpenImagesFormat(FormatBase):
    """The Open Images CSV format: see the package docstring."""

    name = NAME
    title = "Open Images CSV"
    traits = frozenset({Trait.NORMALIZED_COORDINATES, Trait.CLASS_NAME})

    def sniff(self, path: Path) -> int:
        from detlint.formats.openimages import layout

        return layout.sniff(path)

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.openimages import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.openimages import write

        write.write(ds, dst, options)

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """``XMin YMin XMax YMax`` as fractions of the image size."""
        w, h = ds.image_size_per_annotation()
        return ds.annotations.boxes[rows] / np.stack([w, h, w, h], axis=1)[rows]

    def class_targets(self, ds: Dataset, source: Format) -> list:
        """The MID written for each class."""
        from detlint.formats.openimages.write import mids

        return mids(ds)

    def claim(self, path: Path) -> Claim | None:
        """A box CSV or the class descriptions (pre-commit) describe the dataset in their folder."""
        name = path.name.lower()
        described = name.endswith("-annotations-bbox.csv") or ("class-descriptions" in name and name.endswith(".csv"))
        return Claim.DESCRIPTION if described else None

    def is_dataset_level_file(self, name: str) -> bool:
        return self.claim(Path(name)) is not None

    def class_list_file(self, ds: Dataset) -> str | None:
        return ds.meta.get("class_file")


FORMAT = OpenImagesFormat()
