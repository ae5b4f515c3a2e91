"""Reading a CVAT XML into plain records: the labels of ``<meta>``, the ``<image>`` entries and
every shape (in images and in tracks) with its XML attributes and line.

Parsing uses lxml with entity resolution and network access off (as the VOC reader does). A
file that does not parse, or whose root is not ``<annotations>``, is one F001 with the parser's
line and column. Geometry is not interpreted here (:mod:`.read` does it, column by column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from detlint.findings import Finding

SHAPE_TAGS = ("box", "polygon", "polyline", "points", "mask", "tag", "ellipse", "cuboid", "skeleton")
META_OWNERS = ("task", "job", "project")
_LOCATION_SUFFIX = re.compile(r", line \d+, column \d+$")


@dataclass
class Shape:
    """One shape element: its tag, the ``<image>`` row it is on (-1: none), its XML attributes,
    its ``<attribute>`` children and, for shapes kept verbatim (skeleton, cuboid...), its XML."""

    tag: str
    image: int
    line: int
    attrs: dict[str, str]
    attributes: list[tuple[str, str]]
    xml: str = ""
    track: dict[str, str] | None = None


@dataclass
class ParsedCvat:
    version: str = ""
    owner: str = ""  # which <meta> child declared the labels: task, job or project
    labels: list[str] = field(default_factory=list)
    label_lines: list[int] = field(default_factory=list)
    label_extra: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)  # the owner's scalar fields (name, id, ...)
    image_ids: list[str] = field(default_factory=list)
    image_names: list[str] = field(default_factory=list)
    image_sizes: list[tuple[str, str]] = field(default_factory=list)
    image_lines: list[int] = field(default_factory=list)
    image_attrs: list[dict[str, str]] = field(default_factory=list)  # subset, task_id, ...
    shapes: list[Shape] = field(default_factory=list)
    problem: Finding | None = None


def new_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)


def parse(data: bytes) -> ParsedCvat:
    """The records of one CVAT XML document (``problem`` set when it does not parse)."""
    try:
        root = etree.fromstring(data, new_parser())
    except etree.XMLSyntaxError as exc:
        message = _LOCATION_SUFFIX.sub("", exc.msg or str(exc))
        return ParsedCvat(problem=Finding("F001", f"XML does not parse: {message}", line=exc.lineno or 1,
                                          column=exc.offset or None))
    except (ValueError, etree.LxmlError) as exc:
        return ParsedCvat(problem=Finding("F001", f"XML does not parse: {exc}", line=1))
    if root is None or root.tag != "annotations":
        return ParsedCvat(problem=Finding("F001", f"root element is <{getattr(root, 'tag', None)}>, expected "
                                          "<annotations> (not a CVAT file)", line=getattr(root, "sourceline", 1) or 1))
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:  # never expanded (XXE): reading on would miss its text
        return ParsedCvat(problem=Finding("F001", f"the file uses the XML entity {entity.text}: detlint does not "
                                          "expand entities; write the value itself instead",
                                          line=entity.sourceline or 1))
    result = ParsedCvat()
    tracks = []
    for child in root:
        tag = child.tag
        if tag == "version":
            result.version = (child.text or "").strip()
        elif tag == "meta":
            _meta(child, result)
        elif tag == "image":
            _image(child, result)
        elif tag == "track":
            tracks.append(child)
    frames = {image_id: row for row, image_id in enumerate(result.image_ids)}
    for track in tracks:
        _track(track, frames, result)
    return result


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _meta(meta: etree._Element, result: ParsedCvat) -> None:
    """The first of task, job, project that declares labels (a project's tasks repeat them)."""
    for owner in META_OWNERS:
        element = meta.find(owner)
        if element is None:
            continue
        labels = element.find("labels")
        if labels is None:
            continue
        result.owner = owner
        result.meta = {child.tag: _text(child) for child in element
                       if isinstance(child.tag, str) and child.tag in ("id", "name", "mode")}
        for label in labels.iterchildren("label"):
            _label(label, result)
        return


def _label(label: etree._Element, result: ParsedCvat) -> None:
    extra: dict[str, Any] = {}
    for key in ("color", "type", "parent"):
        value = _text(label.find(key))
        if value:
            extra[key] = value
    attributes = label.find("attributes")
    if attributes is not None and len(attributes):
        # kept verbatim: a CVAT copy declares the same attribute specs (input type, values)
        extra["attributes_xml"] = etree.tostring(attributes, encoding="unicode", with_tail=False)
    result.labels.append(_text(label.find("name")))
    result.label_lines.append(label.sourceline or 0)
    result.label_extra.append(extra)


def _image(image: etree._Element, result: ParsedCvat) -> None:
    attrs = dict(image.attrib)
    row = len(result.image_ids)
    result.image_ids.append(attrs.pop("id", str(row)))
    result.image_names.append(attrs.pop("name", ""))
    result.image_sizes.append((attrs.pop("width", ""), attrs.pop("height", "")))
    result.image_lines.append(image.sourceline or 0)
    result.image_attrs.append(attrs)
    for child in image:
        if child.tag in SHAPE_TAGS:
            result.shapes.append(_shape(child, row))


def _shape(element: etree._Element, image: int, track: dict[str, str] | None = None) -> Shape:
    attributes = [(a.get("name", ""), a.text or "") for a in element.iterchildren("attribute")]
    xml = ""
    if element.tag in ("skeleton", "cuboid", "ellipse"):  # not modelled: kept as written
        xml = etree.tostring(element, encoding="unicode", with_tail=False)
    return Shape(element.tag, image, element.sourceline or 0, dict(element.attrib), attributes, xml, track)


def _track(track: etree._Element, frames: dict[str, int], result: ParsedCvat) -> None:
    """Each shape of a track that is inside its frame, on the ``<image>`` of that frame."""
    info = dict(track.attrib)
    for child in track:
        if child.tag not in SHAPE_TAGS or child.get("outside", "0") == "1":
            continue
        frame = child.get("frame", "")
        row = frames.get(frame, -1)
        shape = _shape(child, row, info)
        shape.attrs.setdefault("label", info.get("label", ""))
        for key in ("source", "group_id"):
            if key in info:
                shape.attrs.setdefault(key, info[key])
        result.shapes.append(shape)
