"""DOTA (v1.0, v1.5, v2.0): aerial images with oriented boxes.

Layout: ``labelTxt/*.txt`` beside ``images/*.png`` at the root, or per split folder
(``train/labelTxt``, ``val/labelTxt``; the official ``labelTxt-v1.5/labelTxt`` nesting too). Each
label line is ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult`` in pixels (DOTA's devkit
``parse_dota_poly``: corners clockwise from the object's first corner; ``difficult`` optional),
after optional ``imagesource:...`` and ``gsd:...`` header lines (kept on the image for the round
trip). Rows are kind 3 (corners in ``segmentation`` as written, ``boxes`` their enclosing
box); the class list is the names used, sorted, unless configured; sizes come from the image
headers. A line that is none of these is F006 at file:line; a label file without its image is
I006; a folder linking out of the root is F008.

The writer produces the same layout (:mod:`.write`); an axis-aligned box is written as its four
corners clockwise from the top-left, which is exact.
"""

from __future__ import annotations

from pathlib import Path

from detlint.formats.dota import layout
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

__all__ = ["FORMAT", "DotaFormat"]


class DotaFormat(FormatBase):
    """The DOTA format: see the package docstring."""

    name = "dota"
    title = "DOTA"
    traits = frozenset({Trait.LABEL_ROWS, Trait.CLASS_NAME, Trait.ORIENTED_BOXES})

    def sniff(self, path: Path) -> int:
        return layout.sniff(Path(path))

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.dota import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.dota import write

        write.write(ds, dst, options)

    def claim(self, path: Path) -> Claim | None:
        """A ``.txt`` in a ``labelTxt*`` folder (or one level below it) is a MEMBER."""
        return Claim.MEMBER if layout.labels_of(Path(path)) is not None else None

    def member_root(self, path: Path) -> Path | None:
        """The dataset root of a label file: above its split folder (``train/labelTxt/``), else
        the folder holding ``labelTxt/``."""
        labels = layout.labels_of(Path(path))
        if labels is None:
            return None
        holder = labels.parent
        return holder.parent if layout.SPLIT_NAME.match(holder.name) else holder


FORMAT = DotaFormat()
