"""Fixes for ``detlint check --fix``: pure Dataset -> Dataset functions, then a minimal write-back.

Each fix kind is a pure function that returns a new :class:`Dataset` and never touches its input:
:func:`drop_annotations` (B001, B003, B004, B006, F004), :func:`clip_boxes` (B002),
:func:`recompute_area` (B009), :func:`fill_image_size` (F011, I003), :func:`renumber_ids`
(F003, F005) and :func:`merge_classes` (C004). ``FIXES`` maps each code to its function and to
how the function's arguments come out of the findings (``Finding.data``).

:func:`apply_fixes` picks the findings whose fix is safe (or unsafe too, when asked), applies the
functions, then compares the fixed dataset with the original and edits only what differs in the
source files, in the source format, atomically:

- YOLO: only the label lines of changed rows are rewritten (6 decimals, the class token as
  written); dropped lines are removed; every other byte stays.
- VOC: the XML is edited with lxml (``<object>`` removed, ``<bndbox>`` values written in the
  file's convention, ``<size>`` set or added). lxml re-serialises the whole document, so its
  output is merged back line by line: lines the fix did not touch keep their original bytes
  (quotes, ``<x></x>`` vs ``<x/>``, the XML declaration, CRLF).
- COCO: the JSON is edited by position (``annotations[i]`` dropped or changed, ``images[i]``
  width/height/id set, categories merged) and dumped in the file's style (2-space orjson,
  another indent through ``json``, or one line), merged back line by line the same way.

Images are never written. Nothing is written when ``write`` is False (``--diff``): the outcome then
carries a unified diff of the source files (for a one-line COCO JSON, a list of the changes).

YOLO class merges (C004) are not applied: merging would renumber every class index after the
variant in every label file; the finding stays for a human to resolve.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import orjson

from detlint.findings import Finding
from detlint.formats.base import atomic_write_bytes, is_image
from detlint.model import Annotations, Categories, Dataset, Images

COORD_DECIMALS = 6  # YOLO label precision, and rounding of computed COCO numbers
VOC_DECIMALS = 3
DIFF_CONTEXT = 3
BOM = "\ufeff"


@dataclass
class Outcome:
    """What :func:`apply_fixes` did: whether sources changed, the diff, per-code counts, files."""

    changed: bool = False
    diff: str = ""
    applied: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


# ============================================================================ dataset copies


def _copy_annotations(ann: Annotations) -> Annotations:
    return ann.take(np.arange(len(ann)))  # fancy indexing copies every column


def _copy_images(images: Images) -> Images:
    return Images(**{name: value.copy() for name, value in vars(images).items()})


def _copy_categories(cats: Categories) -> Categories:
    return Categories(names=list(cats.names), ids=cats.ids.copy(), extra=[dict(e) for e in cats.extra],
                      src_file=cats.src_file.copy(), src_line=cats.src_line.copy(),
                      src_item=cats.src_item.copy())


def _copy(ds: Dataset) -> Dataset:
    return replace(ds, categories=_copy_categories(ds.categories), images=_copy_images(ds.images),
                   annotations=_copy_annotations(ds.annotations), files=list(ds.files),
                   problems=list(ds.problems), meta=dict(ds.meta))


def _rows(rows: Iterable[int]) -> np.ndarray:
    return np.unique(np.asarray(list(rows), dtype=np.int64))


# ============================================================================ pure fixes


def drop_annotations(ds: Dataset, rows: Iterable[int]) -> Dataset:
    """``ds`` without the annotation rows ``rows``."""
    keep = np.ones(len(ds.annotations), bool)
    keep[_rows(rows)] = False
    new = _copy(ds)
    new.annotations = ds.annotations.take(keep)
    return new


def clip_boxes(ds: Dataset, rows: Iterable[int]) -> Dataset:
    """Boxes of ``rows`` clipped to ``[0, W] x [0, H]`` (the unit square for normalised rows).

    ``raw`` follows in the source's own numbers; YOLO polygon points are clipped to [0, 1]; a
    COCO ``area`` that matched the old box (no segmentation) becomes the clipped box's area.
    """
    new = _copy(ds)
    ann = new.annotations
    index = _rows(rows)
    w, h = ds.image_size_per_annotation()
    limits = np.stack([w, h, w, h], axis=1)[index] if len(index) else np.zeros((0, 4))
    known = np.isfinite(limits).all(axis=1)
    index, limits = index[known], limits[known]
    old_boxes = ann.boxes[index].copy()
    ann.boxes[index] = np.clip(old_boxes, 0.0, limits)
    for k in np.flatnonzero(ann.kind[index] == Annotations.KIND_POLYGON).tolist():
        row = int(index[k])  # YOLO polygon: its points are normalised, its box is their extent
        points = np.clip(np.asarray(ann.segmentation[row], np.float64), 0.0, 1.0)
        ann.segmentation[row] = points.tolist()
        xs, ys = points[0::2], points[1::2]
        ann.boxes[row] = np.array([xs.min(), ys.min(), xs.max(), ys.max()]) * limits[k]
    ann.raw[index] = _raw_from_boxes(new, index)
    if ds.format == "coco":
        _follow_box_area(ann, index, old_boxes)
    return new


def _box_area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _follow_box_area(ann: Annotations, index: np.ndarray, old_boxes: np.ndarray) -> None:
    """A COCO area that was the box's area (no segmentation) stays the box's area."""
    old_area = _box_area(old_boxes)
    no_segmentation = np.array([not ann.segmentation[r] for r in index.tolist()], bool)
    with np.errstate(invalid="ignore"):
        was_box_area = np.isclose(ann.area[index], old_area, rtol=1e-6, atol=1e-6)
    follow = index[was_box_area & no_segmentation]
    ann.area[follow] = np.round(_box_area(ann.boxes[follow]), COORD_DECIMALS)


def _raw_from_boxes(ds: Dataset, index: np.ndarray) -> np.ndarray:
    """``raw`` (the source's four numbers) of rows ``index`` from their ``boxes``."""
    ann = ds.annotations
    boxes = ann.boxes[index]
    if ds.format == "coco":
        xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
        return np.round(xywh, COORD_DECIMALS)
    if ds.format == "voc":
        origin = float(ds.meta.get("voc_origin", 1))
        return boxes + np.array([origin, origin, 0.0, 0.0])
    if ds.format == "yolo":
        w, h = ds.image_size_per_annotation()
        scale = np.stack([w, h, w, h], axis=1)[index]
        norm = boxes / scale
        return np.column_stack([(norm[:, 0] + norm[:, 2]) / 2, (norm[:, 1] + norm[:, 3]) / 2,
                                norm[:, 2] - norm[:, 0], norm[:, 3] - norm[:, 1]])
    return boxes.copy()


def recompute_area(ds: Dataset, rows: Iterable[int], areas: Iterable[float]) -> Dataset:
    """``area`` of ``rows`` set to ``areas`` (computed by B009 from segmentation or box)."""
    new = _copy(ds)
    index = np.asarray(list(rows), np.int64)
    new.annotations.area[index] = np.round(np.asarray(list(areas), np.float64), COORD_DECIMALS)
    return new


def fill_image_size(ds: Dataset, image_rows: Iterable[int]) -> Dataset:
    """Width and height of ``image_rows`` read from the image header (after EXIF orientation).

    Rows whose image file is missing or unreadable keep their size. YOLO rows that stayed
    normalised for want of a size become pixel boxes.
    """
    from detlint.images import header_size

    new = _copy(ds)
    images, ann = new.images, new.annotations
    for row in _rows(image_rows).tolist():
        path = str(images.path[row] or "")
        size = header_size(Path(ds.root) / path) if path else None
        if size is None:
            continue
        images.width[row], images.height[row] = size
        if ds.format == "yolo":
            pending = np.flatnonzero((ann.image == row) & ann.normalized)
            ann.boxes[pending] = ann.boxes[pending] * np.array([size[0], size[1], size[0], size[1]], np.float64)
            ann.normalized[pending] = False
    return new


def renumber_ids(ds: Dataset, image_rows: Iterable[int] = (), annotation_rows: Iterable[int] = ()) -> Dataset:
    """Fresh ids for the given image and annotation rows: one past the largest id of their file.

    Only the offending entries change (the smallest edit); annotations keep pointing at the image
    row they were linked to, so an annotation of a renumbered image follows it.
    """
    new = _copy(ds)
    for table, rows in ((new.images, image_rows), (new.annotations, annotation_rows)):
        index = _rows(rows)
        next_id: dict[int, int] = {}
        for row in index.tolist():
            file = int(table.src_file[row])
            if file not in next_id:
                same_file = table.id[table.src_file == file]
                next_id[file] = int(same_file.max()) + 1 if len(same_file) else 1
            table.id[row] = max(next_id[file], 1)
            next_id[file] = int(table.id[row]) + 1
    return new


def merge_classes(ds: Dataset, variants: dict[str, str]) -> Dataset:
    """Each class named like a key of ``variants`` merged into the class named by its value.

    The variant categories leave the class list; their annotations move to the canonical class.
    ``meta["merged_classes"]`` records the mapping (the COCO write-back edits categories with it).
    """
    names = ds.categories.names
    index_of = {name: i for i, name in enumerate(names)}
    merged = {v: c for v, c in variants.items() if v in index_of and c in index_of and v != c}
    new = _copy(ds)
    if not merged:
        return new
    keep = np.array([name not in merged for name in names], bool)
    position = np.cumsum(keep) - 1
    target = np.array([position[index_of[merged.get(name, name)]] for name in names], np.int64)
    cats = ds.categories
    new.categories = Categories(
        names=[n for n, k in zip(names, keep) if k], ids=cats.ids[keep].copy(),
        extra=[dict(e) for e, k in zip(cats.extra, keep) if k], src_file=cats.src_file[keep].copy(),
        src_line=cats.src_line[keep].copy(), src_item=cats.src_item[keep].copy())
    category = new.annotations.category
    known = category >= 0
    category[known] = target[category[known]].astype(np.int32)
    new.meta["merged_classes"] = {**ds.meta.get("merged_classes", {}), **merged}
    return new


# ============================================================================ findings -> calls


def _annotation_rows(ds: Dataset, findings: list[Finding]) -> tuple[list[Finding], tuple]:
    used = [f for f in findings if isinstance(f.data.get("row"), int)]
    return used, ([f.data["row"] for f in used],)


def _rows_and_areas(ds: Dataset, findings: list[Finding]) -> tuple[list[Finding], tuple]:
    used = [f for f in findings if isinstance(f.data.get("row"), int) and f.data.get("area") is not None]
    return used, ([f.data["row"] for f in used], [float(f.data["area"]) for f in used])


def _image_rows(ds: Dataset, findings: list[Finding]) -> tuple[list[Finding], tuple]:
    used = [f for f in findings if isinstance(f.data.get("image_row"), int)]
    return used, ([f.data["image_row"] for f in used],)


def _id_rows(ds: Dataset, findings: list[Finding]) -> tuple[list[Finding], tuple]:
    if ds.format != "coco":
        return [], ((), ())
    images = [f for f in findings if isinstance(f.data.get("image_row"), int)]
    annotations = [f for f in findings if isinstance(f.data.get("row"), int)]
    return images + annotations, ([f.data["image_row"] for f in images], [f.data["row"] for f in annotations])


def _variant_pair(finding: Finding) -> tuple[str | None, str | None]:
    """(variant, canonical) of a C004 finding: from ``data`` when the rule gives them, else from
    the fix description ("merge into 'dog'") and the message ("class 'Dog_' looks like ...")."""
    variant, canonical = finding.data.get("variant"), finding.data.get("canonical")
    if isinstance(variant, str) and isinstance(canonical, str):
        return variant, canonical
    description = finding.fix.description if finding.fix else ""
    match = re.fullmatch(r"merge into '(?P<canonical>.*)'", description, re.DOTALL)
    if match is None:
        return None, None
    canonical = match["canonical"]
    marker = f"' looks like a variant of '{canonical}'"
    if not finding.message.startswith("class '") or marker not in finding.message:
        return None, None
    return finding.message[len("class '"):finding.message.rindex(marker)], canonical


def _class_variants(ds: Dataset, findings: list[Finding]) -> tuple[list[Finding], tuple]:
    if ds.format not in ("coco", "voc"):
        return [], ({},)  # see the module docstring: a YOLO merge renumbers every later class
    used, variants = [], {}
    for finding in findings:
        variant, canonical = _variant_pair(finding)
        if variant in ds.categories.names and canonical in ds.categories.names:
            variants[variant] = canonical
            used.append(finding)
    return used, (variants,)


@dataclass(frozen=True)
class Fixer:
    """A fix kind: the pure function and how its arguments come out of the findings."""

    function: Callable[..., Dataset]
    arguments: Callable[[Dataset, list[Finding]], tuple[list[Finding], tuple]]


FIXES: dict[str, Fixer] = {
    "F011": Fixer(fill_image_size, _image_rows),
    "I003": Fixer(fill_image_size, _image_rows),
    "F003": Fixer(renumber_ids, _id_rows),
    "F005": Fixer(renumber_ids, _id_rows),
    "C004": Fixer(merge_classes, _class_variants),
    "B009": Fixer(recompute_area, _rows_and_areas),  # before B002, whose clip then owns the area
    "B002": Fixer(clip_boxes, _annotation_rows),
    "B001": Fixer(drop_annotations, _annotation_rows),
    "B003": Fixer(drop_annotations, _annotation_rows),
    "B004": Fixer(drop_annotations, _annotation_rows),
    "B006": Fixer(drop_annotations, _annotation_rows),
    "F004": Fixer(drop_annotations, _annotation_rows),
}


def selected(findings: Iterable[Finding], unsafe: bool) -> list[Finding]:
    """Findings with a fix this run may apply."""
    allowed = ("safe", "unsafe") if unsafe else ("safe",)
    return [f for f in findings if f.fix is not None and f.fix.applicability in allowed and f.code in FIXES]


def fixed_dataset(ds: Dataset, findings: Iterable[Finding], unsafe: bool = False) -> tuple[Dataset, dict[str, int]]:
    """``ds`` with the applicable fixes applied, and how many findings each code fixed.

    Row numbers in findings refer to ``ds``; only drops change them, so all drops run last, at once.
    """
    by_code: dict[str, list[Finding]] = {}
    for finding in selected(findings, unsafe):
        by_code.setdefault(finding.code, []).append(finding)
    new, applied, drops = ds, {}, []
    for code, fixer in FIXES.items():
        if code not in by_code:
            continue
        used, arguments = fixer.arguments(ds, by_code[code])
        if not used:
            continue
        applied[code] = len(used)
        if fixer.function is drop_annotations:
            drops += arguments[0]
        else:
            new = fixer.function(new, *arguments)
    if drops:
        new = drop_annotations(new, drops)
    return new, applied


# ============================================================================ apply + write back


@dataclass
class FileChange:
    """New content for one source file, and the line edits (for the diff)."""

    file: str  # relative to the dataset root
    old: bytes
    new: bytes
    old_lines: list[str]
    edits: list[tuple[int, int, list[str]]]  # (first old line, end old line, new lines), 0-based
    notes: list[str] = field(default_factory=list)  # what changed, for files a line diff cannot show


def apply_fixes(ds: Dataset, findings: Iterable[Finding], unsafe: bool = False, write: bool = True) -> Outcome:
    """Apply the fixes the findings offer (safe ones; unsafe too if ``unsafe``) to ``ds``'s source files.

    With ``write`` False nothing is written; the outcome's ``diff`` shows what would change.
    """
    new, applied = fixed_dataset(ds, findings, unsafe)
    changes = [c for c in source_changes(ds, new) if c.new != c.old]
    if write:
        for change in changes:
            target = Path(ds.root) / change.file
            if is_image(target):  # images are never rewritten, whatever the provenance says
                continue
            atomic_write_bytes(target, change.new)
    return Outcome(changed=bool(changes), diff="".join(_diff_text(c) for c in changes), applied=applied,
                   files=[c.file for c in changes])


def source_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    """The edits that bring ``old``'s source files in line with ``new``."""
    if len(old.images) != len(new.images):
        raise ValueError("fixes must not add or remove image entries")
    writer = {"yolo": _yolo_changes, "voc": _voc_changes, "coco": _coco_changes}.get(old.format)
    return writer(old, new) if writer else []


@dataclass
class _RowDiff:
    """Annotation rows of ``old`` matched with ``new`` by provenance (file, item)."""

    dropped: np.ndarray  # old rows without a counterpart
    old_rows: np.ndarray  # matched pairs
    new_rows: np.ndarray


def _row_diff(old: Annotations, new: Annotations) -> _RowDiff:
    def keys(ann: Annotations) -> np.ndarray:
        return (ann.src_file.astype(np.int64) << 32) | (ann.src_item.astype(np.int64) & 0xFFFFFFFF)

    old_keys, new_keys = keys(old), keys(new)
    if not len(old_keys) or not len(new_keys):
        empty = np.zeros(0, np.int64)
        return _RowDiff(dropped=np.flatnonzero(old.src_file >= 0), old_rows=empty, new_rows=empty)
    located = old.src_file >= 0
    dropped = np.flatnonzero(located & ~np.isin(old_keys, new_keys))
    order = np.argsort(old_keys, kind="stable")
    pos = np.minimum(np.searchsorted(old_keys[order], new_keys), len(old_keys) - 1)
    matched = (old_keys[order[pos]] == new_keys) & (new.src_file >= 0)
    return _RowDiff(dropped=dropped, old_rows=order[pos][matched], new_rows=np.flatnonzero(matched))


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise 'not the same value' where NaN equals NaN."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return ~same.all(axis=1) if same.ndim == 2 else ~same


def _changed_box_rows(old: Dataset, new: Dataset, diff: _RowDiff) -> tuple[np.ndarray, np.ndarray]:
    o, n = diff.old_rows, diff.new_rows
    changed = _differs(old.annotations.raw[o], new.annotations.raw[n])
    seg_old, seg_new = old.annotations.segmentation, new.annotations.segmentation
    changed |= np.array([seg_old[a] is not seg_new[b] for a, b in zip(o.tolist(), n.tolist())], bool).reshape(len(o))
    return o[changed], n[changed]


# ---------------------------------------------------------------------------- text helpers


def _lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only (as the readers number them), each with its line ending."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _apply_edits(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> str:
    out, at = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        out += lines[at:start]
        out += replacement
        at = max(at, end)
    out += lines[at:]
    return "".join(out)


def _with_ending(line: str, like: str) -> str:
    """``line`` (without ending) given the line ending of ``like``."""
    ending = like[len(like.rstrip("\r\n")):]
    return line + ending


SMALL_DIFF = 4000  # lines; below this difflib's exact matching is cheap enough


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Non-equal opcodes (tag, a1, a2, b1, b2) turning line list ``a`` into ``b``.

    A patience diff: lines that occur once on each side anchor the match, the gaps between
    anchors are diffed the same way, small gaps by difflib. A few edits in a file of millions
    of lines cost a few linear passes, where difflib alone would take minutes.
    """
    out: list[tuple[str, int, int, int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        a1, a2, b1, b2 = stack.pop()
        while a1 < a2 and b1 < b2 and a[a1] == b[b1]:
            a1, b1 = a1 + 1, b1 + 1
        while a1 < a2 and b1 < b2 and a[a2 - 1] == b[b2 - 1]:
            a2, b2 = a2 - 1, b2 - 1
        if a1 == a2 and b1 == b2:
            continue
        if a1 == a2 or b1 == b2:
            out.append(("insert" if a1 == a2 else "delete", a1, a2, b1, b2))
            continue
        if (a2 - a1) + (b2 - b1) <= SMALL_DIFF:
            matcher = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
            out += [(tag, i1 + a1, i2 + a1, j1 + b1, j2 + b1)
                    for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
            continue
        anchors = _unique_anchors(a, a1, a2, b, b1, b2)
        if not anchors:
            out.append(("replace", a1, a2, b1, b2))
            continue
        gaps, at_a, at_b = [], a1, b1
        for i, j in anchors:
            gaps.append((at_a, i, at_b, j))
            at_a, at_b = i + 1, j + 1
        gaps.append((at_a, a2, at_b, b2))
        stack += reversed(gaps)
    return sorted(out, key=lambda op: (op[1], op[3]))


def _unique_anchors(a: list[str], a1: int, a2: int, b: list[str], b1: int, b2: int) -> list[tuple[int, int]]:
    """(i, j) pairs of lines unique in both ranges, longest run with both indices increasing."""
    from bisect import bisect_left
    from collections import Counter

    count_a = Counter(a[a1:a2])
    count_b = Counter(b[b1:b2])
    where_b = {b[j]: j for j in range(b1, b2) if count_b[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(a1, a2) if count_a[a[i]] == 1 and a[i] in where_b]
    # longest increasing subsequence of j (patience sorting)
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[pos] = j
            tail_index[pos] = k
        previous[k] = tail_index[pos - 1] if pos else -1
    chain = []
    k = tail_index[-1] if tail_index else -1
    while k >= 0:
        chain.append(pairs[k])
        k = previous[k]
    return chain[::-1]


def merge_serialised(original: str, base: str, edited: str) -> tuple[list[str], list[tuple[int, int, list[str]]]]:
    """Edits to ``original`` that carry the change ``base`` -> ``edited`` over to it.

    ``base`` is a serialiser's rendering of ``original`` (lxml, orjson) and ``edited`` its
    rendering after the fix. Lines the fix did not touch keep their original bytes; a touched
    line that the serialiser also re-formatted comes out in the serialiser's form.
    Returns ``original``'s lines and the edits (0-based, end exclusive).
    """
    o_lines = _lines(original)
    o_keys = [line.rstrip("\r\n") for line in o_lines]
    b_keys = [line.rstrip("\r\n") for line in _lines(base)]
    e_keys = [line.rstrip("\r\n") for line in _lines(edited)]
    newline = "\r\n" if "\r\n" in original else "\n"
    aligned = _alignment(o_keys, b_keys)
    n_base = len(b_keys)

    groups: list[tuple[int, int, list[tuple[int, int, int, int]]]] = []  # (start, end, opcodes)
    for _, b1, b2, e1, e2 in _opcodes(b_keys, e_keys):
        start, end = b1, b2
        anchored = (start < end and bool((aligned[start:end] >= 0).all())) or (
            start == end and (start == 0 or aligned[start - 1] >= 0 or aligned[start] >= 0))
        if not anchored:  # the serialiser re-formatted lines here: take its whole re-formatted run
            while start > 0 and aligned[start - 1] < 0:
                start -= 1
            while end < n_base and aligned[end] < 0:
                end += 1
        if groups and start < groups[-1][1]:
            previous = groups.pop()
            groups.append((previous[0], max(previous[1], end), previous[2] + [(b1, b2, e1, e2)]))
        else:
            groups.append((start, end, [(b1, b2, e1, e2)]))

    edits = []
    for start, end, opcodes in groups:
        replacement: list[str] = []
        at = start
        for b1, b2, e1, e2 in opcodes:
            replacement += b_keys[at:b1] + e_keys[e1:e2]
            at = b2
        replacement += b_keys[at:end]
        if start < end and aligned[start] >= 0:
            o_start = int(aligned[start])
        elif start == end and start < n_base and aligned[start] >= 0:
            o_start = int(aligned[start])
        else:
            o_start = int(aligned[start - 1]) + 1 if start > 0 else 0
        if start < end and aligned[end - 1] >= 0:
            o_end = int(aligned[end - 1]) + 1
        elif start == end:
            o_end = o_start
        else:
            o_end = int(aligned[end]) if end < n_base else len(o_lines)
        edits.append((o_start, o_end, [line + newline for line in replacement]))
    if o_lines and not o_lines[-1].endswith("\n"):
        _keep_missing_final_newline(o_lines, edits, newline)
    return o_lines, edits


def _keep_missing_final_newline(o_lines: list[str], edits: list[tuple[int, int, list[str]]], newline: str) -> None:
    """The original had no final newline: an edit at the end must not add one (nor glue lines)."""
    if not edits or edits[-1][1] != len(o_lines):
        return
    start, end, replacement = edits[-1]
    if start == end:  # insertion after the unterminated last line: it gets a newline first
        start -= 1
        replacement = [o_lines[start] + newline] + replacement
    if replacement:
        replacement[-1] = replacement[-1].rstrip("\r\n")
    elif len(edits) > 1 and edits[-2][1] == start and edits[-2][2]:
        edits[-2][2][-1] = edits[-2][2][-1].rstrip("\r\n")
    elif start > 0:  # the line before the removed tail becomes the last line
        start -= 1
        replacement = [o_lines[start].rstrip("\r\n")]
    edits[-1] = (start, end, replacement)


def _alignment(o_keys: list[str], b_keys: list[str]) -> np.ndarray:
    """For each base line, the original line it renders (-1: re-formatted); one extra entry."""
    aligned = np.full(len(b_keys) + 1, -1, np.int64)
    if len(o_keys) == len(b_keys):
        aligned[:-1] = np.arange(len(b_keys))  # same shape: lines pair one to one
        return aligned
    at_o = at_b = 0
    for _, o1, o2, b1, b2 in _opcodes(o_keys, b_keys) + [("end", len(o_keys), len(o_keys), len(b_keys), len(b_keys))]:
        aligned[at_b:b1] = np.arange(at_o, at_o + (b1 - at_b))
        at_o, at_b = o2, b2
    return aligned


# ---------------------------------------------------------------------------- diff text


def _diff_text(change: FileChange) -> str:
    header = f"--- a/{change.file}\n+++ b/{change.file}\n"
    if change.notes:
        return header + "".join(f"# {note}\n" for note in change.notes)
    return header + "".join(_hunks(change.old_lines, change.edits))


def _hunks(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> Iterable[str]:
    """Unified-diff hunks straight from the edits: linear in the edits, not in the file."""
    edits = sorted(edits, key=lambda e: (e[0], e[1]))
    delta = 0
    i = 0
    while i < len(edits):
        j = i
        while j + 1 < len(edits) and edits[j + 1][0] - edits[j][1] <= 2 * DIFF_CONTEXT:
            j += 1
        group = edits[i:j + 1]
        start = max(0, group[0][0] - DIFF_CONTEXT)
        end = min(len(lines), group[-1][1] + DIFF_CONTEXT)
        body: list[str] = []
        at = start
        added = removed = 0
        for first, last, replacement in group:
            body += [" " + _shown(line) for line in lines[at:first]]
            body += ["-" + _shown(line) for line in lines[first:last]]
            body += ["+" + _shown(line) for line in replacement]
            removed += last - first
            added += len(replacement)
            at = last
        body += [" " + _shown(line) for line in lines[at:end]]
        old_len = end - start
        new_len = old_len - removed + added
        old_start = start + 1 if old_len else start
        new_start = start + delta + 1 if new_len else start + delta
        yield f"@@ -{old_start},{old_len} +{new_start},{new_len} @@\n"
        yield from body
        delta += added - removed
        i = j + 1


def _shown(line: str) -> str:
    text = line.rstrip("\r\n")
    return text + "\n" if line.endswith("\n") else text + "\n\\ No newline at end of file\n"


# ---------------------------------------------------------------------------- YOLO


def _fmt(value: float) -> str:
    return f"{value:.{COORD_DECIMALS}f}"


def _yolo_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    diff = _row_diff(old.annotations, new.annotations)
    per_file: dict[int, dict[int, Any]] = {}  # file -> {line: None (drop) | new row}
    for row in diff.dropped.tolist():
        per_file.setdefault(int(old.annotations.src_file[row]), {})[int(old.annotations.src_line[row])] = None
    _, changed = _changed_box_rows(old, new, diff)
    for row in changed.tolist():
        per_file.setdefault(int(new.annotations.src_file[row]), {})[int(new.annotations.src_line[row])] = row
    changes = []
    for file_index, by_line in sorted(per_file.items()):
        rel = old.files[file_index]
        data = (Path(old.root) / rel).read_bytes()
        lines = _lines(data.decode("utf-8"))
        edits = []
        for line_number, row in sorted(by_line.items()):
            if not 1 <= line_number <= len(lines):
                continue
            original = lines[line_number - 1]
            if row is None:
                edits.append((line_number - 1, line_number, []))
                continue
            prefix = BOM if line_number == 1 and original.startswith(BOM) else ""
            tokens = original.lstrip(BOM).split()
            text = prefix + " ".join([tokens[0], *_yolo_values(new, row)])
            edits.append((line_number - 1, line_number, [_with_ending(text, original)]))
        if lines and not lines[-1].endswith("\n"):
            _keep_missing_final_newline(lines, edits, "\r\n" if lines[0].endswith("\r\n") else "\n")
        new_text = _apply_edits(lines, edits)
        changes.append(FileChange(rel, data, new_text.encode("utf-8"), lines, edits))
    return changes


def _yolo_values(ds: Dataset, row: int) -> list[str]:
    ann = ds.annotations
    if ann.kind[row] == Annotations.KIND_POLYGON and ann.segmentation[row] is not None:
        return [_fmt(v) for v in ann.segmentation[row]]
    return [_fmt(v) for v in ann.raw[row].tolist()]


# ---------------------------------------------------------------------------- VOC


def _voc_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    old_ann, new_ann = old.annotations, new.annotations
    diff = _row_diff(old_ann, new_ann)
    per_file: dict[int, dict[str, Any]] = {}

    def plan(file_index: int) -> dict[str, Any]:
        return per_file.setdefault(file_index, {"drop": set(), "box": {}, "name": {}, "size": None})

    for row in diff.dropped.tolist():
        plan(int(old_ann.src_file[row]))["drop"].add(int(old_ann.src_item[row]))
    old_rows, new_rows = _changed_box_rows(old, new, diff)
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
    new_text = _apply_edits(lines, edits)
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


def _coco_number(value: float) -> int | float:
    value = round(float(value), COORD_DECIMALS)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass
class _CocoPlan:
    drop: set[int] = field(default_factory=set)
    annotation_fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    image_fields: dict[int, dict[str, Any]] = field(default_factory=dict)


def _coco_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    old_ann, new_ann = old.annotations, new.annotations
    diff = _row_diff(old_ann, new_ann)
    plans: dict[int, _CocoPlan] = {}

    def plan(file_index: int) -> _CocoPlan:
        return plans.setdefault(file_index, _CocoPlan())

    def set_field(file_index: int, position: int, key: str, value: Any) -> None:
        plan(file_index).annotation_fields.setdefault(position, {})[key] = value

    for row in diff.dropped.tolist():
        plan(int(old_ann.src_file[row])).drop.add(int(old_ann.src_item[row]))
    o, n = diff.old_rows, diff.new_rows
    files, items = new_ann.src_file[n], new_ann.src_item[n]
    box_changed = _differs(old_ann.raw[o], new_ann.raw[n])
    area_changed = _differs(old_ann.area[o], new_ann.area[n]) & np.isfinite(new_ann.area[n])
    id_changed = old_ann.id[o] != new_ann.id[n]
    old_image_id = np.where(old_ann.image[o] >= 0, old.images.id[np.maximum(old_ann.image[o], 0)], -1)
    new_image_id = np.where(new_ann.image[n] >= 0, new.images.id[np.maximum(new_ann.image[n], 0)], -1)
    image_ref_changed = (old_image_id != new_image_id) & (new_ann.image[n] >= 0)
    for k in np.flatnonzero(box_changed | area_changed | id_changed | image_ref_changed).tolist():
        file_index, position, row = int(files[k]), int(items[k]), int(n[k])
        if box_changed[k]:
            set_field(file_index, position, "bbox", (old_ann.raw[o[k]], new_ann.raw[row]))
        if area_changed[k]:
            set_field(file_index, position, "area", _coco_number(new_ann.area[row]))
        if id_changed[k]:
            set_field(file_index, position, "id", int(new_ann.id[row]))
        if image_ref_changed[k]:
            set_field(file_index, position, "image_id", int(new_image_id[k]))
    images_old, images_new = old.images, new.images
    for key in ("width", "height", "id"):
        for row in np.flatnonzero((getattr(images_old, key) != getattr(images_new, key))
                                  & (images_new.src_file >= 0)).tolist():
            fields = plan(int(images_new.src_file[row])).image_fields.setdefault(int(images_new.src_item[row]), {})
            fields[key] = int(getattr(images_new, key)[row])
    merged = new.meta.get("merged_classes", {})
    if merged:
        for file_index, rel in enumerate(old.files):
            if any(name in merged for _, name in old.meta.get("class_maps", {}).get(rel, [])):
                plan(file_index)
    changes = []
    for file_index, file_plan in sorted(plans.items()):
        change = _edit_coco_file(Path(old.root), old.files[file_index], file_plan, merged)
        if change is not None:
            changes.append(change)
    return changes


@dataclass(frozen=True)
class _JsonStyle:
    indent: int | str | None  # None: one line
    ensure_ascii: bool
    spaced: bool  # ", " and ": " separators on one line (Python's json default)
    strict: bool  # orjson parsed it (else NaN/Infinity tokens: Python's json writes them back)
    final_newline: bool

    def dump(self, document: Any) -> str:
        if self.strict and self.indent == 2 and not self.ensure_ascii:
            text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
        elif self.strict and self.indent is None and not self.spaced and not self.ensure_ascii:
            text = orjson.dumps(document).decode()
        else:
            separators = (",", ": ") if self.indent is not None or self.spaced else (",", ":")
            text = json.dumps(document, indent=self.indent, ensure_ascii=self.ensure_ascii,
                              separators=separators)
        return text + "\n" if self.final_newline else text


def _json_style(text: str, strict: bool) -> _JsonStyle:
    second = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
    stripped = second.lstrip(" \t")
    indent_text = second[:len(second) - len(stripped)]
    indent: int | str | None = None
    if text.rstrip().count("\n") >= 1 and indent_text:
        indent = len(indent_text) if set(indent_text) == {" "} else indent_text
    head = text[:1 << 16]
    return _JsonStyle(indent=indent, ensure_ascii="\\u" in head and text.isascii(),
                      spaced=indent is None and ('", "' in head or '": ' in head), strict=strict,
                      final_newline=text.endswith("\n"))


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
    lines, edits = merge_serialised(original, base, edited)
    new_bytes = (b"\xef\xbb\xbf" if bom else b"") + _apply_edits(lines, edits).encode("utf-8")
    one_line = style.indent is None
    return FileChange(rel, data, new_bytes, lines, edits, notes=notes if one_line else [])


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
