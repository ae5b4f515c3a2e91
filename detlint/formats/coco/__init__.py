"""COCO object-detection JSON.

Layouts read:

- one JSON beside its images (``annotations.json`` + ``images/``, ``data/`` (labelformat) or
  the images next to it);
- ``annotations/instances_<split>.json`` (or ``person_keypoints_``, ``captions_``,
  ``panoptic_``, ``stuff_``, ``image_info_``: the split is all after the prefix, underscores
  included; where it reads several ways, the reading with an image folder wins) with images in
  ``images/<split>/``, ``<split>/``, ``<split>2017/`` or ``data/<split>/``;
- Roboflow: ``<split>/_annotations.coco.json`` beside the split's images;
- several JSON files in one folder: each file is a split named after it.

Each file's candidate image folders are listed once and the one where most of its names resolve
is searched first (:mod:`.finder`). Images stored elsewhere are read from ``ReadOptions.image_root``
(``--image-root``) only, which the dataset records (``Dataset.image_dir``).

``file_name`` may be bare or nested. Sparse category ids, annotations without ``bbox`` (kept as
annotations without geometry), RLE and polygon segmentation are all kept. A results list (a list
of detections, not a dataset) is refused with a one-line message.

Parsing uses orjson, and msgspec for the annotations of a file over ``slices.SLICE_BYTES``
(typed records, no dict per annotation: :mod:`.typed`; any annotation that does not fit the
well-formed kind sends its slice down the orjson path, so results never differ); a syntax error
becomes a located F001 (line, column). JSON that only Python's lenient parser accepts (bare
``NaN``, ``Infinity``, ``1e400``) is read anyway and reported as F001 at the first offending
token, so the non-finite values then show up as B004.
Items that break the fast column building are checked one by one and reported as F002 with
jsonschema's message for that item only.

Kept for round trips: ids, the source's exact box numbers, file names, every unknown key of an
image, annotation or category, the top-level keys besides the three sections (``info``,
``licenses``...) and each file's category id map. ``--fix`` edits the JSON by position, in the
file's own indentation and key order.

Modules: :mod:`.layout` (files, splits), :mod:`.finder` (image folders, file lookups), :mod:`.parse` (JSON, messages),
:mod:`.columns` (bulk column building), :mod:`.typed` (typed annotation records),
:mod:`.tables` (one document's tables), :mod:`.slices` (a file's annotations in slices, on a
forked helper when big), :mod:`.read`,
:mod:`.merge` (joining the files), :mod:`.write`, :mod:`.writeback` (``--fix``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint.edits import FileChange
from detlint.findings import json_pointer
from detlint.formats.coco.layout import NAME, annotation_files, refused_files, sniff
from detlint.formats.protocol import Claim, FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset, xywh_of

__all__ = ["FORMAT", "NAME", "CocoFormat", "annotation_files", "sniff"]


class CocoFormat(FormatBase):
    """COCO: one JSON document per split, declaring ids, sizes, areas and file names."""

    name = NAME
    title = "COCO"
    traits = frozenset({Trait.DECLARED_IDS, Trait.ID_REFERENCES, Trait.DECLARED_SIZES, Trait.CROWD_REGIONS,
                        Trait.DECLARED_AREAS, Trait.SCHEMA, Trait.NAMED_IMAGE_FILES, Trait.CLASS_ID,
                        Trait.PIXEL_POLYGONS})

    def sniff(self, path: Path) -> int:
        return sniff(path)

    # The reader, writer and --fix modules are imported on use: sniffing a VOC or YOLO folder needs none.
    def read(self, path: Path, options: ReadOptions) -> Dataset:
        from detlint.formats.coco import read

        return read.read(path, options)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        from detlint.formats.coco import write

        write.write(ds, dst, options)

    def write_split_lists(self, ds: Dataset, dst: Path, options: WriteOptions) -> bool:
        """One ``annotations/instances_<split>.json`` per split, its file names as the source's."""
        from dataclasses import replace

        from detlint.formats.coco import write

        write.write(ds, dst, replace(options, place_images=False))
        return True

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        from detlint.formats.coco import writeback

        return writeback.changes(old, new)

    def dataset_files(self, ds: Dataset) -> list[str]:
        """Every file: each JSON describes its whole split (images, classes and annotations)."""
        return list(ds.files)

    def locate(self, ds: Dataset, section: str, item: int | None, key: str | None) -> str | None:
        """``/<section>[/<item>[/<key>]]``, e.g. ``/annotations/12/bbox``."""
        if item is None:
            return json_pointer(section)
        return json_pointer(section, int(item)) if key is None else json_pointer(section, int(item), key)

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """``x y w h``, rounded as the writer rounds."""
        from detlint.formats.coco.writeback import COORD_DECIMALS

        return np.round(xywh_of(ds.annotations.boxes[rows]), COORD_DECIMALS)

    def class_list_file(self, ds: Dataset) -> str | None:
        """The (first) JSON document: it declares the categories."""
        return ds.files[0] if ds.files else None

    def claim(self, path: Path) -> Claim | None:
        """A ``.json`` file that sniffs as COCO is a dataset description of its own."""
        if path.suffix.lower() != ".json":
            return None
        try:
            if sniff(path) > 0:
                return Claim.DOCUMENT
            # a JSON linked out of its folder is not opened, but it is not silently passed either:
            # the read says why (F008)
            return Claim.DOCUMENT if any(r.code == "F008" for _, r in refused_files(path)) else None
        except (OSError, ValueError):
            return None


FORMAT = CocoFormat()
