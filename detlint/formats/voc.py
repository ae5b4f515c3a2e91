"""Pascal VOC XML: reader and writer.

Layouts read:

- **devkit**: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt`` at the root,
  or nested as ``VOCdevkit/VOC2012/`` (several years are read together). Split files are the
  ``ImageSets/Main`` lists without an underscore (``train.txt``, ``val.txt``, ``test.txt``,
  ``trainval.txt``; ``cat_train.txt`` is a per-class list and is ignored). ``trainval`` is
  ignored when ``train``/``val``/``test`` exist. Blank lines, ``#`` comments and extra columns
  are tolerated. An image listed in a split without an XML is kept as an image without
  objects when its file exists. XMLs in ``Annotations/<sub>/`` get split ``<sub>`` when there
  are no split lists.
- **flat**: XML beside the images, either in one folder (LabelImg, split ``""``) or in
  ``<split>/`` subfolders (Roboflow export, split = folder name).
- a single ``.xml`` file (its folder is the root).

Parsing uses lxml with entity resolution and network access off. ``<bndbox>`` children are read
by tag name (Roboflow writes ``xmin xmax ymin ymax``); float text is accepted; a missing or
non-numeric coordinate is NaN (rule B004 reports it). Coordinates follow
``ReadOptions.voc_origin`` (1: devkit 1-based inclusive pixels, ``x1 = xmin - 1``, ``x2 = xmax``;
0: identity), recorded in ``Dataset.meta["voc_origin"]``.

Round-trip extras: per object ``pose`` and every unknown child (``<part>``, ``<actions>``,
``<attributes>``, ...) serialised verbatim in ``Annotations.extra`` (``{"pose": str, "xml":
[str]}``); per image ``folder``, ``path``, ``segmented``, ``depth`` (text), ``source`` and
``owner`` (serialised) and unknown children (``"xml"``) in ``Images.extra``. An image listed in
more than one split keeps its first split (train, val, test, others) in ``Images.split`` and the
rest in ``Images.extra["also_in_splits"]``.

Reader findings: F001 (file does not parse, with the parser's line and column; the root is not
``<annotation>``), F008 (``<filename>`` absolute or escaping the root), F014 (image or XML found
only when case is ignored). Everything else is left to the rules.

The writer produces the devkit layout and records every loss in ``WriteOptions``.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from html import escape as _html_escape

import numpy as np
from lxml import etree

from detlint.readcache import Reparsed, RowTable
from detlint.errors import NotADatasetError, UsageError
from detlint.findings import Finding
from detlint import fileio
from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.model import ABSENT_INT, Annotations, Categories, Dataset, Images, take_images

NAME = "voc"

SPLIT_PRIORITY = ("train", "val", "test")
FLAG_TAGS = ("truncated", "difficult", "occluded")
IMAGE_TEXT_TAGS = ("folder", "path", "segmented")
IMAGE_XML_TAGS = ("source", "owner")
COORD_TAGS = ("xmin", "ymin", "xmax", "ymax")
SNIFF_SAMPLE = 5  # XML files opened by sniff() before giving up on a folder
SNIFF_BYTES = 4096

_thread_state = threading.local()


# ---------------------------------------------------------------------------------------------
# sniff



def escape(text: str) -> str:
    """XML text escaping (xml.sax.saxutils would import urllib: 0.2 s of start-up per run)."""
    return _html_escape(text, quote=False)

def sniff(path: Path) -> int:
    """90 for a devkit ``Annotations/`` folder, 70/60 for VOC XML at/under the path, else 0."""
    path = Path(path)
    if path.is_file():
        return 80 if path.suffix.lower() == ".xml" and _looks_like_voc(path) else 0
    if not path.is_dir():
        return 0
    if any(_xml_files(base_dir / "Annotations", limit=1) for base_dir in _devkit_bases(path)):
        return 90
    if _folder_has_voc_xml(path):
        return 70
    for sub in _subdirs(path):
        if _folder_has_voc_xml(sub):
            return 60
    return 0


def _looks_like_voc(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    return b"<annotation" in head


def _folder_has_voc_xml(folder: Path) -> bool:
    return any(_looks_like_voc(p) for p in _xml_files(folder, limit=SNIFF_SAMPLE))


# ---------------------------------------------------------------------------------------------
# file system helpers


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def _xml_names(folder: Path | str, limit: int | None = None) -> list[str]:
    """Names of the ``*.xml`` directly in ``folder`` (any case of the suffix), sorted; at most ``limit``.

    Plain strings: layouts list 100k+ files, where a Path per file costs seconds.
    """
    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(".xml") and not entry.name.startswith(".") and entry.is_file():
                    found.append(entry.name)
                    if limit is not None and len(found) >= limit:
                        break
    except OSError:
        return []
    return sorted(found)


def _xml_files(folder: Path | str, limit: int | None = None) -> list[str]:
    """Paths of :func:`_xml_names` (``folder`` joined with each name)."""
    folder = os.fspath(folder)
    return [os.path.join(folder, name) for name in _xml_names(folder, limit)]


def _devkit_bases(root: Path) -> list[Path]:
    """Folders holding ``Annotations/``: the root itself, or ``VOCdevkit/VOC*`` / ``VOC*``."""
    if (root / "Annotations").is_dir():
        return [root]
    bases = []
    for parent in (root, root / "VOCdevkit"):
        for child in _subdirs(parent):
            if (child / "Annotations").is_dir():
                bases.append(child)
    return bases


class _DirIndex:
    """What one folder holds, for exact and case-insensitive lookups without stat calls.

    Only the exact names are built up front; the case-insensitive and stem maps are built on
    first use (most lookups hit an exact name, and a folder can hold 100k+ files).
    """

    def __init__(self, names: list[str]) -> None:
        self._sorted = names
        self.names = set(names)
        self._lower: dict[str, str] | None = None
        self._stems: tuple[dict[str, str], dict[str, str]] | None = None

    @classmethod
    def scan(cls, folder: str) -> "_DirIndex":
        try:
            with os.scandir(folder) as entries:
                return cls(sorted(e.name for e in entries if e.is_file()))
        except OSError:
            return cls([])

    @property
    def lower(self) -> dict[str, str]:
        if self._lower is None:
            self._lower = {}
            for name in self._sorted:  # the first name in sorted order wins, as documented
                self._lower.setdefault(name.lower(), name)
        return self._lower

    @property
    def stems(self) -> dict[str, str]:
        """Image stem -> file name."""
        return self._stem_maps()[0]

    @property
    def lower_stems(self) -> dict[str, str]:
        return self._stem_maps()[1]

    def _stem_maps(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._stems is None:
            stems: dict[str, str] = {}
            lower_stems: dict[str, str] = {}
            for name in self._sorted:
                if fileio.is_image(name):
                    stem = os.path.splitext(name)[0]
                    stems.setdefault(stem, name)
                    lower_stems.setdefault(stem.lower(), name)
            self._stems = stems, lower_stems
        return self._stems


class _ImageFinder:
    """Finds image files by name or stem in candidate folders; caches folder listings.

    Folders are plain strings here: this runs once per XML (100k+), where pathlib is costly.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_prefix = os.path.join(os.fspath(root), "")
        self._indexes: dict[str, _DirIndex] = {}

    def index(self, folder: str) -> _DirIndex:
        index = self._indexes.get(folder)
        if index is None:
            index = self._indexes[folder] = _DirIndex.scan(folder)
        return index

    def relative(self, folder: str, name: str) -> str:
        full = os.path.join(folder, name)
        if full.startswith(self._root_prefix):
            return full[len(self._root_prefix):].replace(os.sep, "/")
        return fileio.relpath(Path(full), self.root)

    def find(self, names: list[str], stems: list[str], folder_names: list[str]) -> tuple[str, bool] | None:
        """(path relative to root, matched only ignoring case) or None."""
        for ignore_case in (False, True):
            for name in names:
                sub, _, file_name = name.rpartition("/")
                for folder in folder_names:
                    target = os.path.join(folder, sub) if sub else folder
                    index = self.index(target)
                    hit = index.lower.get(file_name.lower()) if ignore_case else (
                        file_name if file_name in index.names else None)
                    if hit is not None:
                        return self.relative(target, hit), ignore_case
            for stem in stems:
                for folder in folder_names:
                    index = self.index(folder)
                    hit = index.lower_stems.get(stem.lower()) if ignore_case else index.stems.get(stem)
                    if hit is not None:
                        return self.relative(folder, hit), ignore_case
        return None


# ---------------------------------------------------------------------------------------------
# XML parsing (one result object per file, plain lists per object)


@dataclass
class _ParsedXml:
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


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads
    parser = getattr(_thread_state, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        _thread_state.parser = parser
    return parser


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _number(text: str | None) -> float:
    try:
        return float(text.strip()) if text is not None else math.nan
    except ValueError:
        return math.nan


def _size_value(text: str) -> int:
    value = _number(text)
    return int(value) if math.isfinite(value) and 0 < value < 2**31 else 0  # else unusable: F011


def _flag(text: str) -> int | None:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return int(lowered == "true")
    value = _number(lowered)
    if math.isfinite(value) and value.is_integer() and 0 <= value <= 127:
        return int(value)
    return None


def _serialise(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _read_and_parse(paths: list[str]) -> list[_ParsedXml]:
    return [_parse_content(fileio.read_bytes(path)) for path in paths]


def _parse_files(paths: list[str], options: ReadOptions) -> list[_ParsedXml]:
    """Read and parse in batches: in-process, or on threads where storage is slow (fileio.batch_map).

    On a local disk both steps are mostly Python, which threads would only make fight over the GIL.
    """
    return fileio.batch_map(_read_and_parse, paths, options.workers, desc="VOC XML", progress=options.progress)


def _parse_cached(paths: list[str], root: Path, options: ReadOptions) -> list[_ParsedXml]:
    """:func:`_parse_files`, through the parse cache of the running check (if any)."""
    cache = options.cache
    if not cache.enabled:
        return _parse_files(paths, options)
    names = [os.fspath(path) for path in paths]

    def parse(which: list[int]) -> RowTable:
        results = _parse_files([paths[i] for i in which], options)
        return RowTable(counts=np.zeros(len(which), np.int64), columns={},
                                    extras={i: _to_json(r) for i, r in enumerate(results)})

    table, stored, changed = cache.rows(NAME, os.fspath(root), names, parse, ())
    if changed:
        cache.save(NAME, os.fspath(root), stored)
    return [_from_json(table.extras[i]) for i in range(len(names))]


def _to_json(result: _ParsedXml) -> dict[str, Any] | list[Any]:
    """A parse result as JSON-able values (non-finite coordinates as text: JSON has no NaN).

    A file that parsed is a list of the :class:`_ParsedXml` fields in order plus a flag for
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


def _from_json(value: dict[str, Any] | list[Any]) -> _ParsedXml:
    if isinstance(value, list):
        *fields, non_finite = value
        result = _ParsedXml(None, *fields)
        if non_finite:
            result.coords = [float(v) for v in result.coords]
        return result
    fields = {k: v for k, v in value.items() if k not in ("problem", "uncacheable")}
    fields["coords"] = [float(v) for v in fields["coords"]]
    problem = value.get("problem")
    return _ParsedXml(problem=Finding(**problem) if problem else None, **fields)


def _parse_content(data: bytes | OSError) -> _ParsedXml:
    if isinstance(data, OSError):
        return _ParsedXml(problem=Finding("F001", f"cannot read file: {data.strerror or data}"))
    fast = _parse_plain(data)
    if fast is not None:
        return fast
    return _parse_tree(data)


def _parse_tree(data: bytes) -> _ParsedXml:
    """The general path: lxml builds the tree (and reports the exact syntax error)."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.lineno, exc.offset
        message = exc.msg or str(exc)
        return _ParsedXml(problem=Finding("F001", f"XML does not parse: {message}",
                                          line=line or 1, column=column or None))
    except (ValueError, etree.LxmlError) as exc:  # e.g. an encoding declaration lxml refuses
        return _ParsedXml(problem=Finding("F001", f"XML does not parse: {exc}", line=1))
    if root is None or root.tag != "annotation":
        tag = getattr(root, "tag", None)
        return _ParsedXml(problem=Finding(
            "F001", f"root element is <{tag}>, expected <annotation> (not a VOC file)",
            line=getattr(root, "sourceline", None) or 1))
    return _parse_annotation(root)


def _parse_annotation(root: etree._Element) -> _ParsedXml:
    result = _ParsedXml(root_line=root.sourceline or 1)
    extra: dict[str, Any] = {}
    unknown: list[str] = []
    seen: set[str] = set()
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):  # comments, processing instructions: keep verbatim
            unknown.append(_serialise(child))
            continue
        if tag == "object":
            _parse_object(child, result)
            continue
        if tag in seen:
            unknown.append(_serialise(child))
            continue
        seen.add(tag)
        if tag == "filename":
            result.filename = _text(child)
            result.filename_line = child.sourceline or 0
        elif tag == "size":
            result.width = _size_value(_text(child.find("width")))
            result.height = _size_value(_text(child.find("height")))
            depth = child.find("depth")
            if depth is not None:
                extra["depth"] = _text(depth)
        elif tag in IMAGE_TEXT_TAGS:
            extra[tag] = _text(child)
        elif tag in IMAGE_XML_TAGS:
            extra[tag] = _serialise(child)
        else:
            unknown.append(_serialise(child))
    result.path_text = extra.get("path", "")
    if unknown:
        extra["xml"] = unknown
    result.image_extra = extra
    return result


def _parse_object(element: etree._Element, result: _ParsedXml) -> None:
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
            coords = [_number(child.findtext(coord_tag)) for coord_tag in COORD_TAGS]
        elif tag in FLAG_TAGS:
            value = _flag(child.text or "")
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


# ---------------------------------------------------------------------------------------------
# fast path: plain documents without building a tree

# A document of only the tags the reader knows, without attributes, comments, entities or CDATA,
# in UTF-8, is matched by these patterns and read from its text directly (several times faster
# than lxml plus walking its tree in Python). Anything else, including every malformed file,
# goes to lxml, so results and F001 messages are the same either way. Whitespace is XML's own
# (Python's ``\s`` would also take \x0b, \xa0, ...).
_SPACE = "[ \t\n]*"
_TEXT = "([^<&]*)"
_PLAIN_START = re.compile(
    r"""(?:<\?xml[ \t\n]+version[ \t\n]*=[ \t\n]*(["'])1\.0\1"""
    r"""(?:[ \t\n]+encoding[ \t\n]*=[ \t\n]*(["'])(?i:utf-8)\2)?"""
    r"""(?:[ \t\n]+standalone[ \t\n]*=[ \t\n]*(["'])(?:yes|no)\3)?[ \t\n]*\?>)?"""
    rf"{_SPACE}<annotation>")
# printable ASCII without & < >: lxml serialises such text back byte for byte
_VERBATIM_TEXT = r"[\t\n !-%'-;=?-~]+"
_IMAGE_FIELD = (
    r"<(?P<leaf>folder|filename|path|segmented)>(?P<text>[^<&]*)</(?P=leaf)>"
    r"|(?P<size><size>(?:[ \t\n]*<(?P<stag>width|height|depth)>[^<&]*</(?P=stag)>)*[ \t\n]*</size>)"
    r"|(?P<verbatim><(?P<vtag>source|owner)>(?:[ \t\n]*<(?P<sub>[A-Za-z_][A-Za-z0-9_.-]*)>"
    + _VERBATIM_TEXT + r"</(?P=sub)>)+[ \t\n]*</(?P=vtag)>)"
    r"|(?P<end></annotation>[ \t\n]*\Z)")
# any order, any subset of the known object fields (the second tier)
_PLAIN_CHILD = re.compile(
    _SPACE + r"(?:"
    r"(?P<object><object>(?:[ \t\n]*(?:<(?P<otag>name|pose|truncated|difficult|occluded)>[^<&]*"
    r"</(?P=otag)>|<bndbox>(?:[ \t\n]*<(?P<btag>xmin|ymin|xmax|ymax)>[^<&]*</(?P=btag)>)*"
    r"[ \t\n]*</bndbox>))*[ \t\n]*</object>)|" + _IMAGE_FIELD + ")")
# image fields between canonical objects; "gap" where the stretch ends before the next object
_PLAIN_IMAGE_FIELD = re.compile(_SPACE + "(?:" + _IMAGE_FIELD + r"|(?P<gap>\Z))")
# the devkit / LabelImg object layout (the first tier): read as columns, one match per object
_CANONICAL_OBJECT = re.compile(
    f"<object>{_SPACE}<name>{_TEXT}</name>{_SPACE}(?:<pose>{_TEXT}</pose>{_SPACE})?"
    + "".join(f"(?:<{tag}>{_TEXT}</{tag}>{_SPACE})?" for tag in ("truncated", "difficult", "occluded"))
    + f"<bndbox>{_SPACE}"
    + "".join(f"<{tag}>{_TEXT}</{tag}>{_SPACE}" for tag in ("xmin", "ymin", "xmax", "ymax"))
    + f"</bndbox>{_SPACE}</object>{_SPACE}")  # trailing space too: neighbours touch
_PLAIN_LEAF = re.compile(r"<([a-z]+)>([^<&]*)</\1>")


def _verbatim_field(tag: str) -> str:
    return (rf"(?P<{tag}><{tag}>(?:[ \t\n]*<(?P<{tag}_sub>[A-Za-z_][A-Za-z0-9_.-]*)>{_VERBATIM_TEXT}"
            rf"</(?P={tag}_sub)>)+[ \t\n]*</{tag}>){_SPACE}")


# the image fields in the devkit / LabelImg order, each optional, in one match
_CANONICAL_IMAGE_FIELDS = re.compile(
    _SPACE + "".join(f"(?:<{tag}>(?P<{tag}>[^<&]*)</{tag}>{_SPACE})?" for tag in ("folder", "filename", "path"))
    + f"(?:{_verbatim_field('source')})?(?:{_verbatim_field('owner')})?"
    + f"(?P<size><size>{_SPACE}<width>(?P<width>[^<&]*)</width>{_SPACE}<height>(?P<height>[^<&]*)</height>"
    + f"{_SPACE}(?:<depth>(?P<depth>[^<&]*)</depth>{_SPACE})?</size>{_SPACE})?"
    + f"(?:<segmented>(?P<segmented>[^<&]*)</segmented>{_SPACE})?"
    + r"(?P<end></annotation>[ \t\n]*)?\Z")
# control characters XML forbids (tab and line ends are allowed), U+FFFE, U+FFFF, "]]>", entities
_NOT_XML_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20)])
_NOT_PLAIN_SEQUENCES = (b"]]>", b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"&")
# bytes that start any of the above, or a carriage return: one pass finds whether to look closer
_SUSPECT_BYTES = _NOT_XML_BYTES + b"\r]&\xef"
_PLAIN_MAX_BYTES = 1 << 20  # bigger files: lxml (it applies its own size limits)
_PLAIN_MAX_LINES = 65000  # lxml line numbers are exact up to 65535
_FLAG_TEXT: dict[str | None, int] = {None: ABSENT_INT, "0": 0, "1": 1}


def _plain_text(data: bytes) -> str | None:
    """The document as text if nothing in its bytes needs an XML parser, else None."""
    if len(data) > _PLAIN_MAX_BYTES:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if len(data.translate(None, _SUSPECT_BYTES)) != len(data):
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")  # XML's own line-end normalisation
            if b"\r" in data:
                return None
        if len(data.translate(None, _NOT_XML_BYTES)) != len(data):
            return None
        if any(sequence in data for sequence in _NOT_PLAIN_SEQUENCES):
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) > _PLAIN_MAX_LINES and text.count("\n") > _PLAIN_MAX_LINES:
        return None
    return text


def _parse_plain(data: bytes) -> _ParsedXml | None:
    """The parse of a plain document, or None when lxml has to read it."""
    text = _plain_text(data)
    start = _PLAIN_START.match(text) if text is not None else None
    if start is None:
        return None
    objects = list(_CANONICAL_OBJECT.finditer(text, start.end()))
    # [start of the body, start and end of each object, end of the text]: what lies between
    # consecutive pairs is not a canonical object
    bounds = [start.end(), *[pos for m in objects for pos in m.span()], len(text)]
    result = _ParsedXml(root_line=text.count("\n", 0, start.end() - len("<annotation>")) + 1)
    if not _plain_image_fields(text, bounds, result):
        return _parse_plain_mixed(text, start.end(), result.root_line)
    return result if _canonical_objects(text, objects, bounds[1:-1:2], result) else None


def _plain_image_fields(text: str, bounds: list[int], result: _ParsedXml) -> bool:
    """Read the image fields around the canonical objects; False if anything else is there."""
    extra: dict[str, Any] = {}
    seen: set[str] = set()
    stretches = [(pos, end) for pos, end in zip(bounds[0::2], bounds[1::2]) if pos != end]
    if not stretches or stretches[-1][1] != len(text):
        return False  # no </annotation> after the last object
    fields = _CANONICAL_IMAGE_FIELDS.match(text, *stretches[0])
    if fields is not None:
        if fields.group("end") is not None and stretches[0][1] != len(text):
            return False
        _canonical_image_fields(text, fields, result, extra, seen)
        del stretches[0]
    for pos, end in stretches:
        while True:
            field = _PLAIN_IMAGE_FIELD.match(text, pos, end)
            if field is None:
                return False
            kind = field.lastgroup
            if kind == "gap" or kind == "end":
                break
            if not _image_field(text, field, kind, result, extra, seen):
                return False
            pos = field.end()
        if (kind == "end") != (end == len(text)):  # </annotation> must close the document
            return False
    result.path_text = extra.get("path", "")
    result.image_extra = extra
    return True


def _canonical_image_fields(text: str, fields: re.Match, result: _ParsedXml, extra: dict[str, Any],
                            seen: set[str]) -> None:
    """The image fields of a :data:`_CANONICAL_IMAGE_FIELDS` match (in document order)."""
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
        result.width = _size_value(values["width"].strip())
        result.height = _size_value(values["height"].strip())
        if values["depth"] is not None:
            extra["depth"] = values["depth"].strip()
    if values["segmented"] is not None:
        extra["segmented"] = values["segmented"].strip()
    seen.update(tag for tag in ("folder", "filename", "path", "source", "owner", "size", "segmented")
                if values[tag] is not None)


def _image_field(text: str, field: re.Match, kind: str, result: _ParsedXml, extra: dict[str, Any],
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


def _canonical_objects(text: str, objects: list[re.Match], starts: list[int], result: _ParsedXml) -> bool:
    """The canonical objects as columns; False if a flag needs lxml (kept verbatim there)."""
    n = len(objects)
    if not n:
        return True
    names, poses, truncated, difficult, occluded, *coords = zip(*[m.groups() for m in objects])
    flags = [0] * (3 * n)
    for index, column in enumerate((truncated, difficult, occluded)):
        values = list(map(_FLAG_TEXT.get, column))
        if None in values:
            values = [_FLAG_TEXT[v] if v in _FLAG_TEXT else _flag(v) for v in column]
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
    if text.find("\n", 0, starts[-1]) >= 0:
        lines, line, line_pos = [], 1, 0
        for pos in starts:
            line += text.count("\n", line_pos, pos)
            line_pos = pos
            lines.append(line)
        result.lines = lines
    else:
        result.lines = [1] * n
    return True


def _numbers(texts: list[str]) -> list[float]:
    try:
        return list(map(float, texts))  # float() strips whitespace as _number() does
    except ValueError:
        return [_number(value) for value in texts]


def _parse_plain_mixed(text: str, pos: int, root_line: int) -> _ParsedXml | None:
    """The second tier: known object fields in any order, one element at a time."""
    line_pos, line = 0, 1

    def line_at(at: int) -> int:
        nonlocal line_pos, line
        line += text.count("\n", line_pos, at)
        line_pos = at
        return line

    result = _ParsedXml(root_line=root_line)
    extra: dict[str, Any] = {}
    seen: set[str] = set()
    coord_texts: list[str] = []
    while True:
        child = _PLAIN_CHILD.match(text, pos)
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


def _plain_size(element: str, result: _ParsedXml, extra: dict[str, Any]) -> None:
    values: dict[str, str] = {}
    for tag, value in _PLAIN_LEAF.findall(element):
        values.setdefault(tag, value)  # the first of each, as find() does
    result.width = _size_value(values.get("width", "").strip())
    result.height = _size_value(values.get("height", "").strip())
    if "depth" in values:
        extra["depth"] = values["depth"].strip()


def _plain_object(element: str, result: _ParsedXml, coord_texts: list[str]) -> bool:
    """Append one ``<object>``; False when it needs lxml (a repeated or unusual field)."""
    pairs = _PLAIN_LEAF.findall(element)
    fields = dict(pairs)
    if len(fields) != len(pairs) or element.count("<bndbox>") > 1:
        return False
    flags = []
    for tag in FLAG_TAGS:
        value = fields.get(tag)
        flag = _FLAG_TEXT[value] if value in _FLAG_TEXT else _flag(value)
        if flag is None:  # the tree path keeps it verbatim
            return False
        flags.append(flag)
    result.names.append(fields.get("name", "").strip())
    result.flags.extend(flags)
    coord_texts.extend([fields.get(tag, "nan") for tag in COORD_TAGS])  # missing: NaN
    pose = fields.get("pose")
    result.extras.append({"pose": pose} if pose is not None else None)
    return True


# ---------------------------------------------------------------------------------------------
# layout discovery


@dataclass
class _XmlEntry:
    """One annotation file to read and where its image may be (paths as strings: 100k+ of them)."""

    path: str
    split: str
    image_folders: list[str]  # shared between the files of one folder
    also_in_splits: list[str] = field(default_factory=list)


@dataclass
class _ListedImage:
    """An image named by a split list that has no XML."""

    stem: str
    split: str
    folder: str
    also_in_splits: list[str] = field(default_factory=list)


@dataclass
class _Layout:
    kind: str
    xmls: list[_XmlEntry] = field(default_factory=list)
    listed_only: list[_ListedImage] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    split_files: list[str] = field(default_factory=list)


def _split_lists(imagesets: Path) -> list[tuple[str, Path]]:
    """(split, file) for the ``ImageSets/Main`` split lists, in priority order."""
    try:
        files = {p.stem: p for p in imagesets.iterdir()
                 if p.suffix.lower() == ".txt" and "_" not in p.stem and p.is_file()}
    except OSError:
        return []
    if any(name in files for name in SPLIT_PRIORITY):
        files.pop("trainval", None)  # union of train and val: reading it would double-list them
    ordered = [name for name in SPLIT_PRIORITY if name in files]
    ordered += sorted(name for name in files if name not in SPLIT_PRIORITY)
    return [(name, files[name]) for name in ordered]


def _read_split_list(path: Path) -> list[tuple[str, int]]:
    """(image id, 1-based line) per listed image: first column, blanks and comments skipped."""
    text, _, _ = fileio.read_text(path)
    if text is None:
        return []
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            entries.append((stripped.split()[0], number))
    return entries


def _devkit_layout(root: Path, bases: list[Path]) -> _Layout:
    layout = _Layout(kind="devkit")
    root_text = os.fspath(root)
    for devkit in bases:
        annotations = os.fspath(devkit / "Annotations")
        images = os.fspath(devkit / "JPEGImages")
        # stem -> (order key, xml path, subfolder split, image folders); the key orders as the
        # paths would (folder parts first), the folder lists are shared per folder
        by_stem: dict[str, tuple[tuple[str, ...], str, str, list[str]]] = {}
        folders = [annotations, images, root_text]
        for name in _xml_names(annotations):
            by_stem.setdefault(name[:-4], ((name,), os.path.join(annotations, name), "", folders))
        for sub in _subdirs(annotations):
            sub_text = os.fspath(sub)
            sub_folders = [sub_text, images, root_text]
            for name in _xml_names(sub_text):
                by_stem.setdefault(name[:-4], ((sub.name, name), os.path.join(sub_text, name), sub.name,
                                               sub_folders))
        lower_stems = {stem.lower(): stem for stem in sorted(by_stem)}
        memberships: dict[str, list[str]] = {}
        for split, list_file in _split_lists(devkit / "ImageSets" / "Main"):
            layout.split_files.append(fileio.relpath(list_file, root))
            for image_id, line in _read_split_list(list_file):
                stem = image_id
                if stem not in by_stem and stem.lower() in lower_stems:
                    stem = lower_stems[stem.lower()]
                    layout.problems.append(Finding(
                        "F014", f"split list names {image_id!r} but the annotation file is "
                        f"{stem}.xml (matches only when case is ignored)",
                        file=fileio.relpath(list_file, root), line=line))
                splits = memberships.setdefault(stem, [])
                if split not in splits:
                    splits.append(split)
        for stem, (_, xml, sub_split, image_folders) in sorted(by_stem.items(), key=lambda item: item[1][0]):
            splits = memberships.get(stem) or [sub_split]
            layout.xmls.append(_XmlEntry(xml, splits[0], image_folders, splits[1:]))
        for stem in sorted(set(memberships) - set(by_stem)):
            splits = memberships[stem]
            layout.listed_only.append(_ListedImage(stem, splits[0], images, splits[1:]))
    return layout


def _flat_layout(root: Path) -> _Layout:
    layout = _Layout(kind="flat")
    root_folders = [os.fspath(root)]
    layout.xmls = [_XmlEntry(xml, "", root_folders) for xml in _xml_files(root)]
    # subfolders may hold unrelated XML (configs, other tools): only VOC files are taken there
    for sub in _subdirs(root):
        sub_folders = [os.fspath(sub), os.fspath(root)]
        layout.xmls += [_XmlEntry(xml, sub.name, sub_folders) for xml in _xml_files(sub)
                        if _looks_like_voc(xml)]
    return layout


# ---------------------------------------------------------------------------------------------
# read


def read(path: Path, options: ReadOptions) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if path.is_file():
        root = path.parent
        layout = _Layout(kind="file", xmls=[_XmlEntry(os.fspath(path), "", [os.fspath(root)])])
        finder = _ImageFinder(root)
    else:
        root = path
        finder = _ImageFinder(root)
        bases = _devkit_bases(root)
        layout = _devkit_layout(root, bases) if bases else _flat_layout(root)
    if not layout.xmls and not layout.listed_only:
        raise NotADatasetError(f"{path}: no Pascal VOC annotation files (*.xml) found")

    parsed = _parse_cached([entry.path for entry in layout.xmls], root, options)
    ds = Dataset(format=NAME, root=root, categories=Categories.build([]), images=Images.empty(0),
                 annotations=Annotations.empty(0), problems=list(layout.problems),
                 meta={"voc_origin": options.voc_origin, "voc_layout": layout.kind,
                       "voc_split_files": layout.split_files})
    ds.files = _relative_paths([entry.path for entry in layout.xmls], root)
    for file_index, result in enumerate(parsed):
        if result.problem is not None:
            result.problem.file = ds.files[file_index]
            ds.problems.append(result.problem)
    ds.images = _build_images(ds, layout, parsed, finder)
    ds.categories, ds.annotations = _build_annotations(ds, parsed, options)
    return ds


def _relative_paths(paths: list[str], root: Path) -> list[str]:
    """``fileio.relpath`` for many paths, by string prefix where they lie under the root."""
    prefix = os.path.join(os.fspath(root), "")
    cut = len(prefix)
    return [path[cut:].replace(os.sep, "/") if path.startswith(prefix) else fileio.relpath(Path(path), root)
            for path in paths]


def _image_names(result: _ParsedXml, xml_file: str, problems: list[Finding]) -> tuple[list[str], list[str]]:
    """Names and stems to look for, in order: <filename>, basename of <path>, the XML stem."""
    names: list[str] = []
    stems: list[str] = []
    if result.filename:
        safe = fileio.safe_relative(result.filename)
        if safe is None:
            problems.append(Finding("F008", f"<filename> {result.filename!r} is absolute or escapes "
                                    "the dataset root; looking for its base name only",
                                    file=xml_file, line=result.filename_line or None))
            safe = result.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if safe and safe != "..":
            names.append(safe)
            file_name = safe.rsplit("/", 1)[-1]
            stems.append(os.path.splitext(file_name)[0] if fileio.is_image(file_name) else file_name)
    path_name = result.path_text.replace("\\", "/").rsplit("/", 1)[-1]
    if path_name and path_name not in (".", ".."):
        names.append(path_name)
    stems.append(os.path.splitext(xml_file.rsplit("/", 1)[-1])[0])  # the XML's stem
    return names, stems


def _build_images(ds: Dataset, layout: _Layout, parsed: list[_ParsedXml], finder: _ImageFinder) -> Images:
    rows = [i for i, result in enumerate(parsed) if result.problem is None]
    n = len(rows) + len(layout.listed_only)
    images = Images.empty(n)
    file_names, paths, extras = [], [], []
    for file_index in rows:
        result, entry, xml_file = parsed[file_index], layout.xmls[file_index], ds.files[file_index]
        names, stems = _image_names(result, xml_file, ds.problems)
        found = finder.find(names, stems, entry.image_folders)
        image_path = ""
        if found is not None:
            image_path, case_only = found
            if case_only:
                ds.problems.append(Finding(
                    "F014", f"image {result.filename or stems[-1]!r} found only when case "
                    f"is ignored: {image_path}", file=xml_file, line=result.filename_line or None,
                    image=image_path))
        file_names.append(result.filename)
        paths.append(image_path)
        extra = dict(result.image_extra)
        if entry.also_in_splits:
            extra["also_in_splits"] = list(entry.also_in_splits)
        extras.append(extra or None)
    splits = [layout.xmls[i].split for i in rows]
    for listed in layout.listed_only:
        found = finder.find([], [listed.stem], [listed.folder])
        # a listed image without XML and without a file is a list entry only: nothing to keep
        image_path = found[0] if found else ""
        file_names.append(image_path.rsplit("/", 1)[-1])
        paths.append(image_path)
        extras.append({"also_in_splits": list(listed.also_in_splits)} if listed.also_in_splits else None)
        splits.append(listed.split)
    if n:
        parsed_rows = slice(0, len(rows))
        images.width[parsed_rows] = [parsed[i].width for i in rows]
        images.height[parsed_rows] = [parsed[i].height for i in rows]
        images.src_file[parsed_rows] = rows
        images.src_line[parsed_rows] = [parsed[i].root_line for i in rows]
        images.split[:] = splits
        images.file_name[:] = file_names
        images.path[:] = paths
        images.extra[:] = extras
    keep = np.ones(n, bool)
    keep[len(rows):] = images.path[len(rows):] != ""
    if not keep.all():
        images = take_images(images, keep)
        images.id = np.arange(len(images), dtype=np.int64)
    return images


def _build_annotations(ds: Dataset, parsed: list[_ParsedXml],
                       options: ReadOptions) -> tuple[Categories, Annotations]:
    image_of_file = {int(f): row for row, f in enumerate(ds.images.src_file.tolist()) if f >= 0}
    files = [i for i, result in enumerate(parsed) if result.problem is None]
    if options.classes is not None:
        class_names = list(options.classes)
    else:
        class_names = sorted({name for i in files for name in parsed[i].names if name})
    categories = Categories.build(class_names, src_file=-1)
    rows = _annotation_rows([parsed[i] for i in files], files, [image_of_file[i] for i in files],
                            {name: i for i, name in enumerate(class_names)}, options)
    return categories, rows


def _annotation_rows(parsed: list[_ParsedXml], files: list[int], image_rows: list[int],
                     index_of: dict[str, int], options: ReadOptions) -> Annotations:
    """The objects of the parsed XML files ``files`` (indices into ``ds.files``), which declare
    the images ``image_rows``; ``index_of`` maps a class name to its category."""
    names = [name for result in parsed for name in result.names]
    n = len(names)
    ann = Annotations.empty(n)
    if not n:
        return ann
    category = np.fromiter((index_of.get(name, -1) for name in names), np.int32, n)
    raw = np.array([v for result in parsed for v in result.coords], np.float64).reshape(n, 4)
    flags = np.array([v for result in parsed for v in result.flags], np.int8).reshape(n, 3)
    origin = float(options.voc_origin)
    ann.raw = raw
    ann.boxes = raw - np.array([origin, origin, 0.0, 0.0])
    ann.truncated, ann.difficult, ann.occluded = (flags[:, 0].copy(), flags[:, 1].copy(), flags[:, 2].copy())
    ann.category = category
    ann.class_id = category.astype(np.int64)
    counts = [len(result.names) for result in parsed]
    ann.image = np.repeat(np.array(image_rows, np.int32), counts)
    ann.src_file = np.repeat(np.array(files, np.int32), counts)
    ann.src_line = np.array([line for result in parsed for line in result.lines], np.int32)
    ann.src_item = np.concatenate([np.arange(c, dtype=np.int32) for c in counts])
    extras = [extra for result in parsed for extra in result.extras]
    for row in np.flatnonzero(category < 0).tolist():
        extras[row] = {**(extras[row] or {}), "name": names[row]}
    ann.extra = np.empty(n, dtype=object)
    ann.extra[:] = extras
    return ann


def dataset_files(ds: Dataset) -> list[str]:
    """The files that describe the whole dataset: the split lists (every XML is per image)."""
    return list(ds.meta.get("voc_split_files", []) or [])


REPARSED_CODES = frozenset({"F008"})  # the reader problems an XML's content alone decides


def reparse(ds: Dataset, files: list[int], options: ReadOptions) -> Reparsed | None:
    """``ds`` with the XML files ``files`` (indices into ``ds.files``) read again, and their
    image rows; None when the change reaches past those files: an XML that no longer parses, an
    image name that changed (the image would be looked up again), a class name never seen
    before or a class no longer used (both change the class list)."""
    parsed = _parse_files([os.path.join(ds.root, ds.files[f]) for f in files],
                          dataclasses.replace(options, progress=False))
    if any(result.problem is not None for result in parsed):
        return None
    image_rows = []
    for f in files:
        rows = np.flatnonzero(ds.images.src_file == f)
        if len(rows) != 1:
            return None
        image_rows.append(int(rows[0]))
    images = ds.images  # changed in place: ds is this re-check's own copy (from the snapshot)
    problems: list[Finding] = []
    for f, row, result in zip(files, image_rows, parsed):
        old_extra = images.extra[row] or {}
        if result.filename != images.file_name[row] or result.image_extra.get("path") != old_extra.get("path"):
            return None
        _image_names(result, ds.files[f], problems)  # its F008, as a full read reports it
        for problem in ds.problems:  # the image lookup is unchanged; its finding moves with the XML
            if problem.code == "F014" and problem.file == ds.files[f]:
                problem.line = result.filename_line or None
        extra = dict(result.image_extra)
        if "also_in_splits" in old_extra:
            extra["also_in_splits"] = old_extra["also_in_splits"]
        images.width[row], images.height[row] = result.width, result.height
        images.src_line[row] = result.root_line
        images.extra[row] = extra or None
    index_of = {name: i for i, name in enumerate(ds.categories.names)}
    if options.classes is None and any(name and name not in index_of for r in parsed for name in r.names):
        return None
    annotations = _annotation_rows(parsed, files, image_rows, index_of, options)

    def every_class_still_used(spliced: Dataset) -> bool:
        used = np.bincount(spliced.annotations.category[spliced.annotations.category >= 0],
                           minlength=len(spliced.categories))
        return options.classes is not None or not (used == 0).any()

    return Reparsed(annotations, problems, REPARSED_CODES, np.asarray(image_rows, np.int64),
                    accept=every_class_still_used)


# ---------------------------------------------------------------------------------------------
# write


ANNOTATION_EXTRA_KEYS = frozenset({"pose", "xml", "name"})
IMAGE_EXTRA_KEYS = frozenset({*IMAGE_TEXT_TAGS, *IMAGE_XML_TAGS, "depth", "xml", "also_in_splits"})
ROUNDING_TOLERANCE = 1e-9


def _image_file_name(ds: Dataset, row: int) -> str:
    """Base name for JPEGImages/: the real file's name, else the declared one, else a stand-in."""
    for candidate in (ds.images.path[row], ds.images.file_name[row]):
        name = str(candidate or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name and name not in (".", ".."):
            if not fileio.is_image(name) and fileio.is_image(str(ds.images.path[row] or "")):
                name += os.path.splitext(str(ds.images.path[row]))[1]
            return name
    return f"image_{int(ds.images.id[row])}.jpg"


def _unique_names(ds: Dataset, options: WriteOptions) -> list[str]:
    """One image file name per row whose stem is unique (case-insensitively: macOS/Windows)."""
    names = [_image_file_name(ds, row) for row in range(len(ds.images))]
    used: set[str] = set()
    renamed = 0
    for row, name in enumerate(names):
        stem, ext = os.path.splitext(name)
        candidate, split, attempt = stem, str(ds.images.split[row] or ""), 1
        while candidate.casefold() in used:
            attempt += 1
            prefix = f"{split}_" if split and attempt == 2 else ""
            candidate = f"{prefix}{stem}" if prefix else f"{stem}_{attempt}"
        if candidate != stem:
            renamed += 1
            names[row] = candidate + ext
        used.add(candidate.casefold())
    options.lose("image names changed to keep Annotations/ and JPEGImages/ stems unique", renamed,
                 "two images had the same file stem (e.g. the same name in two splits)")
    return names


def _split_file_name(split: str) -> str:
    # an underscore would make the reader take the list for a per-class file
    return split.replace("/", "-").replace("\\", "-").replace("_", "-")


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise UsageError(f"{dst}: destination folder is not empty")
    ann = ds.annotations
    names = _unique_names(ds, options)
    _record_dataset_losses(ds, options)
    writable = _writable_annotations(ds, options)
    origin = float(options.voc_origin)
    coords = np.array(ann.boxes, np.float64, copy=True)
    coords[:, 0] += origin
    coords[:, 1] += origin
    order = np.argsort(ann.image, kind="stable")
    order = order[writable[order]]
    bounds = np.searchsorted(ann.image[order], np.arange(len(ds.images) + 1))
    unknown_extra_keys: dict[str, int] = {}
    objects, rounded = _object_xmls(ds, order, coords, unknown_extra_keys)
    annotations_dir = dst / "Annotations"
    documents: list[tuple[Path, str]] = []
    for row in range(len(ds.images)):
        text = _annotation_xml(ds, row, names[row], objects[bounds[row]:bounds[row + 1]], unknown_extra_keys)
        documents.append((annotations_dir / f"{os.path.splitext(names[row])[0]}.xml", text))
    options.lose("non-integer coordinates rounded", rounded, "VOC stores pixels; kept 3 decimals")
    for key, count in sorted(unknown_extra_keys.items()):
        options.lose(f"extra field {key!r} not representable in VOC", count)
    annotations_dir.mkdir(parents=True, exist_ok=True)
    fileio.batch_map(lambda part: [fileio.atomic_write_text(*doc) for doc in part], documents, 2,
                   desc="VOC XML", progress=False)
    _write_split_lists(ds, dst, names, options)
    _place_images(ds, dst, names, options)


def _record_dataset_losses(ds: Dataset, options: WriteOptions) -> None:
    used = set(np.unique(ds.annotations.category[ds.annotations.category >= 0]).tolist())
    unused = [name for index, name in enumerate(ds.categories.names) if index not in used]
    options.lose("unused classes dropped (VOC has no class list)", len(unused), ", ".join(unused))
    if ds.categories.names != sorted(ds.categories.names):
        options.lose("class order not kept (VOC readers sort class names)", len(ds.categories))


def _writable_annotations(ds: Dataset, options: WriteOptions) -> np.ndarray:
    """Mask of annotations that become <object>s; every dropped or changed row is a loss."""
    ann = ds.annotations
    n = len(ann)
    finite = np.isfinite(ann.boxes).all(axis=1) if n else np.zeros(0, bool)
    geometry = ann.has_box & (ann.kind != Annotations.KIND_NONE)
    options.lose("annotations without a box dropped", int((~geometry).sum()))
    options.lose("non-finite boxes dropped", int((geometry & ~finite).sum()))
    options.lose("normalised boxes without an image size dropped",
                 int((geometry & finite & ann.normalized).sum()))
    writable = geometry & finite & ~ann.normalized
    polygon = ann.kind == Annotations.KIND_POLYGON
    options.lose("polygons reduced to boxes", int((writable & polygon).sum()))
    has_segmentation = np.fromiter((s is not None and not (isinstance(s, (list, dict)) and not s)
                                    for s in ann.segmentation), bool, n)
    options.lose("segmentation dropped", int((writable & has_segmentation & ~polygon).sum()))
    options.lose("iscrowd flag", int((writable & (ann.iscrowd == 1)).sum()),
                 "crowd regions written as plain objects")
    options.lose("area not stored", int((writable & np.isfinite(ann.area)).sum()), "VOC has no area field")
    return writable


def _annotation_xml(ds: Dataset, row: int, file_name: str, objects: list[str],
                    unknown_extra_keys: dict[str, int]) -> str:
    images = ds.images
    extra = images.extra[row] if isinstance(images.extra[row], dict) else {}
    for key in extra:
        if key not in IMAGE_EXTRA_KEYS:
            unknown_extra_keys[key] = unknown_extra_keys.get(key, 0) + 1
    parts = ["<annotation>"]
    if "folder" in extra:
        parts.append(f"\t<folder>{escape(str(extra['folder']))}</folder>")
    parts.append(f"\t<filename>{escape(file_name)}</filename>")
    if "path" in extra:
        parts.append(f"\t<path>{escape(str(extra['path']))}</path>")
    parts += [f"\t{extra[tag]}" for tag in IMAGE_XML_TAGS if tag in extra]
    width, height = int(images.width[row]), int(images.height[row])
    if width or height or "depth" in extra:
        depth = escape(str(extra.get("depth", "3")))
        parts.append(f"\t<size>\n\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
                     f"\t\t<depth>{depth}</depth>\n\t</size>")
    if "segmented" in extra or ds.format != NAME:  # a VOC source without it stays without it
        parts.append(f"\t<segmented>{escape(str(extra.get('segmented', '0')))}</segmented>")
    parts += objects
    parts += [f"\t{fragment}" for fragment in extra.get("xml", [])]
    parts.append("</annotation>\n")
    return "\n".join(parts)


def _object_xmls(ds: Dataset, rows: np.ndarray, coords: np.ndarray,
                 unknown_extra_keys: dict[str, int]) -> tuple[list[str], int]:
    """The ``<object>`` element of each annotation in ``rows`` (in that order), built column by
    column, and how many of them had a coordinate rounded."""
    ann = ds.annotations
    texts, rounded = _coordinate_texts(coords[rows])
    names = _object_names(ds, rows)
    extras = ann.extra[rows].tolist()
    flags = ["".join(f"\t\t<{tag}>{v}</{tag}>\n" for tag, v in zip(FLAG_TAGS, values) if v != ABSENT_INT)
             for values in zip(*(getattr(ann, tag)[rows].tolist() for tag in FLAG_TAGS))] if len(rows) else []
    out = []
    for k, (name, flag_text, extra) in enumerate(zip(names, flags, extras)):
        pose = tail = ""
        if extra:
            for key in extra:
                if key not in ANNOTATION_EXTRA_KEYS:
                    unknown_extra_keys[key] = unknown_extra_keys.get(key, 0) + 1
            if "pose" in extra:
                pose = f"\t\t<pose>{escape(str(extra['pose']))}</pose>\n"
            tail = "".join(f"\t\t{fragment}\n" for fragment in extra.get("xml", []))
        x1, y1, x2, y2 = texts[4 * k:4 * k + 4]
        out.append(f"\t<object>\n\t\t<name>{name}</name>\n{pose}{flag_text}\t\t<bndbox>\n"
                   f"\t\t\t<xmin>{x1}</xmin>\n\t\t\t<ymin>{y1}</ymin>\n\t\t\t<xmax>{x2}</xmax>\n"
                   f"\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n{tail}\t</object>")
    return out, rounded


def _object_names(ds: Dataset, rows: np.ndarray) -> list[str]:
    """Escaped class name of each row: its category's, else the name the source gave."""
    ann = ds.annotations
    escaped = [escape(name) for name in ds.categories.names]
    names = []
    for row, category in zip(rows.tolist(), ann.category[rows].tolist()):
        if category >= 0:
            names.append(escaped[category])
        else:
            extra = ann.extra[row] if isinstance(ann.extra[row], dict) else {}
            names.append(escape(str(extra.get("name", f"class_{int(ann.class_id[row])}"))))
    return names


def _coordinate_texts(coords: np.ndarray) -> tuple[list[str], int]:
    """VOC text of every coordinate (row-major): integers as such, others rounded to 3 decimals
    without trailing zeros; and how many rows had a value rounded. One C-level format call for
    all values, not one per value."""
    flat = coords.reshape(-1)
    if not len(flat):
        return [], 0
    changed = (np.abs(np.round(flat, 3) - flat) > ROUNDING_TOLERANCE) & (flat != np.floor(flat))
    # "%.3f" rounds each value exactly as Python's round(value, 3) does (np.round does not, on ties)
    text = ("%.3f\n" * len(flat)) % tuple(flat.tolist())
    text = _TRAILING_ZEROS.sub("", text).replace("-0\n", "0\n")
    return text.split("\n")[:-1], int(changed.reshape(-1, 4).any(axis=1).sum())


_TRAILING_ZEROS = re.compile(r"\.?0+(?=\n)")  # "12.500" -> "12.5", "12.000" -> "12"


def _write_split_lists(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    lists: dict[str, list[str]] = {}
    renamed: set[str] = set()
    for row, name in enumerate(names):
        extra = ds.images.extra[row] if isinstance(ds.images.extra[row], dict) else {}
        for split in [str(ds.images.split[row] or ""), *extra.get("also_in_splits", [])]:
            if not split:
                continue
            file_split = _split_file_name(split)
            if file_split != split:
                renamed.add(split)
            lists.setdefault(file_split, []).append(os.path.splitext(name)[0])
    options.lose("split names changed for ImageSets/Main file names", len(renamed),
                 ", ".join(sorted(renamed)))
    for split, stems in lists.items():
        fileio.atomic_write_text(dst / "ImageSets" / "Main" / f"{split}.txt", "\n".join(stems) + "\n")


def _place_images(ds: Dataset, dst: Path, names: list[str], options: WriteOptions) -> None:
    root = Path(ds.root)

    def place(row: int) -> bool:
        path = str(ds.images.path[row] or "")
        target = dst / "JPEGImages" / names[row]
        return bool(path) and fileio.place_image(root / path, target, options.link_images)

    placed = fileio.thread_map(place, list(range(len(ds.images))), 16, desc="images", progress=False)
    missing = [names[row] for row, ok in enumerate(placed) if not ok]
    detail = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    options.lose("image file missing", len(missing), detail)


# --------------------------------------------------------------------------- transitional adapter
# Replaced by the detlint/formats/voc/ package's FORMAT object.
from detlint.formats.protocol import FormatBase as _FormatBase, Trait as _Trait  # noqa: E402


class _Adapter(_FormatBase):
    name = NAME
    title = "VOC"
    image_size_label = "<size>"
    traits = frozenset({_Trait.DECLARED_SIZES, _Trait.PIXEL_CONVENTION, _Trait.NAMED_IMAGE_FILES, _Trait.BASENAME_LOOKUP, _Trait.CLASS_NAME})

    def sniff(self, path):
        return sniff(path)

    def read(self, path, options):
        return read(path, options)

    def write(self, ds, dst, options):
        return write(ds, dst, options)

    def write_back(self, old, new):
        from detlint.formats import _writeback_voc

        return _writeback_voc.voc_changes(old, new)


    def reparse(self, ds, files, options):
        return reparse(ds, files, options)

    def dataset_files(self, ds):
        return dataset_files(ds)


    def raw_from_boxes(self, ds, rows):
        from detlint.formats import _raw_boxes

        return _raw_boxes.voc(ds, rows)


FORMAT = _Adapter()
