"""The columns a predictions reader fills, and the one place they become a
:class:`~detlint.model.Predictions` table (boxes to xyxy pixels, provenance)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detlint.boundary import Limits, read_file
from detlint.errors import UsageError
from detlint.model import Annotations, Dataset, Predictions

XYWH = "xywh"  # COCO results: x y width height in pixels
CXCYWH_NORMALIZED = "cxcywh-normalized"  # YOLO rows: centre and size as fractions of the image


@dataclass
class Columns:
    """One value per detection, as read."""

    raw: np.ndarray  # float64[N, 4]: the four numbers as written
    image: np.ndarray  # int32: dataset image row, -1 unmatched
    image_keys: np.ndarray  # object: the source's own image reference
    class_id: np.ndarray  # int64: the source's class reference (-1 where it is not an integer)
    category: np.ndarray  # int32: dataset category index, -1 unknown
    scores: np.ndarray  # float64, NaN where the state is not OK
    score_state: np.ndarray  # int8, model.SCORE_*
    items: np.ndarray  # int32: position in the file (array index, or row number in a text file)
    has_box: np.ndarray  # bool
    extra: np.ndarray | None = None  # object: what the table has no column for
    files: np.ndarray | None = None  # int32: index into the file list (text formats; else 0)
    lines: np.ndarray | None = None  # int32: 1-based line (text formats)
    convention: str = XYWH

    @classmethod
    def empty(cls) -> Columns:
        return cls(raw=np.zeros((0, 4)), image=np.zeros(0, np.int32), image_keys=np.zeros(0, object),
                   class_id=np.zeros(0, np.int64), category=np.zeros(0, np.int32), scores=np.zeros(0),
                   score_state=np.zeros(0, np.int8), items=np.zeros(0, np.int32), has_box=np.zeros(0, bool))


@dataclass
class _Boxes:
    boxes: np.ndarray
    normalized: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def read_whole(path: Path) -> bytes:
    """The predictions file the user named (a regular file within the document limit)."""
    try:
        return read_file(path, Limits().document_bytes)
    except OSError as error:
        raise UsageError(f"--predictions: cannot read {path}: {error.strerror or error}") from None


def display_file(path: Path, root: Path) -> str:
    """``path`` relative to the dataset root, POSIX (``../`` where it lives outside: the user
    named it, and reporters join it with the dataset path as given)."""
    try:
        text = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:  # another drive (Windows)
        text = os.path.abspath(path)
    return text.replace(os.sep, "/")


def _pixel_boxes(columns: Columns, ds: Dataset) -> _Boxes:
    raw = columns.raw
    if columns.convention == XYWH:
        return _Boxes(np.column_stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]])
                      .reshape(len(raw), 4), np.zeros(len(raw), bool))
    w = np.zeros(len(raw))
    h = np.zeros(len(raw))
    linked = columns.image >= 0
    w[linked] = ds.images.width[columns.image[linked]]
    h[linked] = ds.images.height[columns.image[linked]]
    normalized = (w <= 0) | (h <= 0)
    w[normalized], h[normalized] = 1.0, 1.0
    cx, cy, bw, bh = (raw[:, k] for k in range(4))
    boxes = np.column_stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
    return _Boxes(boxes.reshape(len(raw), 4), normalized)


def predictions(ds: Dataset, name: str, title: str, source: Path, file: str | list[str], columns: Columns,
                problems: list, meta: dict, pointer_prefix: str | None, basis: str) -> Predictions:
    """The table of ``columns``; ``file``: the one file, or the list ``columns.files`` indexes."""
    n = len(columns.raw)
    det = Annotations.empty(n)
    with np.errstate(invalid="ignore", over="ignore"):
        boxes = _pixel_boxes(columns, ds)
    det.boxes, det.normalized = boxes.boxes, boxes.normalized
    det.raw = columns.raw
    det.has_box = columns.has_box
    det.image, det.category, det.class_id = columns.image, columns.category, columns.class_id
    det.id = np.arange(n, dtype=np.int64)
    det.src_item = columns.items
    det.src_file = columns.files if columns.files is not None else np.zeros(n, np.int32)
    det.src_line = columns.lines if columns.lines is not None else np.zeros(n, np.int32)
    if columns.extra is not None:
        det.extra = columns.extra
    files = [file] if isinstance(file, str) else list(file)
    meta["convention"] = columns.convention
    return Predictions(format=name, title=title, source=source, detections=det, scores=columns.scores,
                       score_state=columns.score_state, image_keys=columns.image_keys, files=files,
                       problems=problems, pointer_prefix=pointer_prefix, class_basis=basis, meta=meta)
