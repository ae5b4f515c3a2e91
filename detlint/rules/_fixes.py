"""The fixes rules build: pure ``Dataset -> Dataset`` functions, never touching their input.

A rule module with a fix defines ``fix(ds, findings) -> Dataset`` beside its ``check`` (and a
``FIX_PRIORITY``: fixes run in that order), built from the functions here:
:func:`drop_annotations`, :func:`clip_boxes`, :func:`recompute_area`, :func:`fill_image_size`,
:func:`renumber_ids` and :func:`merge_classes`; the ``*_rows`` helpers read their arguments out
of the findings' ``data``. A fix that finds nothing to do returns its input unchanged (the same
object). Drops change row numbers, so a dropping rule's ``fix`` is a :class:`DropRows`, which the
driver (:mod:`detlint.fixes`) applies last, all at once. Writing the result back to the source
files is the format's ``write_back``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from detlint.boundary import Boundary
from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.headers import header_size
from detlint.model import Annotations, Categories, Dataset, Images

COORD_DECIMALS = 6  # rounding of computed areas


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
    ann.raw[index] = format_of(new).raw_from_boxes(new, index)
    if format_of(ds).has(Trait.DECLARED_AREAS):
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
    new = _copy(ds)
    images, ann = new.images, new.annotations
    boundary = Boundary(ds.image_dir)
    for row in _rows(image_rows).tolist():
        path = str(images.path[row] or "")
        size = header_size(ds.image_dir / path, None, boundary) if path else None
        if size is None:
            continue
        images.width[row], images.height[row] = size
        if format_of(ds).has(Trait.NORMALIZED_COORDINATES):
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


def annotation_rows(findings: list[Finding]) -> list[int]:
    """The annotation rows the findings are about."""
    return [f.data["row"] for f in findings if isinstance(f.data.get("row"), int)]


def image_rows(findings: list[Finding]) -> list[int]:
    """The image rows the findings are about."""
    return [f.data["image_row"] for f in findings if isinstance(f.data.get("image_row"), int)]


def rows_and_areas(findings: list[Finding]) -> tuple[list[int], list[float]]:
    """(annotation rows, the areas the rule computed for them)."""
    used = [f for f in findings if isinstance(f.data.get("row"), int) and f.data.get("area") is not None]
    return [f.data["row"] for f in used], [float(f.data["area"]) for f in used]


def renumber_fix(ds: Dataset, findings: list[Finding]) -> Dataset:
    """Fresh ids for the image and annotation entries the findings are about (F003, F005)."""
    if not format_of(ds).has(Trait.DECLARED_IDS):
        return ds
    images, annotations = image_rows(findings), annotation_rows(findings)
    return renumber_ids(ds, images, annotations) if images or annotations else ds


def fill_size_fix(ds: Dataset, findings: list[Finding]) -> Dataset:
    """Image sizes taken from the image headers (F011, I003)."""
    rows = image_rows(findings)
    return fill_image_size(ds, rows) if rows else ds


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


def class_variants(ds: Dataset, findings: list[Finding]) -> dict[str, str]:
    """variant -> canonical class name, from C004 findings whose classes both exist. Formats
    that refer to classes by index get none: merging would renumber every later class index in
    every label file (the finding stays for a human)."""
    if format_of(ds).has(Trait.CLASS_INDEX):
        return {}
    variants = {}
    for finding in findings:
        variant, canonical = _variant_pair(finding)
        if variant in ds.categories.names and canonical in ds.categories.names:
            variants[variant] = canonical
    return variants


class DropRows:
    """The fix of a rule whose findings' annotations are dropped (``data["row"]``)."""

    def rows(self, findings: list[Finding]) -> list[int]:
        return annotation_rows(findings)

    def __call__(self, ds: Dataset, findings: list[Finding]) -> Dataset:
        rows = self.rows(findings)
        return drop_annotations(ds, rows) if rows else ds
