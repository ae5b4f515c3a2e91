"""The one in-memory model every reader fills, every rule reads and every writer serialises.

A :class:`Dataset` is three tables of numpy columns (categories, images, annotations) plus
provenance and per-format extras. Nothing here checks *values* (that is the rules' job); the
tables only check that their columns have consistent shapes.

Coordinate convention: ``Annotations.boxes`` is ``float64[N, 4]`` absolute-pixel ``x1, y1, x2, y2``
in continuous coordinates, origin at the top-left corner of the top-left pixel, so a box covering
the whole ``W x H`` image is ``[0, 0, W, H]``. ``Annotations.raw`` keeps the four numbers exactly as
the source wrote them (COCO ``x y w h``, VOC ``xmin ymin xmax ymax``, YOLO ``cx cy w h``).

When an image's size is unknown (``width == 0``) a YOLO box cannot be turned into pixels: its
``boxes`` row then holds the *normalised* ``x1 y1 x2 y2`` and ``Annotations.normalized`` is True,
so bounds rules still work in the unit square.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ABSENT_INT = -1  # for int8 flag columns (iscrowd, difficult, ...) whose key the source omitted


def _empty_object(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _check_columns(table: object, n: int, columns: dict[str, tuple[Any, tuple[int, ...]]]) -> None:
    """Raise ValueError when a column has the wrong dtype or length (a programming error)."""
    for name, (dtype, tail) in columns.items():
        col = getattr(table, name)
        if not isinstance(col, np.ndarray):
            raise TypeError(f"{type(table).__name__}.{name} must be a numpy array")
        if col.shape != (n, *tail):
            raise ValueError(f"{type(table).__name__}.{name} has shape {col.shape}, expected {(n, *tail)}")
        if np.dtype(dtype) != col.dtype:
            raise ValueError(f"{type(table).__name__}.{name} has dtype {col.dtype}, expected {np.dtype(dtype)}")


@dataclass
class Categories:
    """The class list. Position in the list is the category index used by annotations."""

    names: list[str] = field(default_factory=list)
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # source id (COCO id, YOLO index)
    extra: list[dict[str, Any]] = field(default_factory=list)  # supercategory, unknown keys
    src_file: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    src_line: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    src_item: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.names)

    def validate(self) -> None:
        n = len(self.names)
        if len(self.extra) != n:
            raise ValueError("Categories.extra must have one dict per name")
        _check_columns(self, n, {"ids": (np.int64, ()), "src_file": (np.int32, ()),
                                 "src_line": (np.int32, ()), "src_item": (np.int32, ())})

    @classmethod
    def build(cls, names: list[str], ids: list[int] | None = None, extra: list[dict] | None = None,
              src_file: int = -1, lines: list[int] | None = None,
              items: list[int] | None = None) -> Categories:
        n = len(names)
        return cls(
            names=list(names),
            ids=np.asarray(ids if ids is not None else range(n), dtype=np.int64).reshape(n),
            extra=list(extra) if extra is not None else [{} for _ in range(n)],
            src_file=np.full(n, src_file, np.int32),
            src_line=np.asarray(lines if lines is not None else [0] * n, np.int32).reshape(n),
            src_item=np.asarray(items if items is not None else range(n), np.int32).reshape(n),
        )


@dataclass
class Images:
    """One row per image entry.

    ``file_name`` is the name as the source declared it (COCO ``file_name``, VOC ``<filename>``,
    YOLO image path relative to the root); ``path`` is where the image file was found, relative to
    the dataset root (POSIX), or ``""`` when no file was found. ``width``/``height`` are the
    declared sizes (0 when unknown); readers that measure images store the measured size there.
    """

    file_name: np.ndarray
    path: np.ndarray
    width: np.ndarray
    height: np.ndarray
    split: np.ndarray
    id: np.ndarray
    src_file: np.ndarray
    src_line: np.ndarray
    src_item: np.ndarray
    extra: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    @classmethod
    def empty(cls, n: int = 0) -> Images:
        return cls(
            file_name=np.full(n, "", dtype=object), path=np.full(n, "", dtype=object),
            width=np.zeros(n, np.int64), height=np.zeros(n, np.int64),
            split=np.full(n, "", dtype=object), id=np.arange(n, dtype=np.int64),
            src_file=np.full(n, -1, np.int32), src_line=np.zeros(n, np.int32),
            src_item=np.full(n, -1, np.int32), extra=_empty_object(n),
        )

    def validate(self) -> None:
        _check_columns(self, len(self), {
            "file_name": (object, ()), "path": (object, ()), "width": (np.int64, ()),
            "height": (np.int64, ()), "split": (object, ()), "id": (np.int64, ()),
            "src_file": (np.int32, ()), "src_line": (np.int32, ()), "src_item": (np.int32, ()),
            "extra": (object, ()),
        })


@dataclass
class Annotations:
    """One row per annotation (a box, a polygon row, or a box-less COCO annotation).

    Flag columns (``iscrowd``, ``difficult``, ``truncated``, ``occluded``) are int8 with
    ``ABSENT_INT`` (-1) where the source omitted the key; ``area`` is NaN where absent.
    ``image`` is the row in ``Dataset.images``, -1 when the referenced image is not defined;
    ``category`` is the index into ``Dataset.categories`` or -1 when the class is unknown;
    ``class_id`` keeps the source's own class reference (COCO category_id, YOLO index).
    ``kind`` is 0 for a box, 1 for a polygon row (YOLO segmentation), 2 for no geometry, 3 for an
    oriented box.
    ``segmentation`` by kind: for 0, COCO's own value in pixels (a list of flat ``[x1, y1, ...]``
    polygons, or an RLE dict) or None; for 1, the flat list of normalised points; for 3, the four
    corners as a flat list of 8 numbers, in pixels (normalised when ``normalized``), in the order
    the source wrote them (``Dataset.meta["obb"]`` records the order and angle conventions). For
    kind 3 ``boxes`` is the corners' enclosing axis-aligned box.
    Provenance: ``src_file`` indexes ``Dataset.files``; ``src_line`` is 1-based (0 = none);
    ``src_item`` is the position in the source (COCO array index, VOC object index, YOLO line).
    """

    boxes: np.ndarray
    raw: np.ndarray
    has_box: np.ndarray
    normalized: np.ndarray
    image: np.ndarray
    category: np.ndarray
    class_id: np.ndarray
    id: np.ndarray
    kind: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    difficult: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    segmentation: np.ndarray
    extra: np.ndarray
    src_file: np.ndarray
    src_line: np.ndarray
    src_item: np.ndarray

    KIND_BOX = 0
    KIND_POLYGON = 1
    KIND_NONE = 2
    KIND_OBB = 3

    def __len__(self) -> int:
        return len(self.image)

    @classmethod
    def empty(cls, n: int = 0) -> Annotations:
        absent = np.full(n, ABSENT_INT, np.int8)
        return cls(
            boxes=np.zeros((n, 4), np.float64), raw=np.full((n, 4), np.nan), has_box=np.ones(n, bool),
            normalized=np.zeros(n, bool), image=np.zeros(n, np.int32), category=np.zeros(n, np.int32),
            class_id=np.zeros(n, np.int64), id=np.arange(n, dtype=np.int64), kind=np.zeros(n, np.uint8),
            area=np.full(n, np.nan), iscrowd=absent.copy(), difficult=absent.copy(),
            truncated=absent.copy(), occluded=absent.copy(), segmentation=_empty_object(n),
            extra=_empty_object(n), src_file=np.full(n, -1, np.int32), src_line=np.zeros(n, np.int32),
            src_item=np.full(n, -1, np.int32),
        )

    def validate(self) -> None:
        n = len(self)
        _check_columns(self, n, {
            "boxes": (np.float64, (4,)), "raw": (np.float64, (4,)), "has_box": (bool, ()),
            "normalized": (bool, ()), "image": (np.int32, ()), "category": (np.int32, ()),
            "class_id": (np.int64, ()), "id": (np.int64, ()), "kind": (np.uint8, ()),
            "area": (np.float64, ()), "iscrowd": (np.int8, ()), "difficult": (np.int8, ()),
            "truncated": (np.int8, ()), "occluded": (np.int8, ()), "segmentation": (object, ()),
            "extra": (object, ()), "src_file": (np.int32, ()), "src_line": (np.int32, ()),
            "src_item": (np.int32, ()),
        })

    def take(self, index: np.ndarray) -> Annotations:
        """Rows selected by a boolean mask or an index array, as a new table."""
        return Annotations(**{name: getattr(self, name)[index] for name in _ANNOTATION_COLUMNS})

    @classmethod
    def concat(cls, parts: list[Annotations]) -> Annotations:
        if not parts:
            return cls.empty(0)
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _ANNOTATION_COLUMNS})


_ANNOTATION_COLUMNS = tuple(Annotations.empty(0).__dict__)
_IMAGE_COLUMNS = tuple(Images.empty(0).__dict__)


def xywh_of(boxes: np.ndarray) -> np.ndarray:
    """``x1 y1 x2 y2`` rows as ``x y w h`` (COCO's box)."""
    return np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])


def cxcywh_of(boxes: np.ndarray) -> np.ndarray:
    """``x1 y1 x2 y2`` rows as ``cx cy w h`` (YOLO's box, once normalised)."""
    return np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                            boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])


def concat_images(parts: list[Images]) -> Images:
    if not parts:
        return Images.empty(0)
    return Images(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _IMAGE_COLUMNS})


def take_images(images: Images, index: np.ndarray) -> Images:
    return Images(**{name: getattr(images, name)[index] for name in _IMAGE_COLUMNS})


@dataclass
class Dataset:
    """A detection dataset: categories, images, annotations, where each came from, and the
    problems the reader met (as findings, reported by ``detlint check``)."""

    format: str
    root: Path
    categories: Categories
    images: Images
    annotations: Annotations
    files: list[str] = field(default_factory=list)  # annotation source files, relative to root
    problems: list = field(default_factory=list)  # list[detlint.findings.Finding]
    meta: dict[str, Any] = field(default_factory=dict)  # per-format dataset-level extras
    # where ``images.path`` resolves: None for the dataset root, else the image root the user
    # named (``--image-root``), a second folder images alone may be read from
    image_root: Path | None = None
    image_folders: list[str] = field(default_factory=list)  # searched for images, as messages name them

    @property
    def image_dir(self) -> Path:
        """The folder ``images.path`` is relative to (every image consumer joins and bounds by it)."""
        return Path(self.root) if self.image_root is None else Path(self.image_root)

    def validate(self) -> Dataset:
        self.categories.validate()
        self.images.validate()
        self.annotations.validate()
        return self

    @property
    def splits(self) -> list[str]:
        """Split names in first-seen order (``""`` for a dataset without splits)."""
        return list(dict.fromkeys(self.images.split.tolist()))

    def file_of(self, index: int) -> str | None:
        return self.files[index] if 0 <= index < len(self.files) else None

    def add_file(self, relpath: str) -> int:
        self.files.append(relpath)
        return len(self.files) - 1

    def image_size_per_annotation(self) -> tuple[np.ndarray, np.ndarray]:
        """(W, H) of each annotation's image in the box's own units.

        1.0 for normalised rows (YOLO without a known image size), NaN where the size is
        unknown, so comparisons against it are False and bounds rules stay silent.
        """
        ann = self.annotations
        linked = ann.image >= 0  # -1: an annotation whose image is not defined (F004)
        w = np.full(len(ann), np.nan)
        h = np.full(len(ann), np.nan)
        w[linked] = self.images.width[ann.image[linked]]
        h[linked] = self.images.height[ann.image[linked]]
        w[w <= 0] = np.nan
        h[h <= 0] = np.nan
        w[ann.normalized] = 1.0
        h[ann.normalized] = 1.0
        return w, h

    def subset(self, image_rows: np.ndarray) -> tuple[Dataset, np.ndarray]:
        """The dataset cut down to the images ``image_rows`` (sorted) and their annotations, and
        the rows of those annotations here. Categories, files and problems stay whole, so
        source locations read the same."""
        image_rows = np.asarray(image_rows, np.int64)
        new_index = np.full(len(self.images) + 1, -1, np.int32)  # the extra slot maps image -1
        new_index[image_rows] = np.arange(len(image_rows), dtype=np.int32)
        ann_rows = np.flatnonzero(new_index[self.annotations.image] >= 0)
        annotations = self.annotations.take(ann_rows)
        annotations.image = new_index[annotations.image]
        part = Dataset(format=self.format, root=self.root, categories=self.categories,
                       images=take_images(self.images, image_rows), annotations=annotations,
                       files=self.files, problems=self.problems,
                       meta=dict(self.meta), image_root=self.image_root, image_folders=self.image_folders)
        return part, ann_rows

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.root), "format": self.format, "images": len(self.images),
            "annotations": len(self.annotations), "categories": len(self.categories),
        }


SCORE_OK = 0
SCORE_MISSING = 1  # the key is absent
SCORE_NOT_A_NUMBER = 2  # null, a string, a bool, a list
SCORE_NON_FINITE = 3  # NaN or infinite


@dataclass
class Predictions:
    """Detections checked against a dataset (``check --predictions``): a second annotations
    table whose rows point into the dataset's images and categories, with a score per row.

    ``detections.image`` is the row in the dataset's images (-1: the detection names an image the
    dataset does not have; ``image_keys`` keeps the source's own reference, a COCO ``image_id``
    value or a YOLO file stem). ``detections.category`` is the dataset's category index (-1:
    unknown), ``class_id`` the source's own class reference (an id, or an index in
    ``class_basis`` "index" files). ``boxes`` are xyxy pixels as read under the file's declared
    convention (COCO results: ``x y w h``); ``raw`` keeps the four numbers as written.
    ``scores`` holds each score as an evaluator would sort it: the number as read (an infinite
    one kept, a JSON ``true``/``false`` as 1/0, as Python's ``-True`` sorts), NaN where there is
    none (missing, ``null``, a string); ``score_state`` says whether it is usable (``SCORE_OK``).
    Provenance as in a dataset: ``src_file`` indexes ``files`` (relative to the dataset root,
    ``../`` where the file lives outside it: the user named it), ``src_line`` (text rows),
    ``src_item`` (the position in a results array; ``pointer_prefix`` + ``/item`` is its JSON
    pointer).
    """

    format: str  # the predictions reader: "coco-results" | "yolo-txt"
    title: str  # for messages: "COCO results", "YOLO prediction txt"
    source: Path  # the file or folder as given on the command line
    detections: Annotations
    scores: np.ndarray
    score_state: np.ndarray
    image_keys: np.ndarray
    files: list[str] = field(default_factory=list)
    problems: list = field(default_factory=list)  # findings of the read (located in the predictions)
    pointer_prefix: str | None = ""  # None: a text format (file:line)
    class_basis: str = "id"  # "id": class_id is a category id; "index": a position in the class list
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.detections)

    def validate(self) -> Predictions:
        self.detections.validate()
        n = len(self.detections)
        _check_columns(self, n, {"scores": (np.float64, ()), "score_state": (np.int8, ()),
                                 "image_keys": (object, ())})
        return self

    def file_of(self, index: int) -> str | None:
        return self.files[index] if 0 <= index < len(self.files) else None

    def pointer_of(self, row: int, key: str | None = None) -> str | None:
        """The JSON pointer of detection ``row`` (``/123``, ``/123/score``); None in text files."""
        item = int(self.detections.src_item[row])
        if self.pointer_prefix is None or item < 0:
            return None
        return f"{self.pointer_prefix}/{item}" + (f"/{key}" if key else "")
