"""COCO write-back for ``--fix``: the JSON is edited by position (``annotations[i]`` dropped or
changed, ``images[i]`` width/height/id set, categories merged) and dumped in the file's own
style (indent, item and key separators, ASCII escapes, final newline: learned from the file),
then merged back line by line, or object by object in a one-line file, so that what no fix
touched keeps its bytes. A one-line file gets notes (a list of the changes) instead of a line
diff."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.edits import FileChange, apply_edits, differs, merge_serialised, row_diff, split_lines
from detlint.model import Dataset

COORD_DECIMALS = 6  # rounding of computed numbers


def _coco_number(value: float) -> int | float:
    value = round(float(value), COORD_DECIMALS)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass
class _CocoPlan:
    drop: set[int] = field(default_factory=set)
    annotation_fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    image_fields: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Plans(dict[int, _CocoPlan]):
    """The plan of each file to edit, by file index."""

    def of(self, file_index: int) -> _CocoPlan:
        return self.setdefault(file_index, _CocoPlan())


def changes(old: Dataset, new: Dataset) -> list[FileChange]:
    """The edits of ``old``'s JSON files that make them say what ``new`` says."""
    plans = _Plans()
    _plan_annotations(old, new, plans)
    _plan_images(old, new, plans)
    merged = new.meta.get("merged_classes", {})
    if merged:
        for file_index, rel in enumerate(old.files):
            if any(name in merged for _, name in old.meta.get("class_maps", {}).get(rel, [])):
                plans.of(file_index)
    out = []
    for file_index, file_plan in sorted(plans.items()):
        change = _edit_coco_file(Path(old.root), old.files[file_index], file_plan, merged)
        if change is not None:
            out.append(change)
    return out


def _plan_annotations(old: Dataset, new: Dataset, plans: _Plans) -> None:
    """Dropped annotations, and the changed bbox, area, id and image_id of the kept ones."""
    old_ann, new_ann = old.annotations, new.annotations
    diff = row_diff(old_ann, new_ann)
    for row in diff.dropped.tolist():
        plans.of(int(old_ann.src_file[row])).drop.add(int(old_ann.src_item[row]))
    o, n = diff.old_rows, diff.new_rows
    files, items = new_ann.src_file[n], new_ann.src_item[n]
    box_changed = differs(old_ann.raw[o], new_ann.raw[n])
    area_changed = differs(old_ann.area[o], new_ann.area[n]) & np.isfinite(new_ann.area[n])
    id_changed = old_ann.id[o] != new_ann.id[n]
    old_image_id = np.where(old_ann.image[o] >= 0, old.images.id[np.maximum(old_ann.image[o], 0)], -1)
    new_image_id = np.where(new_ann.image[n] >= 0, new.images.id[np.maximum(new_ann.image[n], 0)], -1)
    image_ref_changed = (old_image_id != new_image_id) & (new_ann.image[n] >= 0)
    for k in np.flatnonzero(box_changed | area_changed | id_changed | image_ref_changed).tolist():
        row = int(n[k])
        fields = plans.of(int(files[k])).annotation_fields.setdefault(int(items[k]), {})
        if box_changed[k]:
            fields["bbox"] = (old_ann.raw[o[k]], new_ann.raw[row])
        if area_changed[k]:
            fields["area"] = _coco_number(new_ann.area[row])
        if id_changed[k]:
            fields["id"] = int(new_ann.id[row])
        if image_ref_changed[k]:
            fields["image_id"] = int(new_image_id[k])


def _plan_images(old: Dataset, new: Dataset, plans: _Plans) -> None:
    """The changed width, height and id of the image entries."""
    images_old, images_new = old.images, new.images
    for key in ("width", "height", "id"):
        for row in np.flatnonzero((getattr(images_old, key) != getattr(images_new, key))
                                  & (images_new.src_file >= 0)).tolist():
            fields = plans.of(int(images_new.src_file[row])).image_fields.setdefault(int(images_new.src_item[row]), {})
            fields[key] = int(getattr(images_new, key)[row])


@dataclass(frozen=True)
class _JsonStyle:
    """How the source file was written, so that what a fix re-serialises looks like the rest."""

    indent: int | str | None  # None: one line
    item_separator: str  # "," or ", " (Python's json default on one line)
    key_separator: str  # ": " or ":"
    ensure_ascii: bool
    strict: bool  # orjson parsed it (else NaN/Infinity tokens: Python's json writes them back)
    final_newline: bool

    def dump(self, document: Any) -> str:
        separators = (self.item_separator, self.key_separator)
        if self.strict and self.indent == 2 and not self.ensure_ascii and separators == (",", ": "):
            text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
        elif self.strict and self.indent is None and not self.ensure_ascii and separators == (",", ":"):
            text = orjson.dumps(document).decode()
        else:
            text = json.dumps(document, indent=self.indent, ensure_ascii=self.ensure_ascii, separators=separators)
        return text + "\n" if self.final_newline else text


STYLE_SAMPLE = 1 << 16  # characters read to learn the style: the first separators decide it
_SEPARATOR = re.compile(r'"(?:[^"\\]|\\.)*"|([ \t]*)([,:])([ \t]*)')  # strings are skipped whole


def _separator(head: str, mark: str, default: str) -> str:
    """The first ``mark`` (``,`` or ``:``) outside a string, with the blanks around it on its line."""
    for match in _SEPARATOR.finditer(head):
        if match.group(2) == mark:
            return match.group(1) + mark + match.group(3)
    return default


def _json_style(text: str, strict: bool) -> _JsonStyle:
    second = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
    stripped = second.lstrip(" \t")
    indent_text = second[:len(second) - len(stripped)]
    indent: int | str | None = None
    if text.rstrip().count("\n") >= 1 and indent_text:
        indent = len(indent_text) if set(indent_text) == {" "} else indent_text
    head = text[:STYLE_SAMPLE]
    item = _separator(head, ",", "," if indent is not None else ", ")
    return _JsonStyle(indent=indent, item_separator=item.lstrip(" \t") if indent is not None else item,
                      key_separator=_separator(head, ":", ": "), ensure_ascii="\\u" in head and text.isascii(),
                      strict=strict, final_newline=text.endswith("\n"))


def _merge_one_line(original: str, base: str, edited: str) -> str:
    """``original`` (one line) with the change ``base`` -> ``edited``, touching only the objects
    that changed: the three texts are cut before each ``{`` (a one-line JSON holds no newline,
    so the cuts come out again exactly) and merged like lines."""
    body = original.rstrip("\r\n")

    def cut(text: str) -> str:
        return text.rstrip("\r\n").replace("{", "\n{")

    lines, edits = merge_serialised(cut(body), cut(base), cut(edited))
    return apply_edits(lines, edits).replace("\n", "") + original[len(body):]


def _edit_coco_file(root: Path, rel: str, plan: _CocoPlan, merged: dict[str, str]) -> FileChange | None:
    data = (root / rel).read_bytes()
    try:
        document, strict = orjson.loads(data), True
    except orjson.JSONDecodeError:
        try:
            document, strict = json.loads(data), False
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    if not isinstance(document, dict):
        return None
    bom = data.startswith(b"\xef\xbb\xbf")
    original = data.decode("utf-8-sig")
    style = _json_style(original, strict)
    base = style.dump(document)
    notes = _edit_coco_document(document, plan, merged)
    if not notes:
        return None
    edited = style.dump(document)
    one_line = style.indent is None and "\n" not in original.rstrip("\r\n")
    if one_line:  # the diff lists the changes (notes): a line diff would show the whole file
        lines, edits, new_text = split_lines(original), [], _merge_one_line(original, base, edited)
    else:
        lines, edits = merge_serialised(original, base, edited)
        new_text = apply_edits(lines, edits)
    new_bytes = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    return FileChange(rel, data, new_bytes, lines, edits, notes=notes if style.indent is None else [])


def _edit_coco_document(document: dict, plan: _CocoPlan, merged: dict[str, str]) -> list[str]:
    """Apply ``plan`` to the parsed JSON in place; return a line per change (for one-line files)."""
    notes: list[str] = []
    annotations = document.get("annotations") if isinstance(document.get("annotations"), list) else []
    images = document.get("images") if isinstance(document.get("images"), list) else []
    for position, fields in sorted(plan.image_fields.items()):
        entry = images[position] if position < len(images) and isinstance(images[position], dict) else None
        if entry is None:
            continue
        for key, value in fields.items():
            notes.append(f"images[{position}].{key}: {entry.get(key)!r} -> {value!r}")
            entry[key] = value
    for position, fields in sorted(plan.annotation_fields.items()):
        entry = annotations[position] if position < len(annotations) else None
        if not isinstance(entry, dict):
            continue
        for key, value in fields.items():
            if key == "bbox":
                value = _merged_bbox(entry.get(key), *value)
            notes.append(f"annotations[{position}].{key}: {entry.get(key)!r} -> {value!r}")
            entry[key] = value
    notes += _merge_coco_categories(document, annotations, merged)
    for position in sorted(plan.drop, reverse=True):
        if position < len(annotations):
            del annotations[position]
            notes.append(f"annotations[{position}]: dropped")
    return notes


def _merged_bbox(written: Any, old_raw: np.ndarray, new_raw: np.ndarray) -> list:
    """The new bbox, keeping the source's own number for every unchanged coordinate."""
    values = written if isinstance(written, list) and len(written) == 4 else [None] * 4
    return [value if value is not None and before == after else _coco_number(after)
            for value, before, after in zip(values, old_raw.tolist(), new_raw.tolist())]


def _merge_coco_categories(document: dict, annotations: list, merged: dict[str, str]) -> list[str]:
    """Variant categories of this file: removed when the canonical one is here (its annotations
    move to it), else renamed to the canonical name (keeping their id)."""
    categories = document.get("categories")
    if not merged or not isinstance(categories, list):
        return []
    notes: list[str] = []
    id_of = {}
    for entry in categories:
        if isinstance(entry, dict) and entry.get("name") not in merged:
            id_of.setdefault(entry.get("name"), entry.get("id"))
    remap: dict[Any, Any] = {}
    kept = []
    for position, entry in enumerate(categories):
        name = entry.get("name") if isinstance(entry, dict) else None
        canonical = merged.get(name) if isinstance(name, str) else None
        if canonical is None:
            kept.append(entry)
        elif canonical in id_of:
            remap[entry.get("id")] = id_of[canonical]
            notes.append(f"categories[{position}] ({name!r}): merged into {canonical!r}")
        else:
            entry["name"] = canonical
            id_of[canonical] = entry.get("id")
            kept.append(entry)
            notes.append(f"categories[{position}].name: {name!r} -> {canonical!r}")
    categories[:] = kept
    for position, entry in enumerate(annotations):
        if isinstance(entry, dict) and entry.get("category_id") in remap:
            notes.append(f"annotations[{position}].category_id: {entry['category_id']!r} -> "
                         f"{remap[entry['category_id']]!r}")
            entry["category_id"] = remap[entry["category_id"]]
    return notes
