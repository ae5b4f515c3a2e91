"""Pascal VOC XML: one ``<annotation>`` file per image.

Layouts read:

- **devkit**: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt`` at the root,
  or nested as ``VOCdevkit/VOC2012/`` (several years are read together). Every list in
  ``ImageSets/Main`` is a split named by its whole file stem (``validation_holdout_2024.txt``),
  except per-class lists (``cat_train.txt``: a name with an underscore and ``id  1`` / ``id -1``
  / ``id  0`` lines). A list whose name joins other lists' names (``trainval``: ``train`` +
  ``val``) is their union: only its entries that they do not list are read from it. Blank lines,
  ``#`` comments and extra columns are tolerated. An image listed in a split without an XML is
  kept as an image without objects when its file exists. An image listed in two splits is S001
  at the line that lists it again. XMLs in ``Annotations/<sub>/`` get split ``<sub>`` when
  there are no split lists.
- **flat**: XML beside the images, either in one folder (LabelImg, split ``""``) or in
  ``<split>/`` subfolders (Roboflow export, split = folder name).
- a single ``.xml`` file (its folder is the root).

An image file beside the XML (flat) or in ``JPEGImages/`` (devkit) that no XML declares and no
split list names is never seen by a trainer: it is an I005 reader finding, not an image row.

Conventions: image sizes are declared (``<size>``), image files named (``<filename>``), classes
referred to by name (``<name>``; the class list is every name used, sorted, unless configured).
Coordinates follow ``--voc-origin`` (1, the default: devkit 1-based inclusive pixels,
``x1 = xmin - 1``, ``x2 = xmax``; 0: 0-based continuous). ``<bndbox>`` children are read by tag
name; float text is accepted; a missing or non-numeric coordinate is NaN (rule B004).

Round-trip extras: per object ``pose`` and every unknown child (``<part>``, ``<actions>``,
``<attributes>``, ...) serialised verbatim; per image ``folder``, ``path``, ``segmented``,
``depth``, ``source``, ``owner`` and unknown children. An image listed in more than one split
keeps its first split (train, val, test, others, unions) and remembers the rest.

Reader findings: F001 (file does not parse, with the parser's line and column; the root is not
``<annotation>``), F008 (``<filename>`` absolute or escaping the root), F014 (image or XML found
only when case is ignored), S001 (an image in two split lists), I005 (an image without XML).
Everything else is left to the rules. The writer produces the devkit layout and records every
loss; ``--fix`` edits the XML in place, keeping untouched lines' bytes.

Modules: :mod:`.layout` (which files, which splits), :mod:`.finder` (image lookup),
:mod:`.parse` / :mod:`.plain` / :mod:`.patterns` (XML into :class:`.record.ParsedXml`),
:mod:`.read` (the Dataset), :mod:`.reparse` (the incremental hook), :mod:`.write` (the writer),
:mod:`.writeback` (``--fix``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detlint.edits import FileChange
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.formats.voc import layout  # the rest on use: sniffing a COCO or YOLO folder imports no lxml
from detlint.formats.voc.layout import looks_like_voc
from detlint.formats.voc.record import NAME
from detlint.model import Dataset
from detlint.readcache import Reparsed

__all__ = ["FORMAT", "NAME", "VocFormat"]

class VocFormat(FormatBase):
    """Pascal VOC XML (see the package docstring)."""

    name = NAME
    title = "VOC"
    traits = frozenset({Trait.DECLARED_SIZES, Trait.PIXEL_CONVENTION, Trait.NAMED_IMAGE_FILES,
                        Trait.BASENAME_LOOKUP, Trait.CLASS_NAME})
    image_size_label = "<size>"

    def sniff(self, path: Path) -> int:
        return layout.sniff(path)

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.voc import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.voc import write

        write.write(ds, dst, options)

    def write_split_lists(self, ds: Dataset, dst: Path, options: WriteOptions) -> bool:
        """``ImageSets/Main/<split>.txt`` per split: the stems of the annotation files."""
        from detlint.formats.voc import write

        write.write_lists(ds, dst)
        return True

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        # imported here: only --fix and --diff edit files
        from detlint.formats.voc import writeback

        return writeback.write_back(old, new)

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """``xmin ymin xmax ymax`` in the dataset's pixel convention (1-based devkit by default)."""
        origin = float(ds.meta.get("voc_origin", 1))
        return ds.annotations.boxes[rows] + np.array([origin, origin, 0.0, 0.0])

    def dataset_files(self, ds: Dataset) -> list[str]:
        from detlint.formats.voc import read

        return read.dataset_files(ds)

    def reparse(self, ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
        from detlint.formats.voc import reparse

        return reparse.reparse(ds, files, options)

    def claim(self, path: Path) -> Claim | None:
        """A VOC XML passed on its own is a member of the dataset above it."""
        path = Path(path)
        return Claim.MEMBER if path.suffix.lower() == ".xml" and looks_like_voc(path) else None

    def member_root(self, path: Path) -> Path | None:
        """The parent of the ``Annotations/`` folder the XML lies in, at any depth
        (``Annotations/<split>/x.xml`` too); None when no folder above it is so named."""
        path = Path(path)
        if path.suffix.lower() != ".xml":
            return None
        for directory in Path(os.path.abspath(path)).parents:
            if directory.name == "Annotations":
                return directory.parent
        return None

    def loose_root(self, path: Path) -> Path | None:
        """A VOC XML that no marker places is read with its folder (a flat folder of XML)."""
        return Path(path).parent if Path(path).suffix.lower() == ".xml" else None


FORMAT = VocFormat()
