"""Byte-range edits of a VOC XML file: a ``--fix`` rewrites only the elements it changed.

lxml re-serialises whole documents (``<pose></pose>`` becomes ``<pose/>``, quotes and the
declaration change), so the write-back does not take lxml's text of the file. It records where
each element stands in the original text, lets the fix edit the tree, then, walking down from
the root, keeps every element whose serialisation did not change as it was in the file, removes
dropped children together with the blanks before them, inserts added ones, and replaces only
the innermost changed elements (a leaf such as ``<xmax>``; an element whose own text or list of
children changed) by their new text. :func:`edited_text` returns None where the original cannot
be mapped onto the tree with certainty (namespaces, a scan that disagrees with lxml's parse):
the caller then merges lxml's output line by line instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from detlint.edits import apply_edits, merge_serialised

_TOKEN = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE(?:[^\[>]|\[.*?\])*>"
                    r"|</[^>]*>|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.DOTALL)
_NAME = re.compile(r"<\s*([^\s/>]+)")


@dataclass
class _Before:
    """An element as it was read: where it stands in the file, and what a change is judged by."""

    start: int
    content: int  # where its content begins: the end of its start tag
    end: int
    serialised: str
    text: str | None
    attrib: dict[str, str]
    children: list
    tails: list


def element_spans(text: str) -> list[tuple[str, int, int, int]] | None:
    """(tag, start, end of the start tag, end) of every element of ``text`` in document order;
    None if the tags do not balance."""
    spans: list[tuple[str, int, int, int]] = []
    open_elements: list[int] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith(("<!", "<?")):
            continue
        if token.startswith("</"):
            if not open_elements:
                return None
            index = open_elements.pop()
            spans[index] = (*spans[index][:3], match.end())
            continue
        name = _NAME.match(token)
        if name is None:
            return None
        spans.append((name.group(1), match.start(), match.end(), match.end()))
        if not token.endswith("/>"):
            open_elements.append(len(spans) - 1)
    return spans if not open_elements else None


def record(root: etree._Element, text: str) -> dict | None:
    """Each element of ``root``'s tree with its span in ``text``, before a fix edits the tree."""
    if root.nsmap:
        return None  # a child's serialisation would repeat the namespace declarations
    elements = list(root.iter(etree.Element))
    spans = element_spans(text)
    if spans is None or len(spans) != len(elements) or any(e.tag != s[0] for e, s in zip(elements, spans)):
        return None
    return {element: _Before(start, content, end, _serialise(element), element.text, dict(element.attrib),
                             list(element), [child.tail for child in element])
            for element, (_, start, content, end) in zip(elements, spans)}


def _serialise(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)


def edited_text(root: etree._Element, text: str, before: dict, parser: etree.XMLParser,
                encoding: str) -> str | None:
    """``text`` with the changes made to ``root``'s tree since :func:`record`; None unless the
    result parses to exactly the edited tree (the check that no change was missed)."""
    new_text = _apply(text, _element_edits(root, text, before))
    try:
        reparsed = etree.fromstring(new_text.encode(encoding, errors="xmlcharrefreplace"), parser)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        return None
    return new_text if _serialise(reparsed) == _serialise(root) else None


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    out, at = [], 0
    for start, end, replacement in sorted(edits):
        out += [text[at:start], replacement]
        at = end
    return "".join(out) + text[at:]


def _element_edits(element: etree._Element, text: str, before: dict) -> list[tuple[int, int, str]]:
    old = before[element]
    now = _serialise(element)
    if now == old.serialised:
        return []
    if element.text != old.text or dict(element.attrib) != old.attrib or not len(element):
        return [_replaced(text, old, now)]
    children = list(element)
    if children == old.children and [c.tail for c in children] == old.tails:
        return [edit for child in children if child in before for edit in _element_edits(child, text, before)]
    return _children_edits(element, children, text, before) or [_replaced(text, old, now)]


def _replaced(text: str, old: _Before, now: str) -> tuple[int, int, str]:
    """The element's span with its new text, keeping the lines of it that did not change."""
    lines, edits = merge_serialised(text[old.start:old.end], old.serialised, now)
    return old.start, old.end, apply_edits(lines, edits)


def _children_edits(element: etree._Element, children: list, text: str,
                    before: dict) -> list[tuple[int, int, str]]:
    """Dropped children removed with the blanks before them, added ones inserted after their
    previous sibling (with the blanks the fix gave them), kept ones edited in place; [] when an
    added child does not follow a recorded element (the caller replaces the whole element)."""
    old = before[element]
    kept = set(children)
    edits = []
    for child in old.children:
        if child in before and child not in kept:
            start = before[child].start
            edits.append((len(text[:start].rstrip(" \t\r\n")), before[child].end, ""))
    for position, child in enumerate(children):
        if child in before:
            edits += _element_edits(child, text, before)
            continue
        if child in old.children:  # a comment or processing instruction that was there: kept as is
            continue
        if not isinstance(child.tag, str):
            return []
        previous = children[position - 1] if position else None
        if previous is None:
            at, blank = old.content, element.text or ""
        elif previous in before:
            at, blank = before[previous].end, previous.tail or ""
        else:
            return []
        edits.append((at, at, blank + _serialise(child)))
    return edits
