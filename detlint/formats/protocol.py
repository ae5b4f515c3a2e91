"""The one protocol every format package satisfies, its options, and the traits rules ask about.

A format package (``detlint/formats/<name>/``) exposes one object, ``FORMAT``, that satisfies
:class:`Format`. Subclassing :class:`FormatBase` gives the documented defaults of the optional
members. The registry (``detlint.formats``) is the only place that lists format packages; nothing
outside ``detlint/formats/`` compares format names.

Traits are what a rule may ask about a format instead of its name: a rule module declares
``REQUIRES = (Trait.DECLARED_IDS,)`` and the engine runs it only on datasets whose format has
every trait it requires.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from detlint.boundary import Boundary, Limits
from detlint.edits import FileChange
from detlint.headers import HeaderMemo
from detlint.model import Dataset
from detlint.placing import Placement
from detlint.readcache import NoCache, ReadCache, Reparsed


class Trait(str, Enum):
    """What a format's files can hold or mean; rules declare the traits they need."""

    DECLARED_IDS = "declared-ids"  # images, annotations and classes carry ids the file declares
    ID_REFERENCES = "id-references"  # annotations refer to images and classes by those ids
    DECLARED_SIZES = "declared-sizes"  # image width/height are written in the annotation files
    NORMALIZED_COORDINATES = "normalized-coordinates"  # coordinates are fractions of the image size
    PIXEL_CONVENTION = "pixel-convention"  # integer pixel coordinates under a 0/1-based convention
    CROWD_REGIONS = "crowd-regions"  # iscrowd flags and RLE masks
    DECLARED_AREAS = "declared-areas"  # each annotation states its area
    LABEL_ROWS = "label-rows"  # one text row per object, boxes and polygons alike
    SCHEMA = "schema"  # one structured document kept as written; the rules validate it (F002, F008)
    NAMED_IMAGE_FILES = "named-image-files"  # image file names written in the annotation files
    BASENAME_LOOKUP = "basename-lookup"  # an image is looked up by the base name of its declared file
    CLASS_INDEX = "class-index"  # objects refer to classes by their position in the class list
    CLASS_NAME = "class-name"  # objects refer to classes by name
    CLASS_ID = "class-id"  # objects refer to classes by a declared id
    ORIENTED_BOXES = "oriented-boxes"  # objects can be oriented boxes (4 corners, model kind 3)
    PIXEL_POLYGONS = "pixel-polygons"  # an object can carry polygons in pixels beside its box (COCO segmentation)
    PERCENT_COORDINATES = "percent-coordinates"  # raw holds x y width height in percent of the image size


@dataclass
class ReadOptions:
    voc_origin: int = 1  # 1: devkit 1-based inclusive pixels; 0: 0-based continuous
    classes: list[str] | None = None  # a configured class list (for formats that name classes)
    probe_images: bool = True  # read image headers for sizes (normalised formats need them)
    progress: bool = True
    workers: int = field(default_factory=lambda: min(32, (os.cpu_count() or 1) * 4))
    cache: ReadCache = field(default_factory=NoCache)  # the parse cache (NoCache: none)
    headers: HeaderMemo = field(default_factory=HeaderMemo)  # header records probed by this read
    limits: Limits = field(default_factory=Limits)  # the largest label / document file a read opens
    # the folder the user named for the images (--image-root); None: they are under the dataset
    # root. Only formats whose annotations name their image files use it (NAMED_IMAGE_FILES)
    image_root: Path | None = None
    # YOLO: "obb" reads 8-number rows as oriented boxes (else data.yaml's ``task:`` decides)
    yolo_task: str | None = None
    _boundaries: dict[str, Boundary] = field(default_factory=dict, repr=False, compare=False)

    def boundary(self, root: Path | str) -> Boundary:
        """What a read of the dataset at ``root`` may open (one per root: it memoises folders)."""
        key = os.path.abspath(root)
        found = self._boundaries.get(key)
        if found is None:
            found = self._boundaries[key] = Boundary(Path(key), self.limits)
        return found


GEOMETRIES = ("auto", "box", "mask")  # WriteOptions.geometry's values (``convert --geometry``)


@dataclass
class WriteOptions:
    voc_origin: int = 1
    link_images: bool = True  # hard-link (else copy) images into the destination
    # False: the annotations alone are written, naming the images where they are (split lists)
    place_images: bool = True
    # what a format holding one geometry kind per dataset (YOLO) writes: "auto" each row's own
    # (polygon rows stay polygons, other masks are dropped), "box" boxes only, "mask" polygons
    # from every mask (a row without one as its box's rectangle)
    geometry: str = "auto"
    losses: list[dict] = field(default_factory=list)  # filled by writers: every lossy step
    notes: list[str] = field(default_factory=list)  # what a consumer of the output will meet, and the fix

    def lose(self, what: str, count: int, detail: str = "") -> None:
        if count:
            self.losses.append({"what": what, "count": int(count), "detail": detail})

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lose_unplaced(self, results: Iterable[Placement], missing: str, missing_detail: str = "") -> None:
        """The losses of a writer's image placements: ``missing`` in the writer's words, the
        files never read (outside the root, not a regular file) in the same words for all."""
        counts = Counter(results)
        self.lose(missing, counts[Placement.MISSING], missing_detail)
        self.lose("image file outside the dataset root, not copied", counts[Placement.OUTSIDE_ROOT],
                  "its path or symlink leads out of the source folder (F008)")
        self.lose("image path not a regular file (FIFO, device, folder), not copied",
                  counts[Placement.NOT_REGULAR])


class Claim(Enum):
    """How an annotation file passed on the command line (pre-commit) belongs to a dataset."""

    DOCUMENT = "document"  # the file is a whole dataset of its own (a COCO JSON): load it as given
    DESCRIPTION = "description"  # it describes the dataset in its folder (data.yaml): load it as given
    MEMBER = "member"  # a per-image file or class list: its dataset root is found by markers above it


@dataclass(frozen=True)
class RootMark:
    """A folder's names say a dataset root is here (or at ``root``); ``strong`` marks win over
    any weaker mark nearer the file."""

    root: Path
    strong: bool


@runtime_checkable
class Format(Protocol):
    """A dataset format: how to find, read, write and minimally edit its files.

    Required: ``name``, ``title``, ``traits``, ``sniff``, ``read``, ``write``. The rest have the
    defaults of :class:`FormatBase`.
    """

    name: str  # the CLI's --format / --to value
    title: str  # for messages: "COCO JSON"
    traits: frozenset[Trait]

    def sniff(self, path: Path) -> int:
        """0: not this format; higher is more certain."""
        ...

    def read(self, path: Path, options: ReadOptions) -> Dataset: ...

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None: ...

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        """The minimal edits of ``old``'s source files that make them say what ``new`` says
        (``--fix``): only the lines or objects that changed are touched."""
        ...

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """The four numbers this format writes (``Annotations.raw``) for the boxes of ``rows``:
        a fix that moves a box keeps ``raw`` in the source's own terms."""
        ...

    def dataset_files(self, ds: Dataset) -> list[str]:
        """The files that describe the whole dataset (class lists, split lists, configs): a
        change to one of them means a full read."""
        ...

    def reparse(self, ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
        """The rows of ``files`` (indices into ``ds.files``) read again; None when a change can
        reach past those files."""
        ...

    def locate(self, ds: Dataset, section: str, item: int | None, key: str | None) -> str | None:
        """The JSON pointer of entry ``item`` of ``section`` ("images", "annotations",
        "categories"; the section itself when ``item`` is None), and of its ``key`` when given;
        None where the format has no pointers."""
        ...

    def class_targets(self, ds: Dataset, source: Format) -> list:
        """The class reference this format writes for each of ``ds``'s classes (read as
        ``source``): an index, a name or an id. The conversion report lists the mapping."""
        ...

    def write_split_lists(self, ds: Dataset, dst: Path, options: WriteOptions) -> bool:
        """Write only ``ds``'s split membership (``images.split``) under ``dst`` in this format's
        own split lists, naming the images where they are; False where the format has none."""
        ...

    def claim(self, path: Path) -> Claim | None:
        """Whether an annotation file passed on its own (pre-commit) belongs to this format."""
        ...

    def member_root(self, path: Path) -> Path | None:
        """The dataset root a per-image file's folder structure implies (VOC ``Annotations/``),
        else None (markers decide)."""
        ...

    def loose_root(self, path: Path) -> Path | None:
        """The root of a per-image file that no marker places (a flat folder of XML, a label
        beside its image), else None."""
        ...

    def root_mark(self, directory: Path, names: frozenset[str]) -> RootMark | None:
        """Whether ``directory`` (holding ``names``) is, or marks, a dataset root of this format."""
        ...

    def marker_names(self, names: frozenset[str]) -> set[str]:
        """The entries of ``names`` that :meth:`root_mark` looks at (big folders are cached as
        these alone)."""
        ...

    def is_dataset_level_file(self, name: str) -> bool:
        """Whether a file of this name describes a whole dataset (class list, layout): a change
        to it can change every finding."""
        ...

    def class_list_file(self, ds: Dataset) -> str | None:
        """The file of ``ds.files`` that declares the class list, if any (findings about a
        class point there)."""
        ...


class FormatBase:
    """Defaults for the optional members of :class:`Format`."""

    name = ""
    title = ""
    traits: frozenset[Trait] = frozenset()

    def write_back(self, old: Dataset, new: Dataset) -> list[FileChange]:
        """Default: the format cannot edit its files in place, so nothing is fixed."""
        return []

    def raw_from_boxes(self, ds: Dataset, rows: np.ndarray) -> np.ndarray:
        """Default: the format writes absolute-pixel ``x1 y1 x2 y2``."""
        return ds.annotations.boxes[rows].copy()

    def dataset_files(self, ds: Dataset) -> list[str]:
        """Default: every file no image entry is declared by."""
        declared = set(ds.images.src_file[ds.images.src_file >= 0].tolist())
        return [name for i, name in enumerate(ds.files) if i not in declared]

    def reparse(self, ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
        """Default: no incremental re-read (a re-check reads everything)."""
        return None

    @property
    def incremental(self) -> bool:
        """Whether this format re-reads single files into a snapshot (it overrides ``reparse``)."""
        return type(self).reparse is not FormatBase.reparse

    def locate(self, ds: Dataset, section: str, item: int | None, key: str | None) -> str | None:
        """Default: no JSON pointers (findings carry file and line)."""
        return None

    image_size_label = "width/height"  # how messages name the declared image size
    class_list_label = "the configured class list"  # how messages name where classes are declared

    def class_targets(self, ds: Dataset, source: Format) -> list:
        """Default, by the class-reference trait: positions for ``CLASS_INDEX``, names for
        ``CLASS_NAME``; for ``CLASS_ID`` the source's ids when it has ids, else 1-based positions."""
        n = len(ds.categories)
        if Trait.CLASS_INDEX in self.traits:
            return list(range(n))
        if Trait.CLASS_NAME in self.traits:
            return list(ds.categories.names)
        if Trait.CLASS_ID in source.traits:
            return [int(i) for i in ds.categories.ids.tolist()]
        return list(range(1, n + 1))

    def write_split_lists(self, ds: Dataset, dst: Path, options: WriteOptions) -> bool:
        """Default: the format has no split lists of its own."""
        return False

    def claim(self, path: Path) -> Claim | None:
        """Default: no file is claimed on its own."""
        return None

    def member_root(self, path: Path) -> Path | None:
        return None

    def loose_root(self, path: Path) -> Path | None:
        return None

    def root_mark(self, directory: Path, names: frozenset[str]) -> RootMark | None:
        return None

    def marker_names(self, names: frozenset[str]) -> set[str]:
        return set()

    def is_dataset_level_file(self, name: str) -> bool:
        return False

    def class_list_file(self, ds: Dataset) -> str | None:
        """Default: none (class findings carry no file)."""
        return None

    def has(self, trait: Trait) -> bool:
        return trait in self.traits

    def __repr__(self) -> str:
        return f"<format {self.name}>"
