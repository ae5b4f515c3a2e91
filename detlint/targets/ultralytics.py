"""Ultralytics YOLO: what ``YOLODataset`` does with each image and label row before it trains.

Every rule below restates one check of ``ultralytics/data/utils.py`` ``verify_image_label`` (and
``check_image``, ``img2label_paths``, ``check_det_dataset``), ultralytics 8.4.190. One failed check
makes ``verify_image_label`` return the image as corrupt: the whole image and all its labels are
dropped. A COCO or VOC dataset is judged as ``detlint convert --to yolo`` would write it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from detlint.boundary import Boundary
from detlint.model import Annotations, Dataset
from detlint.rules import r010_ultralytics_labels_not_found as r010
from detlint.rules import r011_ultralytics_image_too_small as r011
from detlint.targets._common import (
    first_per_image,
    geometry_rows,
    images_with_problems,
    label_rows,
    real_images,
    where,
    yolo_values,
)
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "ultralytics"
TITLE = "Ultralytics YOLO"
SOURCE = ("ultralytics 8.4.190: ultralytics/data/utils.py verify_image_label, check_image, img2label_paths, "
          "check_det_dataset; ultralytics/data/dataset.py YOLODataset.cache_labels, get_labels")
TOLERANCE = np.float32(1.01)  # verify_image_label: assert points.max() <= 1.01
NEGATIVE = np.float32(-0.01)  # ... lb_min >= -0.01 and lb[:, 3:5].min() >= 0


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    converted = "" if label_rows(ds) else " (as `detlint convert --to yolo` writes it)"
    bad: dict[int, str] = {}
    for rule in (_unreadable, _too_small, _bad_lines, _mixed_kinds):
        for row, why in rule(ds, ctx).items():
            bad.setdefault(row, why)
    for row, why in _bad_values(ds).items():
        bad.setdefault(row, why + converted)
    listed = set(real_images(ds).tolist())
    bad = {row: why for row, why in bad.items() if row in listed}
    out.drop_images(bad, list(bad.values()))  # the framework says "drops the whole image (N boxes lost)"
    if label_rows(ds):
        _labels_elsewhere(ds, out)
    keep = ~np.isin(ds.annotations.image, list(out.dropped_images))
    dup_rows, first = _duplicates(ds, keep)
    out.drop_boxes(dup_rows, [f"duplicate of {where(ds, f)}: ultralytics removes repeated rows{converted}"
                              for f in first])
    _corrupt_jpegs(ds, ctx, out)
    out.raises.extend(_raises(ds, out, listed))
    return out


def _unreadable(ds: Dataset, ctx: TargetContext) -> dict[int, str]:
    """``check_image``: ``Image.open(im_file).verify()`` raises on a file PIL cannot read."""
    return images_with_problems(ds, ctx.findings, {"I002"})


def _too_small(ds: Dataset, ctx: TargetContext) -> dict[int, str]:
    """``check_image``: ``assert (shape[0] > 9) & (shape[1] > 9)`` on the EXIF-rotated size."""
    return {int(r): f"image size {ds.images.width[r]}x{ds.images.height[r]} < 10 pixels" for r in r011.too_small(ds)}


def _bad_lines(ds: Dataset, ctx: TargetContext) -> dict[int, str]:
    """``verify_image_label``: a row that is not 5 numbers or a polygon makes ``np.array(lb,
    dtype=np.float32)`` or ``assert lb.shape[1] == 5`` fail; an undecodable file fails ``open``."""
    if not label_rows(ds):
        return {}
    return images_with_problems(ds, (), {"F006", "F001"})


def _mixed_kinds(ds: Dataset, ctx: TargetContext) -> dict[int, str]:
    """``verify_image_label``: ``assert not any(len(x) == 5 ...)``, "labels mix segment and
    detection rows", when one file holds a polygon row (> 6 values) beside a box row."""
    ann = ds.annotations
    linked = geometry_rows(ds)
    poly = np.zeros(len(ds.images), bool)
    box = np.zeros(len(ds.images), bool)
    poly[ann.image[linked & (ann.kind == Annotations.KIND_POLYGON)]] = True
    box[ann.image[linked & (ann.kind == Annotations.KIND_BOX)]] = True
    return {int(r): "labels mix segment and detection rows" for r in np.flatnonzero(poly & box)}


def _bad_values(ds: Dataset) -> dict[int, str]:
    """``verify_image_label`` on the float32 rows ``cls cx cy w h`` (a polygon row: its box):
    ``points.max() <= 1.01``; ``lb.min() >= 0 or (lb.min() >= -0.01 and w, h >= 0)`` over the
    whole file; integer classes ``< nc``. NaN fails every comparison, so it drops the image too."""
    ann = ds.annotations
    rows = geometry_rows(ds)
    values = yolo_values(ds)
    cls = ann.category.astype(np.float32) if not label_rows(ds) else ann.class_id.astype(np.float32)
    with np.errstate(invalid="ignore"):
        over = rows & ~(values.max(axis=1) <= TOLERANCE)
        low = np.minimum(values.min(axis=1), cls)
        neg_any = rows & ~(low >= 0)
        neg_far = rows & ~(low >= NEGATIVE)
        neg_wh = rows & ~(values[:, 2:].min(axis=1) >= 0)
        out_of_nc = rows & ~(cls < len(ds.categories)) | rows & (ann.category < 0)
    image = ann.image
    found: dict[int, str] = {}
    for mask, why in ((over, "non-normalized or out of bounds coordinates (> 1.01)"),
                      (out_of_nc, f"label class exceeds dataset class count {len(ds.categories)}")):
        for img, row in first_per_image(image, mask).items():
            found.setdefault(img, f"{why} ({where(ds, row)})")
    tolerated = np.zeros(len(ds.images), bool)
    tolerated[image[rows]] = True
    tolerated[image[neg_far | neg_wh]] = False
    for img, row in first_per_image(image, neg_any).items():
        if not tolerated[img]:
            found.setdefault(img, f"negative label values ({where(ds, row)})")
    return found


def _duplicates(ds: Dataset, keep: np.ndarray) -> tuple[list[int], list[int]]:
    """``verify_image_label``: ``np.unique(lb, axis=0)`` removes rows identical in float32
    ``cls cx cy w h`` (polygon rows: identical class and points). Returns (removed, first copy)."""
    ann = ds.annotations
    rows = np.flatnonzero(geometry_rows(ds) & keep)
    values = yolo_values(ds)
    cls = ann.class_id if label_rows(ds) else ann.category
    keys: dict[tuple, int] = {}
    removed, first = [], []
    for row in rows.tolist():
        shape = ann.segmentation[row] if ann.kind[row] == Annotations.KIND_POLYGON else None
        geometry = (np.asarray(shape, np.float32).tobytes() if shape is not None else values[row].tobytes())
        key = (int(ann.image[row]), np.float32(cls[row]).tobytes(), shape is not None, geometry)
        if key in keys:
            removed.append(row)
            first.append(keys[key])
        else:
            keys[key] = row
    return removed, first


def _labels_elsewhere(ds: Dataset, out: Outcome) -> None:
    """``img2label_paths``: labels are read only at ``/images/`` -> ``/labels/``, ``.txt``; an image
    whose labels lie elsewhere trains as a background (its boxes are lost, the image is kept)."""
    ann = ds.annotations
    for row, label, looks in r010.misplaced(ds):
        if row in out.dropped_images:
            continue
        lost = np.flatnonzero(ann.image == row)
        out.drop_boxes(lost, f"ultralytics reads {looks}, not {label}: the image trains as a background")


def _corrupt_jpegs(ds: Dataset, ctx: TargetContext, out: Outcome) -> None:
    """``check_image``: a JPEG whose last two bytes are not ``FF D9`` is re-saved in place
    (``_exif_jpeg(im_file).save(..., quality=100)``): the file on disk changes. Re-saving decodes
    it first; when PIL cannot ("image file is truncated") the image is dropped. Only those few
    files are decoded here, with the same library."""
    if ctx.images_level == "none":
        return
    boundary = Boundary(ds.image_dir)
    for row in real_images(ds).tolist():
        if row in out.dropped_images:
            continue
        data = boundary.read(str(ds.image_dir / str(ds.images.path[row])))
        if not isinstance(data, bytes) or not data.startswith(b"\xff\xd8\xff") or data.endswith(b"\xff\xd9"):
            continue
        problem = _decode_problem(data)
        if problem is None:
            out.rewrite_images([row], "re-saved in place by ultralytics (the JPEG does not end with FF D9)")
        else:
            out.drop_images([row], f"re-saving the corrupt JPEG fails: {problem}")


def _decode_problem(data: bytes) -> str | None:
    """Why PIL cannot fully decode ``data``, or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            ImageOps.exif_transpose(image).load()
    except (OSError, ValueError, SyntaxError) as exc:
        return str(exc)
    return None


def _raises(ds: Dataset, out: Outcome, listed: set[int]) -> list[Raised]:
    """``check_det_dataset``: "'train' and 'val' are required in all data YAMLs" (SyntaxError);
    ``YOLODataset.get_labels``: "No valid images found" when every image is dropped."""
    raised = []
    data = ds.meta.get("yaml")
    if label_rows(ds) and isinstance(data, dict):
        for key in ("train", "val"):
            if key not in data and not (key == "val" and "validation" in data):
                raised.append(Raised(f"'{key}:' key missing. 'train' and 'val' are required in all data YAMLs."))
    if listed and listed <= set(out.dropped_images):
        raised.append(Raised("No valid images found: every image is dropped as corrupt."))
    return raised
