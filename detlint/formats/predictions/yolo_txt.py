"""YOLO prediction txt: one ``<image stem>.txt`` per image, one row per detection,
``class cx cy w h [conf] [track id]`` normalised to the image size, as ultralytics'
``Results.save_txt`` writes them (``predict``/``val`` with ``save_txt=True``; ``save_conf=True``
adds the score, tracking the id). The folder given is searched recursively
(``runs/detect/predict`` holds them under ``labels/``), through a boundary of its own: a file or
folder linking out of it is not read (P001). A row that is not 5 to 7 numbers is a P001 at its
line; a file of longer rows only (segment, oriented-box or keypoint predictions, not read as
boxes) is one P001.
"""

from __future__ import annotations

import math
import os
import posixpath
from pathlib import Path

import numpy as np

from detlint.boundary import Boundary
from detlint.fileio import decode_text, read_bytes
from detlint.findings import Finding
from detlint.formats.predictions.matching import category_rows, image_index
from detlint.formats.predictions.table import CXCYWH_NORMALIZED, Columns, display_file, predictions
from detlint.model import SCORE_MISSING, SCORE_NON_FINITE, SCORE_OK, Dataset, Predictions

NAME = "yolo-txt"
TITLE = "YOLO prediction txt"
_NOT_PREDICTIONS = {"classes.txt", "labels.txt", "readme.txt", "requirements.txt"}


class _Rows:
    """What the files' rows hold, appended file by file."""

    def __init__(self) -> None:
        self.values: list[list[float]] = []
        self.files: list[int] = []
        self.lines: list[int] = []
        self.images: list[int] = []
        self.keys: list[str] = []
        self.scored: list[bool] = []  # the row has a sixth number (save_conf)
        self.problems: list[Finding] = []


def read(path: Path, ds: Dataset) -> Predictions:
    folder = path if path.is_dir() else path.parent
    boundary = Boundary(folder)
    names = [path.name] if path.is_file() else _txt_files(folder, boundary)
    index = image_index(ds)
    rows = _Rows()
    files = [display_file(folder / name, ds.root) for name in names]
    for file_index, name in enumerate(names):
        stem = posixpath.splitext(posixpath.basename(name))[0]
        image = index.row_of_file(stem, tuple(posixpath.dirname(name).split("/")))
        _read_file(folder / name, boundary, file_index, files[file_index], image, stem, rows)
    if not names:
        rows.problems.append(Finding("P001", "no prediction .txt file in this folder (ultralytics writes them under "
                                             "labels/ with save_txt=True)", file=display_file(folder, ds.root)))
    columns = _columns(rows, ds)
    meta = {"top": "files" if names else "empty", "files": len(names), "with_scores": int(columns.score_state.size
            and (columns.score_state == SCORE_OK).sum()), "folder": display_file(folder, ds.root)}
    return predictions(ds, NAME, TITLE, path, files or [display_file(folder, ds.root)], columns, rows.problems,
                       meta, pointer_prefix=None, basis="index")


def _txt_files(folder: Path, boundary: Boundary) -> list[str]:
    """Every ``.txt`` below ``folder`` (POSIX, relative, sorted), not following links out of it."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if boundary.contains_folder(os.path.join(current, d)))
        rel = os.path.relpath(current, folder)
        for name in files:
            if name.lower().endswith(".txt") and name.lower() not in _NOT_PREDICTIONS:
                found.append(name if rel == "." else posixpath.join(rel.replace(os.sep, "/"), name))
    return sorted(found)


def _read_file(path: Path, boundary: Boundary, file_index: int, file: str, image: int, stem: str,
               rows: _Rows) -> None:
    data = read_bytes(str(path), boundary)
    text, problem = (None, data) if isinstance(data, Finding) else decode_text(data)
    if text is None:
        problem.code, problem.file = "P001", file
        # the boundary here is the predictions folder, not the dataset
        problem.message = problem.message.replace("the dataset root", "the predictions folder")
        rows.problems.append(problem)
        return
    bad: list[Finding] = []
    read_before = len(rows.values)
    longer = 0  # rows of more numbers than a box row: segment, oriented or keypoint predictions
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        values = _numbers(tokens)
        if values is None or len(values) not in (5, 6, 7) or not _is_class_index(values[0]):
            longer += values is not None and len(values) > 7
            bad.append(Finding("P001", _why(tokens, values), file=file, line=number, annotation=str(number)))
            continue
        # ultralytics' save_txt: class cx cy w h, then conf (save_conf=True), then a track id
        rows.values.append(values[:6] if len(values) >= 6 else values + [math.nan])
        rows.scored.append(len(values) >= 6)
        rows.files.append(file_index)
        rows.lines.append(number)
        rows.images.append(image)
        rows.keys.append(stem)
    if bad and longer == len(bad) and len(rows.values) == read_before:
        bad = [Finding("P001", f"{len(bad)} rows of more than 7 numbers: segment, oriented-box or keypoint "
                               "predictions, which are not read (box rows are 'class cx cy w h [conf] [track id]')",
                       file=file, line=bad[0].line, annotation=bad[0].annotation)]
    rows.problems.extend(bad)


def _numbers(tokens: list[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _is_class_index(value: float) -> bool:
    # a whole number an int64 class column holds: 1e23 would wrap to a wrong, negative index
    return float(value).is_integer() and abs(value) < 2.0 ** 63


def _why(tokens: list[str], values: list[float] | None) -> str:
    if values is None:
        return f"not a prediction row: {' '.join(tokens)[:60]!r} holds a token that is not a number"
    if len(values) in (5, 6, 7) and float(values[0]).is_integer():
        return f"the class index {tokens[0]!r} is too large to be a class index"
    if len(values) in (5, 6):
        return f"the class index {tokens[0]!r} is not a whole number"
    return (f"{len(values)} numbers: a box prediction row is 'class cx cy w h [conf] [track id]' (5 to 7); "
            "segment and oriented predictions are not read")


def _columns(rows: _Rows, ds: Dataset) -> Columns:
    n = len(rows.values)
    if not n:
        return Columns.empty()
    values = np.array(rows.values, np.float64).reshape(n, 6)
    class_ids = values[:, 0].astype(np.int64)
    scores = values[:, 5]
    scored = np.array(rows.scored, bool)
    state = np.where(~scored, SCORE_MISSING, np.where(np.isfinite(scores), SCORE_OK, SCORE_NON_FINITE))
    image = np.array(rows.images, np.int32)
    return Columns(raw=values[:, 1:5].copy(), image=image, image_keys=np.array(rows.keys, dtype=object),
                   class_id=class_ids, category=category_rows(ds, class_ids, np.ones(n, bool), "index"),
                   scores=scores, score_state=state.astype(np.int8),
                   items=np.array(rows.lines, np.int32), has_box=np.ones(n, bool),
                   files=np.array(rows.files, np.int32), lines=np.array(rows.lines, np.int32),
                   convention=CXCYWH_NORMALIZED)
