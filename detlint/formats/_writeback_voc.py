"""VOC write-back for ``--fix``: the XML is edited with lxml (``<object>`` removed, ``<bndbox>``
values written in the file's convention, ``<size>`` set or added). lxml re-serialises the whole
document, so its output is merged back line by line: lines the fix did not touch keep their
original bytes (quotes, ``<x></x>`` vs ``<x/>``, the XML declaration, CRLF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detlint.edits import (
    FileChange, apply_edits, changed_box_rows, merge_serialised,
    row_diff,
)
from detlint.model import Dataset

VOC_DECIMALS = 3


def voc_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    old_ann, new_ann = old.annotations, new.annotations
    diff = row_diff(old_ann, new_ann)
    per_file: dict[int, dict[str, Any]] = {}

    def plan(file_index: int) -> dict[str, Any]:
        return per_file.setdefault(file_index, {"drop": set(), "box": {}, "name": {}, "size": None})

    for row in diff.dropped.tolist():
        plan(int(old_ann.src_file[row]))["drop"].add(int(old_ann.src_item[row]))
    old_rows, new_rows = changed_box_rows(old, new, diff)
    for o, n in zip(old_rows.tolist(), new_rows.tolist()):
        plan(int(new_ann.src_file[n]))["box"][int(new_ann.src_item[n])] = (old_ann.raw[o], new_ann.raw[n])
    for o, n in zip(diff.old_rows.tolist(), diff.new_rows.tolist()):
        old_name = _class_name(old, o)
        new_name = _class_name(new, n)
        if new_name is not None and new_name != old_name:
            plan(int(new_ann.src_file[n]))["name"][int(new_ann.src_item[n])] = new_name
    resized = np.flatnonzero(((old.images.width != new.images.width) | (old.images.height != new.images.height))
                             & (new.images.src_file >= 0))
    for row in resized.tolist():
        plan(int(new.images.src_file[row]))["size"] = (int(new.images.width[row]), int(new.images.height[row]))
    changes = []
    for file_index, edits in sorted(per_file.items()):
        rel = old.files[file_index]
        change = _edit_voc_file(Path(old.root), rel, edits, VOC_DECIMALS)
        if change is not None:
            changes.append(change)
    return changes


def _class_name(ds: Dataset, row: int) -> str | None:
    category = int(ds.annotations.category[row])
    return ds.categories.names[category] if 0 <= category < len(ds.categories) else None


def _voc_number(value: float, decimals: int) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{round(float(value), decimals):.{decimals}f}".rstrip("0").rstrip(".")


def _edit_voc_file(root: Path, rel: str, plan: dict[str, Any], decimals: int) -> FileChange | None:
    from lxml import etree

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
    root_element = document.getroot()
    objects = [child for child in root_element if child.tag == "object"]
    for index, name in plan["name"].items():
        if index < len(objects):
            element = objects[index].find("name")
            if element is not None:
                element.text = name
    for index, (old_raw, new_raw) in plan["box"].items():
        if index < len(objects):
            _set_bndbox(objects[index], old_raw, new_raw, decimals)
    if plan["size"] is not None:
        _set_size(root_element, *plan["size"])
    for index in sorted(plan["drop"], reverse=True):
        if index < len(objects):
            _remove_keeping_layout(objects[index])
    edited = etree.tostring(document, encoding="unicode")
    lines, edits = merge_serialised(original, base, edited)
    new_text = apply_edits(lines, edits)
    new_bytes = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode(encoding, errors="xmlcharrefreplace")
    return FileChange(rel, data, new_bytes, lines, edits)


def _set_bndbox(obj, old_raw: np.ndarray, new_raw: np.ndarray, decimals: int) -> None:
    from lxml import etree

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


def _child_indent(parent) -> tuple[str, str]:
    """(whitespace before ``parent``'s children, one indentation step)."""
    text = parent.text if parent.text is not None and not parent.text.strip() else "\n\t"
    step = text.lstrip("\r\n") or "\t"
    parent_indent = text[:len(text) - len(step)] if len(text) > len(step) else "\n"
    return text, (step[len(parent_indent.lstrip("\r\n")):] or step)


def _set_size(root, width: int, height: int) -> None:
    from lxml import etree

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


def _remove_keeping_layout(element) -> None:
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


# ---------------------------------------------------------------------------- COCO
