"""schema-violation (F002): a dataset description whose structure its trainers refuse.

Why it matters: pycocotools, torchvision and most trainers index the JSON by key and crash
with a bare ``KeyError``/``TypeError`` deep in a DataLoader worker, or accept the value and
misread it (a string id never matches an integer ``image_id``).

Checked against ``schemas/coco.schema.json``: missing ``images``/``annotations``/``categories``;
entries that are not objects; ids that are not integers (``"12"``, ``3.0``); a ``bbox`` that is
not 4 numbers; annotations without ``bbox``, ``area``, ``iscrowd`` or ``id``. The columns are
validated in bulk and jsonschema runs only on the entries that fail, so the message is
jsonschema's own, located by a JSON pointer.

A YOLO ``data.yaml`` is held to what ultralytics requires before it trains: both ``train:`` and
``val:`` (or ``validation:``) keys, else ``check_det_dataset`` raises "'train' and 'val' are
required in all data YAMLs"; and no image file as a split entry (ultralytics reads a named file as
a list of image paths, so training stops with "Error loading data from ..."). Located at the
data.yaml line.

Example: ``{"id": "7", "image_id": 1, "category_id": 2, "bbox": [1, 2, 3]}``; a data.yaml with
``train: images/train`` and no ``val:``.

Fix: re-export with a tool that writes the schema, or correct the listed entries; give the
data.yaml a ``val:`` folder of its own (not the training images: that is S001).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import ABSENT_INT, Dataset
from detlint.rules._helpers import RuleContext, at_annotation, reader_problems

CODE = "F002"
NAME = "schema-violation"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _missing_keys(ds: Dataset) -> dict[str, np.ndarray]:
    """Rows missing each required key (ids and references are validated by the reader)."""
    ann = ds.annotations
    return {"bbox": ~ann.has_box, "area": np.isnan(ann.area), "iscrowd": ann.iscrowd == ABSENT_INT}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    if not format_of(ds).has(Trait.SCHEMA):
        return
    missing = _missing_keys(ds)
    any_missing = np.logical_or.reduce(list(missing.values()))
    for row in np.flatnonzero(any_missing).tolist():
        keys = ", ".join(f"'{key}'" for key, mask in missing.items() if mask[row])
        consequence = ("a detection loader has no box to train on" if not ds.annotations.has_box[row] else
                       "torchvision's detection references read it and raise KeyError")
        yield at_annotation(ds, row, CODE, f"annotation has no {keys} (required by the COCO format): "
                            f"{consequence}", field_name=None)
