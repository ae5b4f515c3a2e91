"""Which dataset image and class each detection names, as the evaluators decide it.

- **Images, COCO results.** pycocotools matches ``image_id`` by Python equality against the
  dataset's image ids: ``1.0`` matches ``1``, ``"1"`` does not. A dataset without declared ids
  (YOLO, VOC, ...) is matched by file stem, as ultralytics' ``save_json`` writes ``image_id``:
  ``int(stem)`` for a numeric stem, else the stem.
- **Images, text rows.** A file ``<stem>.txt`` names the image of that stem; where two images
  share a stem (``train/a.jpg``, ``val/a.jpg``) the one whose folders the txt file's folders
  name wins, else the detection is unmatched.
- **Classes.** ``class_basis == "id"``: the dataset's category ids (COCO ``category_id``);
  ``"index"``: the position in the class list (YOLO).
"""

from __future__ import annotations

import math
import posixpath
from collections import defaultdict

import numpy as np

from detlint.formats.protocol import Trait
from detlint.model import Dataset

UNMATCHED = -1


class ImageIndex:
    """The dataset's images by id (where declared) and by file stem."""

    def __init__(self, ds: Dataset, by_declared_id: bool) -> None:
        self.ds = ds
        self.by_declared_id = by_declared_id
        ids = ds.images.id
        order = np.argsort(ids, kind="stable")
        self.sorted_ids, self.id_rows = ids[order], order.astype(np.int32)
        self._stems: dict[object, list[int]] | None = None  # built when a match by stem is asked
        self.paths: list[str] = []

    @property
    def stems(self) -> dict[object, list[int]]:
        """Image rows by file stem (and by its number, for a numeric stem)."""
        if self._stems is None:
            self._stems = defaultdict(list)
            images = self.ds.images
            for row, (path, name) in enumerate(zip(images.path.tolist(), images.file_name.tolist())):
                text = str(path or name or "")
                self.paths.append(text)
                stem = posixpath.splitext(posixpath.basename(text.replace("\\", "/")))[0]
                self._stems[stem].append(row)
                if stem.isascii() and stem.isdigit():
                    self._stems[int(stem)].append(row)
        return self._stems

    def rows_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """Rows of int64 ``ids`` (the fast path: every ``image_id`` an integer)."""
        if not self.by_declared_id:
            return np.array([self._by_stem(int(v)) for v in ids.tolist()], np.int32).reshape(len(ids))
        at = np.searchsorted(self.sorted_ids, ids)
        at = np.minimum(at, max(len(self.sorted_ids) - 1, 0))
        if not len(self.sorted_ids):
            return np.full(len(ids), UNMATCHED, np.int32)
        found = self.sorted_ids[at] == ids
        return np.where(found, self.id_rows[at], UNMATCHED).astype(np.int32)

    def rows_of_keys(self, keys: list[object]) -> np.ndarray:
        """Rows of ``image_id`` values of any JSON type (the tolerant path)."""
        return np.array([self._row_of_key(k) for k in keys], np.int32).reshape(len(keys))

    def _row_of_key(self, key: object) -> int:
        number = integral(key)
        if self.by_declared_id:
            if number is None:
                return UNMATCHED  # pycocotools compares by equality: "1" is not 1
            return int(self.rows_of_ids(np.array([number], np.int64))[0]) if -(1 << 63) <= number < (1 << 63) \
                else UNMATCHED
        return self._by_stem(number if number is not None else key)

    def _by_stem(self, key: object) -> int:
        rows = self.stems.get(key) if isinstance(key, (int, str)) else None
        return rows[0] if rows and len(rows) == 1 else UNMATCHED

    def row_of_file(self, stem: str, folders: tuple[str, ...]) -> int:
        """The image a ``<stem>.txt`` file names; ``folders``: the txt file's own folders."""
        rows = self.stems.get(stem)
        if not rows:
            return UNMATCHED
        if len(rows) == 1:
            return rows[0]
        named = [r for r in rows if set(posixpath.dirname(self.paths[r]).split("/")) & set(folders)]
        return named[0] if len(named) == 1 else UNMATCHED


def integral(value: object) -> int | None:
    """``value`` as the integer Python equality takes it for (``3``, ``3.0``), else None."""
    if isinstance(value, bool):
        return None  # JSON true is not an id (though Python's True == 1)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def image_index(ds: Dataset) -> ImageIndex:
    from detlint.formats import format_of

    return ImageIndex(ds, format_of(ds).has(Trait.DECLARED_IDS))


def category_rows(ds: Dataset, class_ids: np.ndarray, known: np.ndarray, basis: str) -> np.ndarray:
    """The dataset's category index of each detection's class reference (-1: none).

    ``known``: which ``class_ids`` hold a value at all (a name or a non-integer is not one)."""
    n_classes = len(ds.categories)
    if basis == "index":
        ok = known & (class_ids >= 0) & (class_ids < n_classes)
        return np.where(ok, class_ids, UNMATCHED).astype(np.int32)
    ids = ds.categories.ids
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if not len(sorted_ids):
        return np.full(len(class_ids), UNMATCHED, np.int32)
    at = np.minimum(np.searchsorted(sorted_ids, class_ids), len(sorted_ids) - 1)
    ok = known & (sorted_ids[at] == class_ids)
    return np.where(ok, order[at], UNMATCHED).astype(np.int32)
