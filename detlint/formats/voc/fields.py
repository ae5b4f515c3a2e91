"""The VOC fields of one ``<object>`` as the writer writes them, from the model's flag columns
and the row's extras: the VOC reader's own (``pose``, unknown elements kept verbatim as ``xml``)
and another format's ``attributes`` (COCO keeps what it has no field for there: detlint's COCO
writer puts ``difficult``, ``truncated``, ``occluded``, ``pose`` and the unknown elements in it,
CVAT puts ``occluded``). So VOC -> COCO -> VOC gives the same objects back.

A fragment from another file is written into the XML only when it parses as one element; any
other value is reported as not representable, never written half.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape as _html_escape
from typing import Any

from lxml import etree

from detlint.formats.prewrite import is_empty
from detlint.formats.voc.record import COORD_TAGS, FLAG_TAGS, IMAGE_TEXT_TAGS, IMAGE_XML_TAGS
from detlint.model import ABSENT_INT

ATTRIBUTES = "attributes"
# element names an attribute may not take: the reader gives them a meaning of their own
_RESERVED = frozenset({"name", "bndbox", "pose", "part", "actions", *FLAG_TAGS, *COORD_TAGS})
IMAGE_TEXT = (*IMAGE_TEXT_TAGS, "depth")
_RESERVED_IMAGE = frozenset({"filename", "size", "object", "width", "height", *IMAGE_TEXT, *IMAGE_XML_TAGS})
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_FLAG_VALUES = {0: 0, 1: 1, "0": 0, "1": 1, "false": 0, "true": 1}  # True == 1, False == 0


@dataclass
class ObjectFields:
    pose: str | None = None
    flags: list[int] = field(default_factory=list)  # FLAG_TAGS order, ABSENT_INT where none
    fragments: list[str] = field(default_factory=list)  # whole elements, written verbatim
    unknown: list[str] = field(default_factory=list)  # keys no VOC element can hold


def object_fields(extra: Any, flags: list[int], own: bool) -> ObjectFields:
    """What the ``<object>`` of a row with ``extra`` and flag column values ``flags`` holds;
    ``own``: the extras are the VOC reader's (its fragments were parsed from XML already)."""
    out = ObjectFields(flags=list(flags))
    if not isinstance(extra, dict):
        return out
    for key, value in extra.items():
        if key == "pose":
            out.pose = str(value)
        elif key == "xml" and own:
            out.fragments += value
        elif key == "xml":
            _add_fragments(out, value, key)
        elif key == ATTRIBUTES and isinstance(value, dict):
            for name, item in value.items():
                _add_attribute(out, str(name), item)
        elif key != "name" and not is_empty(value):  # "name": a class the reader did not know (not written)
            out.unknown.append(key)
    return out


def _add_attribute(out: ObjectFields, name: str, value: Any) -> None:
    if name in FLAG_TAGS:
        index = FLAG_TAGS.index(name)
        flag = _FLAG_VALUES.get(value.lower() if isinstance(value, str) else value) \
            if isinstance(value, (bool, int, str)) else None
        if flag is None:
            out.unknown.append(f"{ATTRIBUTES}.{name}")
        elif out.flags[index] == ABSENT_INT:  # the model's own column wins where it has one
            out.flags[index] = flag
    elif name == "pose" and isinstance(value, (str, int, float)):
        out.pose = out.pose if out.pose is not None else str(value)
    elif name == "xml":
        _add_fragments(out, value, f"{ATTRIBUTES}.xml")
    elif isinstance(value, (str, int, float, bool)) and _XML_NAME.match(name) and name not in _RESERVED \
            and not name.lower().startswith("xml"):
        out.fragments.append(f"<{name}>{_html_escape(str(value), quote=False)}</{name}>")
    elif not is_empty(value):
        out.unknown.append(f"{ATTRIBUTES}.{name}")


def _add_fragments(out: ObjectFields, value: Any, key: str) -> None:
    _add_fragments_to(out.fragments, out.unknown, value, key)


def _add_fragments_to(fragments: list[str], unknown: list[str], value: Any, key: str) -> None:
    """``value``'s elements onto ``fragments`` when every one is an element, else ``key`` onto
    ``unknown`` (all or none: half of a group of elements could change what the rest mean)."""
    values = value if isinstance(value, list) else [value]
    if all(isinstance(f, str) and _is_element(f) for f in values):
        fragments += values
    else:
        unknown.append(key)


def _is_element(fragment: str, tag: str | None = None) -> bool:
    """Whether ``fragment`` is one well-formed XML element (safe to write verbatim), named
    ``tag`` where one is given."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)  # one per call: no shared state
        element = etree.fromstring(fragment.encode("utf-8", "surrogatepass"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return False
    return tag is None or element.tag == tag


@dataclass
class ImageFields:
    texts: dict[str, str] = field(default_factory=dict)  # IMAGE_TEXT: escaped when written
    elements: dict[str, str] = field(default_factory=dict)  # IMAGE_XML_TAGS: whole elements
    fragments: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def image_fields(extra: Any, own: bool) -> ImageFields:
    """What the ``<annotation>`` of an image with ``extra`` holds besides its objects; ``own``
    as for :func:`object_fields`."""
    out = ImageFields()
    if not isinstance(extra, dict):
        return out
    for key, value in extra.items():
        if key == ATTRIBUTES and isinstance(value, dict):
            for name, item in value.items():
                _add_image_value(out, str(name), item, False, f"{ATTRIBUTES}.")
        elif key != "also_in_splits":  # split membership: written as ImageSets lists
            _add_image_value(out, key, value, own, "")
    return out


def _add_image_value(out: ImageFields, key: str, value: Any, own: bool, prefix: str) -> None:
    if key in IMAGE_TEXT and isinstance(value, (str, int, float)):
        out.texts.setdefault(key, str(value))
    elif key in IMAGE_XML_TAGS and isinstance(value, str) and (own or _is_element(value, key)):
        out.elements.setdefault(key, value)
    elif key == "xml" and own:
        out.fragments += value
    elif key == "xml":
        _add_fragments_to(out.fragments, out.unknown, value, prefix + key)
    elif prefix and isinstance(value, (str, int, float, bool)) and _XML_NAME.match(key) \
            and key not in _RESERVED_IMAGE and not key.lower().startswith("xml"):
        out.fragments.append(f"<{key}>{_html_escape(str(value), quote=False)}</{key}>")
    elif not is_empty(value):
        out.unknown.append(prefix + key)
