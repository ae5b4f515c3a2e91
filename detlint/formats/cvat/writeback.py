"""The ``--fix`` write-back: a fixed ``<box>`` gets new ``xtl ytl xbr ybr`` values on its own
line (every other byte stays); a dropped shape's element is removed with its lines. A change
this cannot make in place (a polygon, mask or rotated box whose box moved, an element sharing
its lines with another) is left out and named in the change's notes."""

from __future__ import annotations

import os
import re

from detlint import fileio
from detlint.boundary import Boundary
from detlint.edits import FileChange, apply_edits, changed_box_rows, row_diff, split_lines
from detlint.formats.cvat.write import _num
from detlint.model import Annotations, Dataset

_COORDS = ("xtl", "ytl", "xbr", "ybr")


def write_back(old: Dataset, new: Dataset) -> list[FileChange]:
    """The one :class:`FileChange` of ``annotations.xml`` when the fixes changed or dropped rows."""
    diff = row_diff(old.annotations, new.annotations)
    was, changed = changed_box_rows(old, new, diff)
    if not old.files or (not len(diff.dropped) and not len(changed)):
        return []
    rel = old.files[0]
    data = fileio.read_bytes(os.path.join(old.root, rel), Boundary(old.root))
    if not isinstance(data, bytes):
        return []
    text = data.decode("utf-8-sig")
    lines = split_lines(text)
    edits: list[tuple[int, int, list[str]]] = []
    notes: list[str] = []
    for before, row in zip(was.tolist(), changed.tolist()):
        edit = _moved_box(new, row, lines, old.annotations.raw[before].tolist())
        (edits.append(edit) if edit else notes.append(f"line {int(new.annotations.src_line[row])}: not edited "
                                                      "in place (not a plain <box> on one line)"))
    for row in diff.dropped.tolist():
        edit = _removed(old, row, lines)
        (edits.append(edit) if edit else notes.append(f"line {int(old.annotations.src_line[row])}: not removed "
                                                      "(the element shares its lines)"))
    new_text = apply_edits(lines, edits)
    prefix = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    return [FileChange(rel, data, (prefix + new_text).encode("utf-8"), lines, edits, notes)]


def _moved_box(ds: Dataset, row: int, lines: list[str], before: list[float]) -> tuple[int, int, list[str]] | None:
    """The row's line with the coordinates that changed rewritten (the others keep their text)."""
    ann = ds.annotations
    line = int(ann.src_line[row])
    if ann.kind[row] != Annotations.KIND_BOX or ann.segmentation[row] is not None or not 1 <= line <= len(lines):
        return None
    original = lines[line - 1]
    if not re.search(r"<box\b", original):
        return None
    edited = original
    for key, value, old_value in zip(_COORDS, ann.raw[row].tolist(), before):
        if value == old_value:
            continue
        edited, count = re.subn(rf'(\s{key}=)(["\'])[^"\']*\2', lambda m, v=value: f'{m[1]}{m[2]}{_num(v)}{m[2]}',
                                edited, count=1)
        if not count:
            return None
    return line - 1, line, [edited]


def _removed(ds: Dataset, row: int, lines: list[str]) -> tuple[int, int, list[str]] | None:
    """The whole lines of the shape element that starts on the row's line, when it has them alone."""
    line = int(ds.annotations.src_line[row])
    if not 1 <= line <= len(lines):
        return None
    first = lines[line - 1]
    start = re.match(r"\s*<(\w+)\b", first)
    if start is None:
        return None
    tag = start[1]
    rest = "".join(lines[line - 1:])
    end = re.compile(rf"<{tag}\b[^>]*/>|<{tag}\b.*?</{tag}\s*>", re.S).match(rest, start.start(1) - 1)
    if end is None:
        return None
    last = line - 1 + rest[:end.end()].count("\n")
    if rest[end.end():].split("\n", 1)[0].strip():
        return None  # something else follows on its last line
    return line - 1, last + 1, []
