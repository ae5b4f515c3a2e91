"""``--fix`` for labelme: the touched JSON files rewritten, every untouched line kept byte for
byte (key order, the source's indentation, ``imageData``), through ``edits.merge_serialised``.

A moved rectangle keeps the corner order it was written in; a polygon takes the fix's new
segmentation, or, where only its box moved (a clip into the image), its points clipped to the
new box; a circle keeps its centre and radius direction; a dropped object removes its shapes
(every polygon of a ``group_id`` object); a corrected image size (I003) is written to
``imageWidth``/``imageHeight``. Mask shapes are not edited (noted in the change).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import orjson

from detlint.boundary import Boundary
from detlint.edits import FileChange, apply_edits, changed_box_rows, merge_serialised, row_diff
from detlint.formats.labelme.shapes import GROUPED
from detlint.model import Annotations, Dataset


def _shape_type(ann: Annotations, row: int) -> str:
    extra = ann.extra[row]
    if isinstance(extra, dict) and "shape_type" in extra:
        return str(extra["shape_type"])
    return "polygon" if ann.segmentation[row] is not None else "rectangle"


def raw_of(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    """The four numbers a box is written as, per row (see ``LabelmeFormat.raw_from_boxes``)."""
    ann = ds.annotations
    out = ann.boxes[rows].copy()
    for k, row in enumerate(np.asarray(rows).tolist()):
        shape_type, old = _shape_type(ann, row), ann.raw[row]
        x1, y1, x2, y2 = out[k].tolist()
        if shape_type == "rectangle" and np.isfinite(old).all():
            out[k] = [x2 if old[0] > old[2] else x1, y2 if old[1] > old[3] else y1,
                      x1 if old[0] > old[2] else x2, y1 if old[1] > old[3] else y2]
        elif shape_type == "circle":
            cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
            out[k] = [cx, cy, cx + r, cy]
    return out


def write_back(old: Dataset, new: Dataset) -> list[FileChange]:
    """One :class:`FileChange` per JSON whose objects ``new`` changed or dropped."""
    diff = row_diff(old.annotations, new.annotations)
    dropped: dict[int, list[int]] = {}
    for row in diff.dropped.tolist():
        dropped.setdefault(int(old.annotations.src_file[row]), []).append(row)
    changed: dict[int, list[int]] = {}
    for row in changed_box_rows(old, new, diff)[1].tolist():
        changed.setdefault(int(new.annotations.src_file[row]), []).append(row)
    sizes = _new_sizes(old, new)
    boundary = Boundary(old.root)
    out = []
    for file_index in sorted(set(dropped) | set(changed) | set(sizes)):
        change = _file_change(old, new, file_index, (dropped.get(file_index, []), changed.get(file_index, [])),
                              sizes.get(file_index), boundary)
        if change is not None:
            out.append(change)
    return out


def _shape_indices(ann: Annotations, row: int) -> list[int]:
    extra = ann.extra[row]
    grouped = extra.get(GROUPED, []) if isinstance(extra, dict) else []
    return [int(ann.src_item[row]), *map(int, grouped)]


def _new_sizes(old: Dataset, new: Dataset) -> dict[int, tuple[int, int]]:
    """file -> (width, height) for each JSON whose image's size a fix changed (I003)."""
    out: dict[int, tuple[int, int]] = {}
    before = {int(f): (int(w), int(h)) for f, w, h in zip(old.images.src_file, old.images.width, old.images.height)}
    for f, w, h in zip(new.images.src_file.tolist(), new.images.width.tolist(), new.images.height.tolist()):
        if f >= 0 and before.get(f, (w, h)) != (w, h):
            out[f] = (w, h)
    return out


def _file_change(old: Dataset, new: Dataset, file_index: int, rows: tuple[list[int], list[int]],
                 size: tuple[int, int] | None, boundary: Boundary) -> FileChange | None:
    rel = old.files[file_index]
    data = boundary.read_label(os.path.join(os.fspath(old.root), rel))
    if not isinstance(data, bytes):
        return None
    text = data.decode("utf-8-sig")
    doc = orjson.loads(data)
    shapes = doc.get("shapes") if isinstance(doc, dict) else None
    if not isinstance(shapes, list):
        return None
    base = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    notes: list[str] = []
    dropped, changed = rows
    if size is not None:
        doc["imageWidth"], doc["imageHeight"] = size
    for row in changed:
        _edit(new.annotations, row, shapes, notes)
    gone = {i for row in dropped for i in _shape_indices(old.annotations, row)}
    doc["shapes"] = [shape for i, shape in enumerate(shapes) if i not in gone]
    edited = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    if edited == base:
        return None
    lines, edits = merge_serialised(text, base, edited)
    new_text = apply_edits(lines, edits)
    prefix = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    return FileChange(rel, data, prefix + new_text.encode("utf-8"), lines, edits, notes=notes)


def _number(value: float) -> float:
    """A coordinate as labelme writes it (a float, 64.0 too)."""
    return float(value)


def _edit(ann: Annotations, row: int, shapes: list[Any], notes: list[str]) -> None:
    """Write row ``row``'s new geometry into its shapes."""
    indices = _shape_indices(ann, row)
    if not all(0 <= i < len(shapes) and isinstance(shapes[i], dict) for i in indices):
        return
    shape_type = _shape_type(ann, row)
    raw, box = ann.raw[row].tolist(), ann.boxes[row]
    if shape_type in ("rectangle", "circle"):
        shapes[indices[0]]["points"] = [[_number(raw[0]), _number(raw[1])], [_number(raw[2]), _number(raw[3])]]
    elif shape_type == "polygon":
        polygons = ann.segmentation[row]
        if not isinstance(polygons, list):
            return
        for i, polygon in zip(indices, polygons):
            points = np.asarray(polygon, np.float64).reshape(-1, 2)
            points = np.clip(points, box[:2], box[2:])  # a box moved into the image: the polygon with it
            shapes[i]["points"] = [[_number(x), _number(y)] for x, y in points.tolist()]
    else:
        notes.append(f"shape {indices[0]} ({shape_type}) not edited: only rectangles, polygons and circles are")
