"""COCO results JSON: the list of detections pycocotools' ``COCO.loadRes`` takes.

Each entry is ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` (``segmentation``
kept where present). A well-formed file is decoded straight into typed records (msgspec: no dict
per detection); anything else (a missing key, a string id, a ``null`` score, bare ``NaN`` as
Python's ``json.dump`` writes it) goes down the tolerant path, entry by entry, where each
malformed entry is a P001 at its pointer and the rest are read. A COCO *dataset* document
(``images``/``annotations``/``categories``) given as results is read from its ``annotations``
and marked ``meta["top"] = "dataset"`` (P012: ``loadRes`` refuses it).
"""

from __future__ import annotations

import math
import operator
from itertools import chain
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np

from detlint.findings import Finding, json_pointer
from detlint.formats.coco.parse import parse_json
from detlint.formats.predictions.matching import category_rows, image_index, integral
from detlint.formats.predictions.table import Columns, display_file, predictions, read_whole
from detlint.model import SCORE_MISSING, SCORE_NON_FINITE, SCORE_NOT_A_NUMBER, SCORE_OK, Dataset, Predictions

NAME = "coco-results"
TITLE = "COCO results"
_Int64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
_ABSENT = msgspec.Raw(b"")


class _Detection(msgspec.Struct, gc=False):
    """One well-formed detection (unknown keys ignored, as pycocotools ignores them)."""

    image_id: _Int64
    category_id: _Int64
    bbox: tuple[float, float, float, float]
    score: float
    segmentation: msgspec.Raw = _ABSENT


_DECODER = msgspec.json.Decoder(list[_Detection])


def read(path: Path, ds: Dataset) -> Predictions:
    data = read_whole(path)
    file = display_file(path, ds.root)
    fast = _decode_fast(data)
    if fast == []:
        empty = Finding("P001", "an empty results list: pycocotools' loadRes raises IndexError (it reads the "
                                "first entry to tell boxes from masks), and there is nothing to evaluate",
                        file=file, pointer="")
        return predictions(ds, NAME, TITLE, path, file, Columns.empty(), [empty], {"top": "empty"},
                           pointer_prefix="", basis="id")
    if fast is not None:
        columns = _fast_columns(fast, ds)
        meta = {"top": "list" if fast else "empty", "first_keys": _fast_keys(fast),
                "image_id_types": {"int": len(fast)} if fast else {},
                "category_id_types": {"int": len(fast)} if fast else {}}
        return predictions(ds, NAME, TITLE, path, file, columns, [], meta, pointer_prefix="", basis="id")
    document, problems = parse_json(data, file)
    for found in problems:
        found.code = "P001"
    if document is None:
        return predictions(ds, NAME, TITLE, path, file, Columns.empty(), problems, {"top": "unparseable"},
                           pointer_prefix="", basis="id")
    entries, prefix, top = _entries(document)
    if entries is None:
        note = Finding("P001", f"not a results array: the top level is {_json_type(document)}; "
                               "pycocotools' loadRes needs a list of detections", file=file, pointer="")
        return predictions(ds, NAME, TITLE, path, file, Columns.empty(), [note], {"top": "other"},
                           pointer_prefix="", basis="id")
    columns, problems, meta = _tolerant_columns(entries, ds, file, prefix)
    meta["top"] = top if entries else "empty"
    return predictions(ds, NAME, TITLE, path, file, columns, problems, meta, pointer_prefix=prefix, basis="id")


def _decode_fast(data: bytes) -> list[_Detection] | None:
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None


def _fast_keys(items: list[_Detection]) -> list[str]:
    if not items:
        return []
    keys = ["image_id", "category_id", "bbox", "score"]
    return keys + (["segmentation"] if len(items[0].segmentation) else [])


def _fast_columns(items: list[_Detection], ds: Dataset) -> Columns:
    n = len(items)
    image_ids = np.fromiter(map(operator.attrgetter("image_id"), items), np.int64, n)
    class_ids = np.fromiter(map(operator.attrgetter("category_id"), items), np.int64, n)
    raw = np.fromiter(chain.from_iterable(map(operator.attrgetter("bbox"), items)), np.float64, 4 * n).reshape(n, 4)
    scores = np.fromiter(map(operator.attrgetter("score"), items), np.float64, n)
    state = np.where(np.isfinite(scores), SCORE_OK, SCORE_NON_FINITE).astype(np.int8)
    return Columns(raw=raw, image=image_index(ds).rows_of_ids(image_ids), image_keys=image_ids.astype(object),
                   class_id=class_ids, category=category_rows(ds, class_ids, np.ones(n, bool), "id"),
                   scores=scores, score_state=state,
                   items=np.arange(n, dtype=np.int32), has_box=np.ones(n, bool))


def _entries(document: Any) -> tuple[list | None, str, str]:
    """The detections array, its pointer prefix and what the top level was."""
    if isinstance(document, list):
        return document, "", "list"
    if isinstance(document, dict) and isinstance(document.get("annotations"), list):
        return document["annotations"], "/annotations", "dataset"
    return None, "", "other"


def _tolerant_columns(entries: list, ds: Dataset, file: str, prefix: str) -> tuple[Columns, list[Finding], dict]:
    problems: list[Finding] = []
    kept: list[tuple[int, Any, Any, list[float], float, int]] = []
    image_types: dict[str, int] = {}
    class_types: dict[str, int] = {}
    for item, entry in enumerate(entries):
        reason = _malformed(entry)
        if reason is not None:
            key, text, facts = reason
            pointer = prefix + json_pointer(item, *([key] if key else []))
            problems.append(Finding("P001", text, file=file, pointer=pointer, annotation=str(item),
                                    data={"entry": item, **facts}))
            continue
        image_types[_type_name(entry["image_id"])] = image_types.get(_type_name(entry["image_id"]), 0) + 1
        class_types[_type_name(entry["category_id"])] = class_types.get(_type_name(entry["category_id"]), 0) + 1
        score, state = _score(entry)
        kept.append((item, entry["image_id"], entry["category_id"], entry.get("bbox"), score, state))
    first = entries[0] if entries and isinstance(entries[0], dict) else {}
    meta = {"first_keys": [str(k) for k in first], "image_id_types": image_types,
            "category_id_types": class_types, "malformed": len(problems)}
    return _columns_of(kept, ds), problems, meta


def _malformed(entry: Any) -> tuple[str | None, str, dict[str, Any]] | None:
    """(the member, why, the facts) when pycocotools could not take this entry, else None.

    The facts (``Finding.data``) say what an evaluator meets, for P013's model of ``loadRes``:
    ``not_object`` (the entry's Python type), ``missing`` (a key), ``key`` + ``type`` (a key
    holding a value that is no number: its Python type), ``bbox`` (the box as written, short)
    with ``bbox_length`` (its length when a list, else -1)."""
    if not isinstance(entry, dict):
        return None, f"a detection must be a JSON object, not {_json_type(entry)}", {"not_object": _py_type(entry)}
    for key in ("image_id", "category_id"):
        if key not in entry:
            return None, f"no {key!r}: pycocotools' loadRes raises KeyError", {"missing": key}
        if isinstance(entry[key], (list, dict)) or entry[key] is None:
            return (key, f"{key} is {_json_type(entry[key])}: it must be a number",
                    {"key": key, "type": _py_type(entry[key])})
    bbox = entry.get("bbox")
    if "bbox" not in entry:
        return (None, "no 'bbox' (and no 'segmentation')", {"missing": "bbox"}) if "segmentation" not in entry \
            else None
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        return ("bbox", f"bbox must be 4 numbers [x, y, width, height], not {_short(bbox)}",
                {"bbox": _short(bbox), "bbox_length": len(bbox) if isinstance(bbox, list) else -1})
    return None


def _score(entry: dict) -> tuple[float, int]:
    if "score" not in entry:
        return math.nan, SCORE_MISSING
    value = entry["score"]
    if isinstance(value, bool):  # COCOeval sorts by -score: -True is -1
        return float(value), SCORE_NOT_A_NUMBER
    if not _is_number(value):
        return math.nan, SCORE_NOT_A_NUMBER
    try:
        value = float(value)
    except OverflowError:  # an integer too large for a float sorts as infinite
        value = math.inf if value > 0 else -math.inf
    return value, SCORE_OK if math.isfinite(value) else SCORE_NON_FINITE


def _columns_of(kept: list[tuple], ds: Dataset) -> Columns:
    n = len(kept)
    if not n:
        return Columns.empty()
    items, image_keys, class_keys, bboxes, scores, states = zip(*kept)
    raw = np.array([[_as_float(v) for v in b] if b is not None else [math.nan] * 4 for b in bboxes],
                   np.float64).reshape(n, 4)
    numbers = [integral(k) for k in class_keys]
    known = np.array([v is not None and -(1 << 63) <= v < (1 << 63) for v in numbers], bool)
    class_ids = np.array([v if ok else -1 for v, ok in zip(numbers, known.tolist())], np.int64)
    extra = np.full(n, None, dtype=object)
    for row in np.flatnonzero(~known).tolist():
        extra[row] = {"category_id": class_keys[row]}  # a name or a fraction, for P003's message
    return Columns(raw=raw, image=image_index(ds).rows_of_keys(list(image_keys)),
                   image_keys=np.array(image_keys + (None,), dtype=object)[:-1], class_id=class_ids,
                   category=category_rows(ds, class_ids, known, "id"), scores=np.array(scores, np.float64),
                   score_state=np.array(states, np.int8), items=np.array(items, np.int32),
                   has_box=np.array([b is not None for b in bboxes], bool), extra=extra)


def _as_float(value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float: infinite, so P007 names it
        return math.inf if value > 0 else -math.inf


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    """A value's type as ``meta`` counts ids by it ("int", "str", ...)."""
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)


def _py_type(value: Any) -> str:
    """A value's Python type name, as pycocotools' exceptions word it."""
    return type(value).__name__


def _json_type(value: Any) -> str:
    """A value's type in JSON's words, for messages."""
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
