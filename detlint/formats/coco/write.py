"""Writing a dataset as COCO: one JSON per split (``annotations.json`` + ``images/`` for one
unnamed split, ``annotations/instances_<split>.json`` + ``images/<split>/`` otherwise), with
the images linked or copied beside it. A COCO source keeps its ids, numbers, file names,
unknown keys and top-level keys; every lossy step is recorded in the options' losses."""

from __future__ import annotations

import os
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.fileio import atomic_write_bytes, batch_map, safe_relative
from detlint.formats.coco.layout import NAME
from detlint.formats.prewrite import NON_FINITE_BOX, UNKNOWN_CLASS, lose_other_splits
from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset, xywh_of
from detlint.placing import Placement, SourceRoot, place_image

_FLAGS = ("difficult", "truncated", "occluded")
COORD_DECIMALS = 6
# another format's bookkeeping, not data: VOC split membership, YOLO's orphan labels, VOC's
# name of a class it did not know (such rows are not written)
_INTERNAL_IMAGE_KEYS = frozenset({"also_in_splits", "orphan_label"})
_INTERNAL_ANNOTATION_KEYS = frozenset({"name"})


def _split_layout(split: str) -> tuple[str, str]:
    """(annotation file, image folder) relative to the destination root."""
    if not split:
        return "annotations.json", "images"
    return f"annotations/instances_{split}.json", f"images/{split}"


def _numbers(values: np.ndarray) -> np.ndarray:
    """Every value as JSON writes it best (an int where it is one, exactly, else a float), as an
    object array (``tolist`` gives the nested lists): one mask for the whole column, not a
    Python call per coordinate (3.5M at COCO scale)."""
    values = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"):
        whole = (values == np.floor(values)) & (np.abs(values) < 2**53)
    out = values.astype(object)
    out[whole] = values[whole].astype(np.int64).tolist()
    return out


def _xywh(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    ann = ds.annotations
    boxes = ann.boxes[rows]
    # 1e-6 px: below any source's precision (a YOLO 6th decimal is 1e-6 of the image), above
    # float noise (0.05625 * 640 = 36.00000000000001, 1.1 + 3.3 - 1.1 = 3.3000000000000003)
    exact = xywh_of(boxes)
    xywh = np.round(exact, COORD_DECIMALS)
    if ds.format == NAME:
        # Keep the source's exact numbers where the box was not changed (lossless COCO -> COCO).
        raw = ann.raw[rows]
        same = np.all(np.isclose(exact, raw, rtol=0, atol=1e-9) | (np.isnan(exact) & np.isnan(raw)), axis=1)
        xywh[same] = raw[same]
    return xywh


def _category_ids(ds: Dataset) -> np.ndarray:
    ids = ds.categories.ids
    if ds.format == NAME and len(np.unique(ids)) == len(ids) and (ids >= 0).all():
        return ids
    return np.arange(1, len(ds.categories) + 1, dtype=np.int64)  # COCO ids start at 1


def _image_names(ds: Dataset, rows: np.ndarray, options: WriteOptions) -> list[str]:
    """Unique file names inside one split's image folder (nested names kept when safe)."""
    seen: set[str] = set()
    names = []
    for i in rows:
        source = ds.images.path[i] or ds.images.file_name[i]
        name = safe_relative(str(ds.images.file_name[i])) if ds.format == NAME else None
        name = name or os.path.basename(str(source)) or f"image_{i}.jpg"
        if name.lower() in seen:
            stem, ext = os.path.splitext(name)
            name = f"{stem}_{i}{ext}"
            options.lose("image renamed to avoid a name collision", 1, name)
        seen.add(name.lower())
        names.append(name)
    return names


def write(ds: Dataset, dst: Path, options: WriteOptions) -> None:
    """``ds`` under ``dst`` as COCO, one JSON (and image folder) per split."""
    category_ids = _category_ids(ds)
    categories = _category_entries(ds, category_ids)
    _lose_unwritable(ds, options)
    lose_other_splits(ds, options)
    source_root = SourceRoot(ds.image_dir)
    for split in ds.splits:
        _write_split(ds, dst, split, categories, category_ids, options, source_root)


def _category_entries(ds: Dataset, category_ids: np.ndarray) -> list[dict]:
    categories = []
    for i, name in enumerate(ds.categories.names):
        entry = {"id": int(category_ids[i]), "name": name}
        entry.update(ds.categories.extra[i] if i < len(ds.categories.extra) else {})
        categories.append(entry)
    return categories


def _lose_unwritable(ds: Dataset, options: WriteOptions) -> None:
    """Record what COCO cannot say: annotations without a class or pixel box, the VOC flags."""
    ann = ds.annotations
    non_finite = _non_finite(ann)
    unknown = ~non_finite & (ann.category < 0)
    options.lose(NON_FINITE_BOX, int(non_finite.sum()))
    options.lose(UNKNOWN_CLASS, int(unknown.sum()))
    options.lose("normalised boxes on an image of unknown size dropped (cannot be made pixels)",
                 int((ann.normalized & ~non_finite & ~unknown).sum()))
    for field_name in _FLAGS:
        options.lose(f"VOC '{field_name}' flag (COCO has no field for it; kept in 'attributes')",
                     int((getattr(ann, field_name) > 0).sum()))


def _non_finite(ann: Annotations) -> np.ndarray:
    """Rows with a box that has a NaN/inf coordinate: JSON would hold ``null`` there."""
    return ann.has_box & (ann.kind != Annotations.KIND_NONE) & ~np.isfinite(ann.boxes).all(axis=1)


def _write_split(ds: Dataset, dst: Path, split: str, categories: list[dict], category_ids: np.ndarray,
                 options: WriteOptions, source_root: SourceRoot) -> None:
    ann = ds.annotations
    json_rel, image_dir = _split_layout(split)
    image_rows = np.flatnonzero(ds.images.split == split)
    image_entries, new_id, placed = _image_entries(ds, image_rows, dst / image_dir, options, source_root)
    options.lose_unplaced(placed, "image files missing (entries written, files not copied)", split)
    rows = np.flatnonzero(np.isin(ann.image, image_rows) & (ann.category >= 0) & ~ann.normalized & ~_non_finite(ann))
    xywh = _xywh(ds, rows)
    keep_ann_ids = ds.format == NAME and len(np.unique(ann.id[rows])) == len(rows) and (ann.id[rows] > 0).all()
    entries = _annotation_entries(ds, rows, xywh, category_ids, new_id, keep_ann_ids, options)
    document = dict(_other_keys(ds, split))
    document.update({"images": image_entries, "annotations": entries, "categories": categories})
    atomic_write_bytes(dst / json_rel, orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY))


def _image_entries(ds: Dataset, image_rows: np.ndarray, image_dir: Path, options: WriteOptions,
                   source_root: SourceRoot) -> tuple[list[dict], dict[int, int], list[Placement]]:
    """The split's image objects, its images placed in ``image_dir``: (entries, image id per
    row, what became of each image file)."""
    images = ds.images
    names = _image_names(ds, image_rows, options)
    new_id = {int(row): k + 1 for k, row in enumerate(image_rows)}
    keep_ids = ds.format == NAME and len(np.unique(images.id[image_rows])) == len(image_rows)
    image_entries = []
    sources: list[tuple[str, str]] = []
    dropped: list[str] = []
    image_root, folder = os.fspath(ds.image_dir), os.fspath(image_dir)
    for row, name in zip(image_rows, names):
        image_id = int(images.id[row]) if keep_ids else new_id[int(row)]
        new_id[int(row)] = image_id
        entry = {"id": image_id, "file_name": name, "width": int(images.width[row]),
                 "height": int(images.height[row])}
        if ds.format == NAME and images.extra[row]:
            entry.update(images.extra[row])
        elif images.extra[row]:
            attributes = _kept_attributes(images.extra[row], _INTERNAL_IMAGE_KEYS, dropped)
            if attributes:
                entry["attributes"] = attributes
        image_entries.append(entry)
        sources.append((os.path.join(image_root, str(images.path[row])) if images.path[row] else "",
                        f"{folder}/{name}"))
    placed = _place_images(sources, source_root, options.link_images) if options.place_images else []
    options.lose("image extra fields COCO 'attributes' cannot hold (not written)", len(dropped),
                 ", ".join(sorted(set(dropped))[:5]))
    return image_entries, new_id, placed


def _place_images(sources: list[tuple[str, str]], root: SourceRoot, link: bool) -> list[Placement]:
    """Place each (source, target) image ("" source: missing), on threads only where storage
    is slow (:func:`batch_map`)."""

    def place(batch: list[tuple[str, str]]) -> list[Placement]:
        return [place_image(source, target, root, link) if source else Placement.MISSING for source, target in batch]

    return batch_map(place, sources, workers=8, desc="images", progress=False)


def _kept_attributes(extra: dict, internal: frozenset[str], dropped: list[str]) -> dict:
    """The fields of another format's ``extra`` that JSON ``attributes`` hold as they are
    (scalars, lists of texts such as VOC's unknown elements), so that format's writer gets them
    back; the others' keys go to ``dropped`` (empty values are no loss)."""
    kept = {}
    for key, value in extra.items():
        if key in internal:
            continue
        if isinstance(value, (str, int, float, bool)) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            kept[key] = value
        elif value not in (None, [], {}):
            dropped.append(str(key))
    return kept


def _other_keys(ds: Dataset, split: str) -> dict:
    """The top-level keys besides the three sections (``info``, ``licenses``...) of the source
    file of ``split``; a minimal ``info`` for a dataset from another format."""
    for meta in ds.meta.get(NAME, {}).values():
        if meta.get("split") == split:
            return dict(meta.get("other", {}))
    return {"info": {"description": "written by detlint"}, "licenses": []}


def _annotation_entries(ds: Dataset, rows: np.ndarray, xywh: np.ndarray, category_ids: np.ndarray,
                        image_ids: dict[int, int], keep_ids: bool, options: WriteOptions) -> list[dict]:
    """The COCO annotation objects of ``rows``, built column by column: plain Python values
    from ``tolist()`` once per column, per-row work only for the rows that need it."""
    ann = ds.annotations
    n = len(rows)
    if not n:
        return []
    ids = ann.id[rows].tolist() if keep_ids else list(range(1, n + 1))
    linked = _linked_image_ids(ann.image[rows], image_ids)
    classes = category_ids[ann.category[rows]].tolist()
    has_box = ann.has_box[rows].tolist()
    boxes = _numbers(xywh).tolist()
    areas = _areas(ann.area[rows], xywh, ann.has_box[rows])
    crowd = np.where(ann.iscrowd[rows] >= 0, ann.iscrowd[rows], 0).tolist()
    segmentations = ann.segmentation[rows].tolist()
    entries = []
    for k in range(n):
        entry: dict[str, Any] = {"id": ids[k], "image_id": linked[k], "category_id": classes[k]}
        if has_box[k]:
            entry["bbox"] = boxes[k]
        if areas[k] is not None:
            entry["area"] = areas[k]
        entry["iscrowd"] = crowd[k]
        entry["segmentation"] = segmentations[k] if segmentations[k] is not None else []
        entries.append(entry)
    _polygons_in_pixels(ds, rows, entries, options)
    dropped: list[str] = []
    _attributes(ds, rows, entries, dropped)
    options.lose("annotation extra fields COCO 'attributes' cannot hold (not written)", len(dropped),
                 ", ".join(sorted(set(dropped))[:5]))
    return entries


def _linked_image_ids(image_rows: np.ndarray, image_ids: dict[int, int]) -> list[int]:
    """The written image id of each annotation's image row."""
    known = np.array(sorted(image_ids), np.int64)
    new_ids = np.array([image_ids[int(r)] for r in known], np.int64)
    return new_ids[np.searchsorted(known, image_rows)].tolist()


def _areas(area: np.ndarray, xywh: np.ndarray, has_box: np.ndarray) -> list[float | int | None]:
    """The area to write: the stated one, else the box's, else None (no area key)."""
    finite_box = np.isfinite(xywh).all(axis=1) & has_box
    finite_area = np.isfinite(area)
    computed = ~finite_area & finite_box
    values = np.where(finite_area, area, np.nan)
    # Python's round (exact on ties, as np.round is not) of the box areas only
    values[computed] = [round(w * h, 6) for w, h in xywh[computed, 2:4].tolist()]
    out = _numbers(values)
    out[~finite_area & ~finite_box] = None
    return out.tolist()


def _polygons_in_pixels(ds: Dataset, rows: np.ndarray, entries: list[dict], options: WriteOptions) -> None:
    """YOLO polygon rows (normalised) as COCO pixel polygons, in one pass over all their numbers;
    their area the polygon's where the source stated none (COCO's area is the mask's, not the
    box's: B009); a crowd one as the RLE COCO's crowds are (pycocotools)."""
    from detlint.geometry import masks
    from detlint.geometry.segments import rings_in_pixels

    ann = ds.annotations
    picked = [k for k in np.flatnonzero(ann.kind[rows] == Annotations.KIND_POLYGON).tolist()
              if _pixel_ring(ds, int(rows[k]))]
    if not picked:
        return
    at = rows[picked]
    width, height = ds.images.width[ann.image[at]], ds.images.height[ann.image[at]]
    values = ann.segmentation[at].tolist()
    if not set(map(type, chain.from_iterable(values))) <= {int, float}:  # a reader kept a non-number
        keep = [all(type(v) in (int, float) for v in value) for value in values]
        picked = [k for k, ok in zip(picked, keep) if ok]
        return _polygons_in_pixels(ds, rows[picked], [entries[k] for k in picked], options) if picked else None
    rings, areas = rings_in_pixels(values, width, height)
    stated = np.isfinite(ann.area[at]).tolist()
    crowd = (ann.iscrowd[at] == 1).tolist()
    for j, (k, points) in enumerate(zip(picked, rings)):
        entries[k]["segmentation"] = [points]
        if not stated[j]:
            entries[k]["area"] = round(float(areas[j]), 3)
        if crowd[j]:
            h, w = int(height[j]), int(width[j])
            rle = masks.to_rle([points], h, w)
            entries[k]["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            entries[k]["area"] = masks.area(rle, h, w)
    options.lose("crowd polygon rasterised to an RLE mask (COCO crowds are RLE)", sum(crowd))


def _pixel_ring(ds: Dataset, row: int) -> bool:
    """A YOLO ring that can become pixels: 3+ points, on an image of known size."""
    ann = ds.annotations
    value = ann.segmentation[row]
    image = int(ann.image[row])
    return (isinstance(value, list) and len(value) >= 6 and not len(value) % 2 and not ann.normalized[row]
            and ds.images.width[image] > 0 and ds.images.height[image] > 0)


def _attributes(ds: Dataset, rows: np.ndarray, entries: list[dict], dropped: list[str]) -> None:
    """Unknown keys (kept as they were from COCO, as ``attributes`` from other formats) and
    the VOC flags, for the rows that have any."""
    ann = ds.annotations
    extras = ann.extra[rows]
    flags = np.stack([getattr(ann, name)[rows] for name in _FLAGS], axis=1)
    has_extra = np.fromiter(map(bool, extras), bool, len(rows))
    for k in np.flatnonzero(has_extra | (flags >= 0).any(axis=1)).tolist():
        entry, extra = entries[k], extras[k]
        if extra:
            if ds.format == NAME:
                entry.update(extra)
            else:
                entry["attributes"] = _kept_attributes(extra, _INTERNAL_ANNOTATION_KEYS, dropped)
        present = {name: int(flags[k, j]) for j, name in enumerate(_FLAGS) if flags[k, j] >= 0}
        if present:
            entry.setdefault("attributes", {}).update(present)

