"""What the prediction rules (P codes) and label-issue rules (L codes) share: locating a
finding at one detection of the predictions file, and the detections' derived columns.

A detection's finding is located in the predictions file (``check --predictions FILE``): its
file (relative to the dataset root; ``../`` when the user's file lives outside it), its line
(YOLO txt) or JSON pointer (COCO results: ``/123``), the image it names and its position in the
file as the annotation key. ``data["detection"]`` is its row, for reporters.
"""

from __future__ import annotations

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset, Predictions
from detlint.rules._helpers import image_name


def detection_key(preds: Predictions, row: int) -> str:
    """The detection's own key: its array index (COCO results) or its line (text rows)."""
    if preds.pointer_prefix is None:
        return str(int(preds.detections.src_line[row]))
    return str(int(preds.detections.src_item[row]))


def detection_image(ds: Dataset, preds: Predictions, row: int) -> str | None:
    """The image a detection is about: the dataset's path for it, else the source's own key."""
    image = int(preds.detections.image[row])
    if image >= 0:
        return image_name(ds, image)
    key = preds.image_keys[row]
    return None if key is None else str(key)


def at_detection(ds: Dataset, preds: Predictions, row: int, code: str, message: str, key: str | None = None,
                 data: dict | None = None) -> Finding:
    """A finding at detection ``row``; ``key`` names the JSON member it is about (``score``)."""
    det = preds.detections
    line = int(det.src_line[row]) or None
    return Finding(code, message, file=preds.file_of(int(det.src_file[row])), line=line,
                   pointer=preds.pointer_of(row, key), image=detection_image(ds, preds, row),
                   annotation=detection_key(preds, row), data=(data or {}) | {"detection": int(row)})


def at_file(preds: Predictions, code: str, message: str, data: dict | None = None) -> Finding:
    """A finding about the predictions as a whole: the file (pointer to its top), or the folder
    of a text format (``meta["folder"]``)."""
    file = preds.meta.get("folder") or preds.file_of(0)
    return Finding(code, message, file=file, pointer="" if preds.pointer_prefix is not None else None,
                   data=data or {})


def linked(preds: Predictions) -> np.ndarray:
    """Detections whose image and class are both the dataset's."""
    det = preds.detections
    return (det.image >= 0) & (det.category >= 0)


def at_detections(ds: Dataset, preds: Predictions, rows: list[int], code: str, messages: list[str],
                  key: str | None = None) -> list[Finding]:
    """``at_detection`` for many rows at once."""
    return [at_detection(ds, preds, row, code, message, key) for row, message in zip(rows, messages)]


def by_file(preds: Predictions, rows: np.ndarray) -> dict[int, np.ndarray]:
    """``rows`` grouped by the file they are in."""
    files = preds.detections.src_file[rows]
    return {int(f): rows[files == f] for f in np.unique(files).tolist()}


def file_rows(preds: Predictions, file_index: int) -> int:
    """How many detections the file holds."""
    return int((preds.detections.src_file == file_index).sum())


def class_label(ds: Dataset, preds: Predictions, row: int) -> str:
    """The detection's class as the dataset names it, else as the file wrote it."""
    category = int(preds.detections.category[row])
    if category >= 0:
        return repr(ds.categories.names[category])
    extra = preds.detections.extra[row]
    raw = extra.get("category_id") if isinstance(extra, dict) else int(preds.detections.class_id[row])
    return f"{'category_id' if preds.class_basis == 'id' else 'class'} {raw!r}"


def class_ref(preds: Predictions) -> str:
    """What the file calls a class reference: "category_id" (COCO results) or "class index"."""
    return "category_id" if preds.class_basis == "id" else "class index"


def image_sizes(ds: Dataset, preds: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Each detection's image width and height in pixels (NaN where the image or its size is
    unknown)."""
    det = preds.detections
    w = np.full(len(det), np.nan)
    h = np.full(len(det), np.nan)
    linked = det.image >= 0
    w[linked] = ds.images.width[det.image[linked]]
    h[linked] = ds.images.height[det.image[linked]]
    w[w <= 0], h[h <= 0] = np.nan, np.nan
    return w, h
