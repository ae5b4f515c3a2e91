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

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from detlint.edits import FileChange, diff_text
from detlint.findings import Finding
from detlint.fileio import atomic_write_bytes, is_image
from detlint.model import Annotations, Categories, Dataset, Images

COORD_DECIMALS = 6  # YOLO label precision, and rounding of computed COCO numbers
VOC_DECIMALS = 3


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
    from detlint.headers import header_size

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
    return Outcome(changed=bool(changes), diff="".join(diff_text(c) for c in changes), applied=applied,
                   files=[c.file for c in changes])


def source_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    """The edits that bring ``old``'s source files in line with ``new``."""
    if len(old.images) != len(new.images):
        raise ValueError("fixes must not add or remove image entries")
    from detlint.formats import format_of

    return format_of(old).write_back(old, new)
