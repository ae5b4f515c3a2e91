"""One labelme JSON into a :class:`Parsed` record: the image fields and one :class:`Shape` per
entry of ``shapes``, with the problems met, each located by JSON pointer.

What is checked here (it cannot be seen later): the file parses (F001, with line and column);
its root is an object with a ``shapes`` list (F002; an object with neither ``shapes`` nor
``imagePath`` is another tool's JSON, a config or a report, and is not read at all); each
shape is an object (F002) whose ``points`` are ``[x, y]`` pairs of numbers (F002 at
``/shapes/<i>/points``; the shape is kept without geometry) and whose ``label`` is a string
(F002). ``imageHeight``/``imageWidth`` that are not positive integers are F002 and read as
unknown (0). ``imageData`` is never decoded: only whether it is there is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from detlint.findings import Finding, json_pointer

# the keys the reader turns into columns; every other key is kept as it is in ``extra``
IMAGE_KEYS = ("shapes", "imagePath", "imageData", "imageHeight", "imageWidth")
SHAPE_KEYS = ("label", "points", "shape_type")
_DEFAULTS: dict[str, Any] = {"group_id": None, "description": "", "flags": {}, "mask": None}
_NONE = object()


@dataclass
class Shape:
    index: int  # position in ``shapes``
    label: str
    shape_type: str
    points: np.ndarray | None  # float64[n, 2]; None where they are not number pairs
    group_id: Any
    extra: dict[str, Any]  # group_id, flags, description, mask, unknown keys (as written)


@dataclass
class Parsed:
    image_path: str = ""
    height: int = 0
    width: int = 0
    has_image_data: bool = False
    image_extra: dict[str, Any] = field(default_factory=dict)  # version, flags, unknown keys
    shapes: list[Shape] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    failed: bool = False  # not a labelme document at all: no image row
    foreign: bool = False  # another JSON (a config, a conversion report): not an annotation file


def parse(data: bytes) -> Parsed:
    """The record of one file's bytes (never raises on bad data)."""
    out = Parsed()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        out.failed = True
        out.problems.append(Finding("F001", f"JSON does not parse: {exc.msg} (line {exc.lineno} column "
                                    f"{exc.colno})", line=exc.lineno, column=exc.colno))
        return out
    if isinstance(doc, dict) and "shapes" not in doc and "imagePath" not in doc:
        out.failed = out.foreign = True
        return out
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        out.failed = True
        what = "an object" if isinstance(doc, dict) else type(doc).__name__
        out.problems.append(Finding("F002", f"a labelme file is an object with a 'shapes' list; this is {what}"
                                    + (" without one" if isinstance(doc, dict) else ""), pointer=json_pointer()))
        return out
    _image_fields(doc, out)
    for index, entry in enumerate(doc["shapes"]):
        shape = _shape(index, entry, out.problems)
        if shape is not None:
            out.shapes.append(shape)
    return out


def _image_fields(doc: dict, out: Parsed) -> None:
    path = doc.get("imagePath")
    if path is not None and not isinstance(path, str):
        out.problems.append(Finding("F002", f"imagePath is {type(path).__name__}, not a string",
                                    pointer="/imagePath"))
    out.image_path = path if isinstance(path, str) else ""
    out.has_image_data = isinstance(doc.get("imageData"), str) and bool(doc["imageData"])
    out.height = _size(doc, "imageHeight", out.problems)
    out.width = _size(doc, "imageWidth", out.problems)
    out.image_extra = {key: value for key, value in doc.items() if key not in IMAGE_KEYS}
    if "imageData" in doc:
        out.image_extra["imageData"] = out.has_image_data  # a flag: the string stays in the file


def _size(doc: dict, key: str, problems: list[Finding]) -> int:
    value = doc.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or value != int(value):
        problems.append(Finding("F002", f"{key} {value!r} is not a positive integer; the size is unknown",
                                pointer=f"/{key}"))
        return 0
    return int(value)


def _shape(index: int, entry: Any, problems: list[Finding]) -> Shape | None:
    if not isinstance(entry, dict):
        problems.append(Finding("F002", f"shape is {type(entry).__name__}, not an object; not read",
                                pointer=json_pointer("shapes", index)))
        return None
    label = entry.get("label")
    if not isinstance(label, str):
        problems.append(Finding("F002", f"shape label {label!r} is not a string", pointer=json_pointer(
            "shapes", index, "label")))
        label = "" if label is None else str(label)
    shape_type = entry.get("shape_type") or "polygon"  # labelme's own default for a missing type
    if not isinstance(shape_type, str):
        shape_type = str(shape_type)
    points = _points(entry.get("points"))
    if points is None:
        problems.append(Finding("F002", f"{shape_type} points are not a list of [x, y] number pairs; the "
                                "shape has no geometry", pointer=json_pointer("shapes", index, "points")))
    # labelme's defaults (no group, no description, no flags, no mask) are not kept: 100k files
    extra = {key: value for key, value in entry.items() if key not in SHAPE_KEYS and _DEFAULTS.get(key, _NONE) != value}
    if "shape_type" not in entry:
        extra["shape_type_missing"] = True
    return Shape(index, label, shape_type, points, entry.get("group_id"), extra)


def _points(value: Any) -> np.ndarray | None:
    """float64[n, 2] of ``[[x, y], ...]``, or None when it is not that (strings, booleans,
    triples, a flat list)."""
    if not isinstance(value, list):
        return None
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)):
            return None
    return np.array(value, np.float64).reshape(len(value), 2)
