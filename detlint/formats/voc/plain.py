"""The fast path: a plain VOC document read from its text, without building a tree.

:func:`parse_plain` reads a document the patterns of :mod:`.patterns` describe in two tiers: the
devkit / LabelImg layout as columns (one match per object), else the known fields in any order,
one element at a time. Anything else, including every malformed file, returns None and goes to
lxml (:mod:`.parse`), so results and F001 messages are the same either way.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from detlint.formats.voc.patterns import (
    CANONICAL_IMAGE_FIELDS,
    CANONICAL_OBJECT,
    FLAG_TEXT,
    NOT_PLAIN_SEQUENCES,
    NOT_XML_BYTES,
    PLAIN_CHILD,
    PLAIN_IMAGE_FIELD,
    PLAIN_LEAF,
    PLAIN_MAX_BYTES,
    PLAIN_MAX_LINES,
    PLAIN_START,
    SUSPECT_BYTES,
)
from detlint.formats.voc.record import (
    COORD_TAGS,
    FLAG_TAGS,
    ParsedXml,
    flag,
    number,
    size_value,
)


def _plain_text(data: bytes) -> str | None:
    """The document as text if nothing in its bytes needs an XML parser, else None."""
    if len(data) > PLAIN_MAX_BYTES:
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    if len(data.translate(None, SUSPECT_BYTES)) != len(data):
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")  # XML's own line-end normalisation
            if b"\r" in data:
                return None
        if len(data.translate(None, NOT_XML_BYTES)) != len(data):
            return None
        if any(sequence in data for sequence in NOT_PLAIN_SEQUENCES):
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) > PLAIN_MAX_LINES and text.count("\n") > PLAIN_MAX_LINES:
        return None
    return text


def parse_plain(data: bytes) -> ParsedXml | None:
    """The parse of a plain document, or None when lxml has to read it."""
    text = _plain_text(data)
    start = PLAIN_START.match(text) if text is not None else None
    if start is None:
        return None
    objects = list(CANONICAL_OBJECT.finditer(text, start.end()))
    # [start of the body, start and end of each object, end of the text]: what lies between
    # consecutive pairs is not a canonical object
    bounds = [start.end(), *[pos for m in objects for pos in m.span()], len(text)]
    result = ParsedXml(root_line=text.count("\n", 0, start.end() - len("<annotation>")) + 1)
    if not _plain_image_fields(text, bounds, result):
        return _parse_plain_mixed(text, start.end(), result.root_line)
    return result if _canonical_objects(text, objects, bounds[1:-1:2], result) else None


def _plain_image_fields(text: str, bounds: list[int], result: ParsedXml) -> bool:
    """Read the image fields around the canonical objects; False if anything else is there."""
    extra: dict[str, Any] = {}
    seen: set[str] = set()
    stretches = [(pos, end) for pos, end in zip(bounds[0::2], bounds[1::2]) if pos != end]
    if not stretches or stretches[-1][1] != len(text):
        return False  # no </annotation> after the last object
    fields = CANONICAL_IMAGE_FIELDS.match(text, *stretches[0])
    if fields is not None:
        if fields.group("end") is not None and stretches[0][1] != len(text):
            return False
        _canonical_image_fields(text, fields, result, extra, seen)
        del stretches[0]
    for pos, end in stretches:
        if not _stretch_fields(text, pos, end, result, extra, seen):
            return False
    result.path_text = extra.get("path", "")
    result.image_extra = extra
    return True


def _stretch_fields(text: str, pos: int, end: int, result: ParsedXml, extra: dict[str, Any],
                    seen: set[str]) -> bool:
    """The image fields of ``text[pos:end]`` (a stretch between objects); False if anything else
    is there, or if ``</annotation>`` is not what closes the document."""
    while True:
        field = PLAIN_IMAGE_FIELD.match(text, pos, end)
        if field is None:
            return False
        kind = field.lastgroup
        if kind == "gap" or kind == "end":
            break
        if not _image_field(text, field, kind, result, extra, seen):
            return False
        pos = field.end()
    return (kind == "end") == (end == len(text))


def _canonical_image_fields(text: str, fields: re.Match, result: ParsedXml, extra: dict[str, Any],
                            seen: set[str]) -> None:
    """The image fields of a :data:`CANONICAL_IMAGE_FIELDS` match (in document order)."""
    values = fields.groupdict()
    if values["folder"] is not None:
        extra["folder"] = values["folder"].strip()
    if values["filename"] is not None:
        result.filename = values["filename"].strip()
        result.filename_line = text.count("\n", 0, fields.start("filename")) + 1
    for tag in ("path", "source", "owner"):
        if values[tag] is not None:
            extra[tag] = values[tag] if tag != "path" else values[tag].strip()
    if values["size"] is not None:
        result.width = size_value(values["width"].strip())
        result.height = size_value(values["height"].strip())
        if values["depth"] is not None:
            extra["depth"] = values["depth"].strip()
    if values["segmented"] is not None:
        extra["segmented"] = values["segmented"].strip()
    seen.update(tag for tag in ("folder", "filename", "path", "source", "owner", "size", "segmented")
                if values[tag] is not None)


def _image_field(text: str, field: re.Match, kind: str, result: ParsedXml, extra: dict[str, Any],
                 seen: set[str]) -> bool:
    """One image field into ``result``/``extra``; False for a repeated one (kept verbatim by lxml)."""
    tag = "size" if kind == "size" else field.group("leaf" if kind == "text" else "vtag")
    if tag in seen:
        return False
    seen.add(tag)
    if kind == "text":  # the outermost group that closed last is "text" for a leaf
        value = field.group("text").strip()
        if tag == "filename":
            result.filename = value
            result.filename_line = text.count("\n", 0, field.start("leaf")) + 1
        else:
            extra[tag] = value
    elif kind == "size":
        _plain_size(field.group("size"), result, extra)
    else:
        extra[tag] = field.group("verbatim")
    return True


def _canonical_objects(text: str, objects: list[re.Match], starts: list[int], result: ParsedXml) -> bool:
    """The canonical objects as columns; False if a flag needs lxml (kept verbatim there)."""
    n = len(objects)
    if not n:
        return True
    names, poses, truncated, difficult, occluded, *coords = zip(*[m.groups() for m in objects])
    flags = [0] * (3 * n)
    for index, column in enumerate((truncated, difficult, occluded)):
        values = list(map(FLAG_TEXT.get, column))
        if None in values:
            values = [FLAG_TEXT[v] if v in FLAG_TEXT else flag(v) for v in column]
            if None in values:
                return False
        flags[index::3] = values
    coord_texts: list[str] = [""] * (4 * n)
    for index, column in enumerate(coords):
        coord_texts[index::4] = column
    result.names = [name.strip() for name in names]
    result.flags = flags
    result.coords = _numbers(coord_texts)
    result.extras = [{"pose": pose} if pose is not None else None for pose in poses]
    result.lines = _object_lines(text, starts)
    return True


def _object_lines(text: str, starts: list[int]) -> list[int]:
    """The 1-based line of each offset in ``starts`` (ascending)."""
    if text.find("\n", 0, starts[-1]) < 0:
        return [1] * len(starts)
    lines, line, line_pos = [], 1, 0
    for pos in starts:
        line += text.count("\n", line_pos, pos)
        line_pos = pos
        lines.append(line)
    return lines


def _numbers(texts: list[str]) -> list[float]:
    try:
        return list(map(float, texts))  # float() strips whitespace as number() does
    except ValueError:
        return [number(value) for value in texts]


def _parse_plain_mixed(text: str, pos: int, root_line: int) -> ParsedXml | None:
    """The second tier: known object fields in any order, one element at a time."""
    line_pos, line = 0, 1

    def line_at(at: int) -> int:
        nonlocal line_pos, line
        line += text.count("\n", line_pos, at)
        line_pos = at
        return line

    result = ParsedXml(root_line=root_line)
    extra: dict[str, Any] = {}
    seen: set[str] = set()
    coord_texts: list[str] = []
    while True:
        child = PLAIN_CHILD.match(text, pos)
        if child is None:
            return None
        pos = child.end()
        kind = child.lastgroup
        if kind == "end":
            break
        if kind == "object":
            if not _plain_object(child.group("object"), result, coord_texts):
                return None
            result.lines.append(line_at(child.start("object")))
        elif not _image_field(text, child, kind, result, extra, seen):
            return None
    result.path_text = extra.get("path", "")
    result.image_extra = extra
    result.coords = _numbers(coord_texts)
    return result


def _plain_size(element: str, result: ParsedXml, extra: dict[str, Any]) -> None:
    values: dict[str, str] = {}
    for tag, value in PLAIN_LEAF.findall(element):
        values.setdefault(tag, value)  # the first of each, as find() does
    result.width = size_value(values.get("width", "").strip())
    result.height = size_value(values.get("height", "").strip())
    if "depth" in values:
        extra["depth"] = values["depth"].strip()


def _plain_object(element: str, result: ParsedXml, coord_texts: list[str]) -> bool:
    """Append one ``<object>``; False when it needs lxml (a repeated or unusual field)."""
    pairs = PLAIN_LEAF.findall(element)
    fields = dict(pairs)
    if len(fields) != len(pairs) or element.count("<bndbox>") > 1:
        return False
    flags = []
    for tag in FLAG_TAGS:
        value = fields.get(tag)
        value_flag = FLAG_TEXT[value] if value in FLAG_TEXT else flag(value)
        if value_flag is None:  # the tree path keeps it verbatim
            return False
        flags.append(value_flag)
    result.names.append(fields.get("name", "").strip())
    result.flags.extend(flags)
    coord_texts.extend([fields.get(tag, "nan") for tag in COORD_TAGS])  # missing: NaN
    pose = fields.get("pose")
    result.extras.append({"pose": pose} if pose is not None else None)
    return True
