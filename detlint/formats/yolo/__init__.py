"""YOLO txt labels: one ``.txt`` per image, one row per object, coordinates as fractions of the
image size, classes by their index in the class list.

Layouts read (first match wins): an ultralytics ``data.yaml`` (any ``*.yaml`` at the root with a
``names`` key; see :mod:`.ultralytics`), a darknet ``obj.data`` (:mod:`.darknet`), or bare
folders: ``images/`` + ``labels/`` (optionally per split) or labels beside their images, with
``classes.txt`` or ``obj.names`` for the class list (:mod:`.layout`).

A row is a box ``cls cx cy w h`` or a polygon ``cls x1 y1 ... xn yn`` (3+ points); anything else
is F006 at its line (:mod:`.parse`). With ``task: obb`` in the data.yaml (or
``ReadOptions.yolo_task``) a 4-point row is an oriented box (YOLO-OBB, :mod:`.obb`); the writer
writes 4-corner rows and ``task: obb`` whenever the dataset holds oriented boxes. Each image's
label is its path with the last ``images`` folder replaced by ``labels`` and a ``.txt``
extension, else the ``.txt`` beside it (F014 when only case differs; :mod:`.pairing`). A label
without an image is I006, kept on a synthetic image entry; sizes come from the image headers,
rows stay normalised where a size is unknown (:mod:`.read`). An image the description puts in
two splits is read once, in the first, and is an S001 at the line that adds it again
(:mod:`.leakage`).

The writer produces the ultralytics layout (:mod:`.write`); ``--fix`` rewrites only the changed
label lines (:mod:`.writeback`); a re-check re-reads only the changed label files
(:mod:`.reparse`).

Modules, bottom up: ``paths`` (names, path strings), ``listing`` (folder listings, the walker),
``layout``, ``ultralytics``, ``darknet``, ``discover``, ``leakage``, ``parse``, ``pairing``, ``read``,
``reparse``, ``sniff``, ``write``, ``writeback``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint.edits import FileChange
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, RootMark, Trait, WriteOptions
from detlint.formats.yolo import discover, markers, sniff  # the rest on use: sniffing another format's folder
from detlint.formats.yolo.paths import CLASS_MAP_NAMES, NAME
from detlint.model import Dataset, cxcywh_of
from detlint.readcache import Reparsed

__all__ = ["CLASS_MAP_NAMES", "FORMAT", "NAME", "YoloFormat"]


class YoloFormat(FormatBase):
    """The YOLO format: see the package docstring."""

    name = NAME
    title = "YOLO"
    traits = frozenset({Trait.NORMALIZED_COORDINATES, Trait.LABEL_ROWS, Trait.CLASS_INDEX, Trait.ORIENTED_BOXES})

    def sniff(self, path: Path) -> int:
        return sniff.sniff(path)

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.yolo import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.yolo import write

        write.write(ds, dst, options)

    def write_split_lists(self, ds: Dataset, dst: Path, options: WriteOptions) -> bool:
        """One ``<split>.txt`` per split, each line ``./`` and the image path relative to the
        dataset root (ultralytics reads ``./`` lines relative to the list's folder: put the lists
        in the source root)."""
        from detlint.formats.yolo import write

        write.write_lists(ds, dst)
        options.note("each <split>.txt names images relative to the source root: copy the lists there "
                     "and point data.yaml's train/val/test at them")
        return True

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        from detlint.formats.yolo import writeback

        return writeback.write_back(old, new)

    def dataset_files(self, ds: Dataset) -> list[str]:
        """The files that describe the whole dataset (data.yaml, class lists, image lists): every
        file of ``ds.files`` that no image entry is labelled by."""
        return super().dataset_files(ds)

    def reparse(self, ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
        from detlint.formats.yolo import reparse

        return reparse.reparse(ds, files, options)

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """``cx cy w h`` normalised by the image size."""
        w, h = ds.image_size_per_annotation()
        return cxcywh_of(ds.annotations.boxes[rows] / np.stack([w, h, w, h], axis=1)[rows])

    def claim(self, path: Path) -> Claim | None:
        """A ``*.yaml`` with ``names`` or a ``*.data`` is a DESCRIPTION; a ``.txt`` or a class-map
        file (``obj.names``, ...) is a MEMBER; anything else is not YOLO's."""
        return discover.claim(path)

    def member_root(self, path: Path) -> Path | None:
        """None: a YOLO label's folders imply no root of their own (a ``labels/`` parent, a
        folder with ``images/`` and ``labels/``, a class-map file are markers, which decide)."""
        return None

    def loose_root(self, path: Path) -> Path | None:
        return markers.loose_root(path)

    def root_mark(self, directory: Path, names: frozenset[str]) -> RootMark | None:
        return markers.root_mark(directory, names)

    def marker_names(self, names: frozenset[str]) -> set[str]:
        return markers.marker_names(names)

    def is_dataset_level_file(self, name: str) -> bool:
        return markers.is_dataset_level_file(name)

    def class_list_file(self, ds: Dataset) -> str | None:
        return markers.class_list_file(ds.files)


FORMAT = YoloFormat()
