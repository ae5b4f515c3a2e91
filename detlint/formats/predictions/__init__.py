"""Predictions checked against a dataset (``detlint check DATA --predictions FILE``).

Two kinds of predictions file are read, each by one module, into one
:class:`~detlint.model.Predictions` table whose rows point into the dataset:

- ``coco-results`` (:mod:`.coco_results`): a COCO results JSON, the list of
  ``{image_id, category_id, bbox, score}`` that pycocotools' ``loadRes`` takes (``segmentation``
  kept where present). A COCO dataset document given instead is read from its ``annotations``
  and marked (P012).
- ``yolo-txt`` (:mod:`.yolo_txt`): a folder of ``<image stem>.txt`` files, one
  ``class cx cy w h [conf]`` row per detection, as ultralytics' ``predict``/``val`` with
  ``save_txt=True, save_conf=True`` writes them (``runs/detect/predict/labels/``).

The file is sniffed (a folder is YOLO txt, a file COCO results) unless ``--predictions-format``
names it. Matching images and classes (:mod:`.matching`) follows the evaluators: COCO results
name images by ``image_id`` (the dataset's ids where it declares them, else the image's file stem
as ultralytics' ``save_json`` writes it) and classes by ``category_id``; YOLO txt names images by
file stem and classes by their index in the class list.

A reader never fails on bad entries: each becomes a P001 finding located in the predictions
file. Only a file that cannot be read at all is a one-line usage error.
"""

from __future__ import annotations

from pathlib import Path

from detlint.errors import UsageError
from detlint.model import Dataset, Predictions

READERS: dict[str, str] = {
    "coco-results": "detlint.formats.predictions.coco_results",
    "yolo-txt": "detlint.formats.predictions.yolo_txt",
}

__all__ = ["READERS", "load", "names", "sniff"]


def names() -> tuple[str, ...]:
    """The ``--predictions-format`` choices."""
    return tuple(READERS)


def sniff(path: Path) -> str:
    """The kind of predictions file at ``path``; a one-line UsageError when it is neither."""
    if path.is_dir():
        return "yolo-txt"
    if path.is_file() or path.exists():
        if path.suffix.lower() == ".txt":
            return "yolo-txt"
        return "coco-results"
    raise UsageError(f"--predictions: {path}: no such file or folder")


def load(path: Path, ds: Dataset, format: str | None = None) -> Predictions:
    """The predictions at ``path``, matched against ``ds``'s images and classes."""
    import importlib

    kind = format or sniff(path)
    if kind not in READERS:
        raise UsageError(f"--predictions-format: unknown kind {kind!r} (one of {', '.join(READERS)})")
    module = importlib.import_module(READERS[kind])
    return module.read(Path(path), ds).validate()
