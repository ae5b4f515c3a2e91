"""KITTI object labels: ``label_2/<id>.txt`` beside ``image_2/<id>.png``, one object a line:
``type truncated occluded alpha left top right bottom height width length x y z rotation_y [score]``
(the object devkit's ``readme.txt``; the box in 0-based pixels, read as continuous coordinates).

Layouts read: ``training/`` and ``testing/`` (splits ``train`` and ``test``; ``testing/`` may hold
images alone), or ``label_2/`` + ``image_2/`` at the root (no split). The class list is the
configured ``classes``, else the types used, sorted. ``DontCare`` rows are regions left
unlabelled, not objects: they are read as ignore regions (``iscrowd=1``, class ``DontCare``, which
is always in the class list) and every converted one is listed. ``truncated`` (a float) and
``occluded`` (0 visible, 1 partly, 2 largely, 3 unknown) become the 0/1 flags (truncated > 0;
occluded 1-2; 3 and DontCare's -1 absent); their exact values, ``alpha``, the 3D box and the
score stay in ``extra`` for the round trip. Image sizes are not written: they are probed from the
headers. A line without 15 (16 with a score) fields, or with a non-number, is F006 at its line.

The writer puts each split under ``training/``, ``testing/`` or ``<split>/`` (no split: the root)
as ``label_2/`` + ``image_2/``; what a 2D source lacks is written as the devkit's "unknown"
values (dimensions -1, location -1000, alpha and rotation_y -10; truncation -1 and occlusion 3
when the source has no flag, which read back as no flag) and listed.
"""

from __future__ import annotations

from pathlib import Path

from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

NAME = "kitti"


class KittiFormat(FormatBase):
    """The KITTI object format: see the package docstring."""

    name = NAME
    title = "KITTI"
    traits = frozenset({Trait.CLASS_NAME})

    def sniff(self, path: Path) -> int:
        from detlint.formats.kitti import layout

        return layout.sniff(path)

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.kitti import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.kitti import write

        write.write(ds, dst, options)

    def claim(self, path: Path) -> Claim | None:
        """A ``.txt`` in a ``label_2/`` folder (pre-commit) belongs to the dataset above it."""
        return Claim.MEMBER if path.suffix.lower() == ".txt" and path.parent.name == "label_2" else None

    def member_root(self, path: Path) -> Path | None:
        if self.claim(path) is None:
            return None
        from detlint.formats.kitti import layout

        return layout.root_of(path)


FORMAT = KittiFormat()
