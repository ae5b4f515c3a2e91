"""Reading XML files into :class:`~.record.ParsedXml` records: the lxml tree path, the choice
between it and the plain fast path (:mod:`.plain`), batched file reads, and the parse cache.

Parsing uses lxml with entity resolution and network access off. ``<bndbox>`` children are read
by tag name (Roboflow writes ``xmin xmax ymin ymax``); float text is accepted; a missing or
non-numeric coordinate is NaN (rule B004 reports it). Per object ``pose`` and every unknown
child (``<part>``, ``<actions>``, ``<attributes>``, ...) are kept, serialised verbatim; per image
``folder``, ``path``, ``segmented``, ``depth`` (text), ``source`` and ``owner`` (serialised) and
unknown children. A file that does not parse, or whose root is not ``<annotation>``, is F001
with the parser's line and column; so is a file that uses an XML entity (``&c;`` declared in its
DTD): entities are never expanded (XXE), so its text would be missing.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

from detlint import fileio
from detlint.boundary import Boundary
from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.voc.plain import parse_plain
from detlint.formats.voc.record import (
    COORD_TAGS,
    FLAG_TAGS,
    IMAGE_TEXT_TAGS,
    IMAGE_XML_TAGS,
    NAME,
    ParsedXml,
    flag,
    from_json,
    number,
    size_value,
    to_json,
)
from detlint.model import ABSENT_INT
from detlint.readcache import RowTable


def new_parser() -> etree.XMLParser:
    """An lxml parser for annotation files (lxml parsers must not be shared between threads)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class _TreeParser:
    """The lxml path for one batch of files (one thread): its parser is made on first use."""

    __slots__ = ("_parser",)

    def __init__(self) -> None:
        self._parser: etree.XMLParser | None = None

    def parse(self, data: bytes) -> ParsedXml:
        if self._parser is None:
            self._parser = new_parser()
        return _parse_tree(data, self._parser)


def parse_files(paths: list[str], root: Path | str, options: ReadOptions) -> list[ParsedXml]:
    """Read (inside the boundary of ``root``) and parse in batches: in-process, or on threads
    where storage is slow (fileio.batch_map).

    On a local disk both steps are mostly Python, which threads would only make fight over the GIL.
    """
    boundary = options.boundary(root)
    return fileio.batch_map(lambda batch: _read_and_parse(batch, boundary), paths, options.workers,
                            desc="VOC XML", progress=options.progress)


def parse_cached(paths: list[str], root: Path, options: ReadOptions) -> list[ParsedXml]:
    """:func:`parse_files`, through the parse cache the caller handed in ``options.cache``."""
    cache = options.cache
    if not cache.enabled:
        return parse_files(paths, root, options)
    names = [os.fspath(path) for path in paths]

    def parse(which: list[int]) -> RowTable:
        results = parse_files([paths[i] for i in which], root, options)
        return RowTable(counts=np.zeros(len(which), np.int64), columns={},
                        extras={i: to_json(r) for i, r in enumerate(results)})

    table, stored, changed = cache.rows(NAME, os.fspath(root), names, parse, ())
    if changed:
        cache.save(NAME, os.fspath(root), stored)
    return [from_json(table.extras[i]) for i in range(len(names))]


def _read_and_parse(paths: list[str], boundary: Boundary) -> list[ParsedXml]:
    tree = _TreeParser()
    limit = boundary.limits.label_bytes
    return [parse_content(fileio.read_bytes(path, boundary, limit), tree) for path in paths]


def parse_content(data: bytes | Finding, tree: _TreeParser) -> ParsedXml:
    """One file's bytes (or why they could not be read) parsed: the fast path where it applies."""
    if isinstance(data, Finding):
        return ParsedXml(problem=data)
    fast = parse_plain(data)
    if fast is not None:
        return fast
    return tree.parse(data)


_LOCATION_SUFFIX = re.compile(r", line \d+, column \d+$")


def _parse_tree(data: bytes, parser: etree.XMLParser) -> ParsedXml:
    """The general path: lxml builds the tree (and reports the exact syntax error)."""
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.lineno, exc.offset
        # lxml appends ", line L, column C" to libxml2's text; the finding carries them already
        message = _LOCATION_SUFFIX.sub("", exc.msg or str(exc))
        return ParsedXml(problem=Finding("F001", f"XML does not parse: {message}",
                                         line=line or 1, column=column or None))
    except (ValueError, etree.LxmlError) as exc:  # e.g. an encoding declaration lxml refuses
        return ParsedXml(problem=Finding("F001", f"XML does not parse: {exc}", line=1))
    if root is None or root.tag != "annotation":
        tag = getattr(root, "tag", None)
        return ParsedXml(problem=Finding(
            "F001", f"root element is <{tag}>, expected <annotation> (not a VOC file)",
            line=getattr(root, "sourceline", None) or 1))
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:  # left unexpanded by the parser: reading on would miss its text
        return ParsedXml(problem=Finding(
            "F001", f"the file uses the XML entity {entity.text} (declared in its DTD): detlint does not "
            "expand entities, which can pull in other files; write the value itself instead",
            line=entity.sourceline or 1))
    return _parse_annotation(root)


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _serialise(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _parse_annotation(root: etree._Element) -> ParsedXml:
    result = ParsedXml(root_line=root.sourceline or 1)
    extra: dict[str, Any] = {}
    unknown: list[str] = []
    seen: set[str] = set()
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):  # comments, processing instructions: keep verbatim
            unknown.append(_serialise(child))
        elif tag == "object":
            _parse_object(child, result)
        elif tag in seen:
            unknown.append(_serialise(child))
        else:
            seen.add(tag)
            _image_child(child, tag, result, extra, unknown)
    result.path_text = extra.get("path", "")
    if unknown:
        extra["xml"] = unknown
    result.image_extra = extra
    return result


def _image_child(child: etree._Element, tag: str, result: ParsedXml, extra: dict[str, Any],
                 unknown: list[str]) -> None:
    """The first ``<tag>`` child of ``<annotation>`` other than an object."""
    if tag == "filename":
        result.filename = _text(child)
        result.filename_line = child.sourceline or 0
    elif tag == "size":
        result.width = size_value(_text(child.find("width")))
        result.height = size_value(_text(child.find("height")))
        depth = child.find("depth")
        if depth is not None:
            extra["depth"] = _text(depth)
    elif tag in IMAGE_TEXT_TAGS:
        extra[tag] = _text(child)
    elif tag in IMAGE_XML_TAGS:
        extra[tag] = _serialise(child)
    else:
        unknown.append(_serialise(child))


def _parse_object(element: etree._Element, result: ParsedXml) -> None:
    name = ""
    flags = [ABSENT_INT, ABSENT_INT, ABSENT_INT]
    coords = [math.nan] * 4
    extra: dict[str, Any] = {}
    unknown: list[str] = []
    seen: set[str] = set()
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            unknown.append(_serialise(child))
            continue
        if tag in seen and tag in ("name", "pose", "bndbox", *FLAG_TAGS):
            unknown.append(_serialise(child))
            continue
        seen.add(tag)
        if tag == "name":
            name = _text(child)
        elif tag == "pose":
            extra["pose"] = child.text or ""
        elif tag == "bndbox":
            # by tag name: Roboflow writes xmin, xmax, ymin, ymax
            coords = [number(child.findtext(coord_tag)) for coord_tag in COORD_TAGS]
        elif tag in FLAG_TAGS:
            value = flag(child.text or "")
            if value is None:  # keep what we cannot represent in the int8 column
                unknown.append(_serialise(child))
            else:
                flags[FLAG_TAGS.index(tag)] = value
        else:
            unknown.append(_serialise(child))
    if unknown:
        extra["xml"] = unknown
    result.names.append(name)
    result.coords.extend(coords)
    result.flags.extend(flags)
    result.lines.append(element.sourceline or 0)
    result.extras.append(extra or None)
