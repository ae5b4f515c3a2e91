"""What one VOC XML file parses into, and the vocabulary shared by the reader and the writer.

Owns the format's one name (:data:`NAME`), the tags the reader knows, :class:`ParsedXml` (the
record both parsers, the lxml tree path and the plain fast path, produce for a file), the
conversions of element text to values, and the record's JSON form for the parse cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from detlint.findings import Finding

NAME = "voc"

FLAG_TAGS = ("truncated", "difficult", "occluded")
IMAGE_TEXT_TAGS = ("folder", "path", "segmented")
IMAGE_XML_TAGS = ("source", "owner")
COORD_TAGS = ("xmin", "ymin", "xmax", "ymax")


@dataclass
class ParsedXml:
    """One XML file's content: the image fields, and plain lists with one entry per object."""

    problem: Finding | None = None
    filename: str = ""
    filename_line: int = 0
    path_text: str = ""
    width: int = 0
    height: int = 0
    root_line: int = 0
    image_extra: dict[str, Any] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    coords: list[float] = field(default_factory=list)  # 4 per object, xmin ymin xmax ymax
    flags: list[int] = field(default_factory=list)  # 3 per object, FLAG_TAGS order
    lines: list[int] = field(default_factory=list)
    extras: list[dict | None] = field(default_factory=list)


# ------------------------------------------------------------------------------ element text


def number(text: str | None) -> float:
    """A coordinate's value: float text accepted, missing or non-numeric is NaN (rule B004)."""
    try:
        return float(text.strip()) if text is not None else math.nan
    except ValueError:
        return math.nan


def size_value(text: str) -> int:
    """A ``<width>``/``<height>`` value; 0 where it is unusable (rule F011)."""
    value = number(text)
    return int(value) if math.isfinite(value) and 0 < value < 2**31 else 0


def flag(text: str) -> int | None:
    """A ``<truncated>``/``<difficult>``/``<occluded>`` value; None where the int8 column cannot
    hold it (the element is then kept verbatim)."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return int(lowered == "true")
    value = number(lowered)
    if math.isfinite(value) and value.is_integer() and 0 <= value <= 127:
        return int(value)
    return None


# ------------------------------------------------------------------------------ cache encoding


def to_json(result: ParsedXml) -> dict[str, Any] | list[Any]:
    """A parse result as JSON-able values (non-finite coordinates as text: JSON has no NaN).

    A file that parsed is a list of the :class:`ParsedXml` fields in order plus a flag for
    non-finite coordinates: a re-check decodes 100k+ of these, and lists without key names are
    about half the JSON of dicts. A file with a problem keeps the dict form (``uncacheable`` is
    read by the cache).
    """
    problem = result.problem
    finite = all(map(math.isfinite, result.coords))
    coords = result.coords if finite else [v if math.isfinite(v) else repr(v) for v in result.coords]
    if problem is None:
        return [result.filename, result.filename_line, result.path_text, result.width, result.height,
                result.root_line, result.image_extra, result.names, coords, result.flags, result.lines,
                result.extras, int(not finite)]
    value: dict[str, Any] = {k: v for k, v in result.__dict__.items() if k != "problem"}
    value["coords"] = coords
    value["problem"] = {"code": problem.code, "message": problem.message, "line": problem.line,
                        "column": problem.column}
    value["uncacheable"] = problem.message.startswith("cannot read file")
    return value


def from_json(value: dict[str, Any] | list[Any]) -> ParsedXml:
    """The :class:`ParsedXml` that :func:`to_json` encoded."""
    if isinstance(value, list):
        *fields, non_finite = value
        result = ParsedXml(None, *fields)
        if non_finite:
            result.coords = [float(v) for v in result.coords]
        return result
    fields = {k: v for k, v in value.items() if k not in ("problem", "uncacheable")}
    fields["coords"] = [float(v) for v in fields["coords"]]
    problem = value.get("problem")
    return ParsedXml(problem=Finding(**problem) if problem else None, **fields)
