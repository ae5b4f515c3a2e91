"""CVAT for images 1.1 XML: one ``annotations.xml`` for a whole task (or job, or project), the
images beside it in ``images/`` (or wherever ``<image name=...>`` says, relative to the root).

Read: the labels of ``<meta>`` (task, job or project; their order is the class list), every
``<image id name width height [subset]>`` and its shapes: ``<box>`` (kind 0; with a non-zero
``rotation`` kind 3, the corners of the rectangle rotated clockwise on screen about its
centre), ``<polygon>`` (kind 0, a COCO pixel polygon in ``segmentation``, the box its bounds),
``<mask>`` (kind 0, CVAT's run lengths over its ``left top width height`` box turned into a
COCO RLE dict on the whole image), and, kept for the CVAT round trip as kind 2 rows (no
geometry), ``<polyline>``, ``<points>``, ``<tag>``, ``<ellipse>``, ``<cuboid>`` and
``<skeleton>``. A ``<track>`` gives one row per shape that is not ``outside="1"``, on the
``<image>`` whose id is its ``frame``; a "CVAT for video" export (tracks, no ``<image>``) gets
one image row per tracked frame, ``images/frame_NNNNNN.<ext>`` of the task's ``<original_size>``. ``occluded`` fills
``Annotations.occluded``; ``source``, ``z_order``, ``group_id``, ``rotation`` and each
``<attribute name=N>`` (as ``attribute:N``) go to ``extra`` as plain values, so a COCO copy keeps
them in ``attributes`` and a CVAT copy made from it gets them back.

Reader findings (each at the element's line of ``annotations.xml``): F001 (XML that does not
parse, with the parser's line and column; a mask whose run lengths do not fill its box), F008
(an image name absolute or escaping the root: only its base name is looked for, in
``images/``), F004 (a track frame with no ``<image>``). A label not declared in ``<meta>`` is
category -1 (C001 at the shape's line); a missing image file is I001.

Modules: :mod:`.parse` (XML into records), :mod:`.read` (the Dataset), :mod:`.rle` (CVAT run
lengths and COCO RLE), :mod:`.write` (the writer), :mod:`.writeback` (``--fix``: a fixed box's
coordinates edited on its line, a dropped shape's element removed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint.boundary import Boundary
from detlint.edits import FileChange
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset

NAME = "cvat"
ANNOTATIONS_FILE = "annotations.xml"
SNIFF_BYTES = 4096
_ROOT = re.compile(rb"<annotations>\s*(<!--.*?-->\s*)*<version>", re.S)

__all__ = ["FORMAT", "NAME", "CvatFormat"]


def looks_like_cvat(path: Path | str) -> bool:
    """Whether the file starts with an ``<annotations>`` root holding ``<version>`` (only a
    regular file inside its folder is opened)."""
    head = Boundary(Path(path).parent).head(os.fspath(path), SNIFF_BYTES)
    return isinstance(head, bytes) and _ROOT.search(head) is not None


def annotation_file(path: Path) -> Path | None:
    """The CVAT XML of a dataset at ``path``: the file itself, ``annotations.xml`` in the
    folder, else the first (sorted) ``*.xml`` at its top that looks like CVAT."""
    if path.is_file():
        return path if path.suffix.lower() == ".xml" and looks_like_cvat(path) else None
    if not path.is_dir():
        return None
    named = path / ANNOTATIONS_FILE
    if named.is_file():
        return named if looks_like_cvat(named) else None
    try:
        with os.scandir(path) as entries:
            xmls = sorted(e.name for e in entries if e.name.lower().endswith(".xml") and e.is_file())
    except OSError:
        return None
    return next((path / name for name in xmls[:20] if looks_like_cvat(path / name)), None)


class CvatFormat(FormatBase):
    """CVAT for images 1.1 XML (see the package docstring)."""

    name = NAME
    title = "CVAT XML"
    class_list_label = "the labels declared in <meta>"
    traits = frozenset({Trait.DECLARED_SIZES, Trait.NAMED_IMAGE_FILES, Trait.CLASS_NAME, Trait.ORIENTED_BOXES,
                        Trait.PIXEL_POLYGONS})
    image_size_label = "<image width height>"

    def sniff(self, path: Path) -> int:
        found = annotation_file(Path(path))
        if found is None:
            return 0
        return 85 if found == Path(path) or found.name == ANNOTATIONS_FILE else 75

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.cvat import read

        return read.read(Path(path), options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.cvat import write

        write.write(ds, Path(dst), options)

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        # imported here: only --fix and --diff edit files
        from detlint.formats.cvat import writeback

        return writeback.write_back(old, new)

    def claim(self, path: Path) -> Claim | None:
        """A CVAT XML passed on its own is a whole dataset (its folder holds the images)."""
        path = Path(path)
        return Claim.DOCUMENT if path.suffix.lower() == ".xml" and looks_like_cvat(path) else None

    def dataset_files(self, ds: Dataset) -> list[str]:
        return list(ds.files)

    def is_dataset_level_file(self, name: str) -> bool:
        return name == ANNOTATIONS_FILE

    def class_list_file(self, ds: Dataset) -> str | None:
        return ds.files[0] if ds.files else None


FORMAT = CvatFormat()
