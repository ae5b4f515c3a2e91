"""Readings of a predictions file's class references, for P003: the one the file declares and
the mistakes that are common enough to test for. Each maps the file's integer references to the
dataset's category indices (-1: none)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detlint.formats.predictions.matching import category_rows
from detlint.model import Dataset, Predictions

# COCO's 80 detection classes by their ids among the 91 of the 2014 paper (ultralytics'
# ``coco80_to_coco91_class``, torchvision's category list without its N/A entries)
COCO91_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
              32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
              58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87,
              88, 89, 90)

Reading = Callable[[np.ndarray], np.ndarray]


def readings(ds: Dataset, preds: Predictions) -> dict[str, tuple[str, Reading]]:
    """name -> (what it says, mapping). "declared" is the file's own reading."""
    basis = preds.class_basis
    n = len(ds.categories)

    def shifted(by: int) -> Reading:
        return lambda refs: category_rows(ds, refs + by, np.ones(len(refs), bool), basis)

    out: dict[str, tuple[str, Reading]] = {
        "declared": ("", shifted(0)),
        "minus-one": ("every class reference is one too high (1-based where the dataset counts from "
                      f"{_first(ds, basis)})", shifted(-1)),
        "plus-one": ("every class reference is one too low (0-based where the dataset counts from "
                     f"{_first(ds, basis) }; a model's class index written as the id)", shifted(1)),
    }
    if basis == "id" and not _contiguous(ds):
        out["index-as-id"] = ("category_id is the class's position in the class list (as a YOLO or "
                              "torchvision model numbers its classes), not the dataset's category id",
                              lambda refs: category_rows(ds, refs, np.ones(len(refs), bool), "index"))
    if n == len(COCO91_IDS) and _contiguous(ds):
        lookup = np.full(max(COCO91_IDS) + 2, -1, np.int64)
        lookup[list(COCO91_IDS)] = np.arange(len(COCO91_IDS))
        out["coco91-on-80"] = ("class references are COCO's 91-class ids against the dataset's 80 classes "
                               "(ultralytics' coco80_to_coco91_class maps one to the other)",
                               lambda refs: _through(lookup, refs, n))
    if basis == "index":
        out["id-as-index"] = ("class indices are the dataset's category ids, not positions in its class list",
                              lambda refs: category_rows(ds, refs, np.ones(len(refs), bool), "id"))
    return out


def _through(lookup: np.ndarray, refs: np.ndarray, n: int) -> np.ndarray:
    inside = (refs >= 0) & (refs < len(lookup))
    out = np.full(len(refs), -1, np.int64)
    out[inside] = lookup[refs[inside]]
    return np.where((out >= 0) & (out < n), out, -1).astype(np.int32)


def _contiguous(ds: Dataset) -> bool:
    ids = np.sort(ds.categories.ids)
    return bool(len(ids)) and bool((np.diff(ids) == 1).all()) and int(ids[0]) in (0, 1)


def _first(ds: Dataset, basis: str) -> int:
    return 0 if basis == "index" or not len(ds.categories) else int(ds.categories.ids.min())
