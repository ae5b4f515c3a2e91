"""The ``--fix`` write-back: the minimal edits of the XML files that make them say what the
fixed dataset says.

The XML is edited with lxml (``<object>`` removed, ``<name>`` renamed, ``<bndbox>`` values
written in the file's own convention, ``<size>`` set or added). lxml re-serialises the whole
document, so the file is edited by byte ranges instead (:mod:`detlint.formats.voc.spans`): only
the elements a fix changed are rewritten, every other byte stays (quotes, ``<x></x>`` vs
``<x/>``, the XML declaration, CRLF, objects on one line). Where the text cannot be mapped onto
the tree with certainty, lxml's output is merged back line by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lxml import etree

from detlint.edits import (
    FileChange,
    RowDiff,
    apply_edits,
    changed_box_rows,
    line_edits,
    merge_serialised,
    row_diff,
)
from detlint.formats.voc import spans
from detlint.model import Dataset

VOC_DECIMALS = 3


@dataclass
class _Plan:
    """What to change in one XML file; objects by their index among the ``<object>`` elements."""

    drop: set[int] = field(default_factory=set)
    box: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # (old raw, new raw)
    name: dict[int, str] = field(default_factory=dict)
    size: tuple[int, int] | None = None


def write_back(old: Dataset, new: Dataset) -> list[FileChange]:
    """The changes of ``old``'s XML files that make them say what ``new`` says."""
    changes = []
    for file_index, plan in sorted(_plans(old, new).items()):
        change = _edit_voc_file(Path(old.root), old.files[file_index], plan, VOC_DECIMALS)
        if change is not None:
            changes.append(change)
    return changes


def _plans(old: Dataset, new: Dataset) -> dict[int, _Plan]:
    old_ann, new_ann = old.annotations, new.annotations
    diff = row_diff(old_ann, new_ann)
    per_file: dict[int, _Plan] = {}

    def plan(file_index: int) -> _Plan:
        return per_file.setdefault(file_index, _Plan())

    for row in diff.dropped.tolist():
        plan(int(old_ann.src_file[row])).drop.add(int(old_ann.src_item[row]))
    old_rows, new_rows = changed_box_rows(old, new, diff)
    for o, n in zip(old_rows.tolist(), new_rows.tolist()):
        plan(int(new_ann.src_file[n])).box[int(new_ann.src_item[n])] = (old_ann.raw[o], new_ann.raw[n])
    for n, new_name in _renamed(old, new, diff):
        plan(int(new_ann.src_file[n])).name[int(new_ann.src_item[n])] = new_name
    resized = np.flatnonzero(((old.images.width != new.images.width) | (old.images.height != new.images.height))
                             & (new.images.src_file >= 0))
    for row in resized.tolist():
        plan(int(new.images.src_file[row])).size = (int(new.images.width[row]), int(new.images.height[row]))
    return per_file


def _renamed(old: Dataset, new: Dataset, diff: RowDiff) -> list[tuple[int, str]]:
    """(new row, its class name) for each kept row whose class name changed."""
    renamed = []
    for o, n in zip(diff.old_rows.tolist(), diff.new_rows.tolist()):
        new_name = _class_name(new, n)
        if new_name is not None and new_name != _class_name(old, o):
            renamed.append((n, new_name))
    return renamed


def _class_name(ds: Dataset, row: int) -> str | None:
    category = int(ds.annotations.category[row])
    return ds.categories.names[category] if 0 <= category < len(ds.categories) else None


def _voc_number(value: float, decimals: int) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{round(float(value), decimals):.{decimals}f}".rstrip("0").rstrip(".")


def _edit_voc_file(root: Path, rel: str, plan: _Plan, decimals: int) -> FileChange | None:
    data = (root / rel).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, strip_cdata=False, huge_tree=False)
    try:
        document = etree.fromstring(data, parser).getroottree()
    except (etree.XMLSyntaxError, ValueError):
        return None  # the reader reported it (F001); there is nothing we could have changed
    encoding = document.docinfo.encoding or "utf-8"
    bom = data.startswith(b"\xef\xbb\xbf")
    original = data.decode("utf-8-sig" if bom else encoding)
    base = etree.tostring(document, encoding="unicode")
    before = spans.record(document.getroot(), original)
    _apply(document.getroot(), plan, decimals)
    new_text = spans.edited_text(document.getroot(), original, before, parser, encoding) if before else None
    if new_text is not None:
        lines, edits = line_edits(original, new_text)
    else:
        lines, edits = merge_serialised(original, base, etree.tostring(document, encoding="unicode"))
        new_text = apply_edits(lines, edits)
    new_bytes = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode(encoding, errors="xmlcharrefreplace")
    return FileChange(rel, data, new_bytes, lines, edits)


def _apply(root_element: etree._Element, plan: _Plan, decimals: int) -> None:
    objects = [child for child in root_element if child.tag == "object"]
    for index, name in plan.name.items():
        if index < len(objects):
            element = objects[index].find("name")
            if element is not None:
                element.text = name
    for index, (old_raw, new_raw) in plan.box.items():
        if index < len(objects):
            _set_bndbox(objects[index], old_raw, new_raw, decimals)
    if plan.size is not None:
        _set_size(root_element, *plan.size)
    for index in sorted(plan.drop, reverse=True):
        if index < len(objects):
            _remove_keeping_layout(objects[index])


def _set_bndbox(obj: etree._Element, old_raw: np.ndarray, new_raw: np.ndarray, decimals: int) -> None:
    bndbox = obj.find("bndbox")
    if bndbox is None:
        return
    for tag, before, after in zip(("xmin", "ymin", "xmax", "ymax"), old_raw.tolist(), new_raw.tolist()):
        if before == after or not np.isfinite(after):
            continue
        element = bndbox.find(tag)
        if element is None:
            element = etree.SubElement(bndbox, tag)
        element.text = _voc_number(after, decimals)


def _child_indent(parent: etree._Element) -> tuple[str, str]:
    """(whitespace before ``parent``'s children, one indentation step)."""
    text = parent.text if parent.text is not None and not parent.text.strip() else "\n\t"
    step = text.lstrip("\r\n") or "\t"
    parent_indent = text[:len(text) - len(step)] if len(text) > len(step) else "\n"
    return text, (step[len(parent_indent.lstrip("\r\n")):] or step)


def _set_size(root: etree._Element, width: int, height: int) -> None:
    size = root.find("size")
    indent, step = _child_indent(root)
    if size is None:
        size = etree.Element("size")
        size.text = indent + step
        anchor = root.find("filename")
        if anchor is not None:
            size.tail = anchor.tail
            anchor.addnext(size)
        else:
            size.tail = root.text
            root.insert(0, size)
        for tag, value in (("width", width), ("height", height)):
            child = etree.SubElement(size, tag)
            child.text = str(value)
            child.tail = indent + step
        size[-1].tail = indent
        return
    for position, (tag, value) in enumerate((("width", width), ("height", height))):
        child = size.find(tag)
        if child is None:
            child = etree.Element(tag)
            child.tail = size.text if size.text is not None and not size.text.strip() else indent + step
            size.insert(position, child)
        child.text = str(value)


def _remove_keeping_layout(element: etree._Element) -> None:
    """Remove ``element`` and the line it stood on: the whitespace before it becomes the
    whitespace that followed it (lxml removes an element together with its tail)."""
    parent = element.getparent()
    previous = element.getprevious()
    tail = element.tail
    if previous is not None:
        previous.tail = tail
    else:
        parent.text = tail
    parent.remove(element)

