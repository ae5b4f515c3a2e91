"""detectron2: what ``load_coco_json``, the ``DatasetMapper`` and ``build_detection_train_loader``
do with a COCO dataset (facebookresearch/detectron2 main, v0.6 line)."""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset
from detlint.targets._common import (
    box_rows,
    boxes_lost,
    crowd,
    images_with_problems,
    real_images,
    sized,
    unknown_category,
)
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "detectron2"
TITLE = "detectron2"
SOURCE = ("detectron2 v0.6 (main): detectron2/data/datasets/coco.py load_coco_json; detectron2/data/"
          "detection_utils.py check_image_size, annotations_to_instances, filter_empty_instances; "
          "detectron2/data/build.py filter_images_with_only_crowd_annotations")
EMPTY = 1e-5  # Boxes.nonempty(threshold=1e-5) in filter_empty_instances


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    _invalid_polygons(ds, out)  # before the remap, whose rewrite covers every box
    _remapped_ids(ds, out)
    _unknown_category(ds, out)
    _size_mismatch(ds, ctx, out)
    _crowd_only_images(ds, out)
    _clipped_boxes(ds, out)
    return out


def _remapped_ids(ds: Dataset, out: Outcome) -> None:
    """``load_coco_json``: "Category ids in annotations are not in [1, #categories]! We'll apply a
    mapping for you." when ``not (min(cat_ids) == 1 and max(cat_ids) == len(cat_ids))``."""
    ids = np.sort(ds.categories.ids)
    if len(ids) and not (ids[0] == 1 and ids[-1] == len(ids)):
        ann = ds.annotations
        rows = np.flatnonzero(box_rows(ds) & (ann.category >= 0))
        new = np.searchsorted(ids, ds.categories.ids[ann.category[rows]])
        out.rewrite_boxes(rows, [f"detectron2 remaps category_id {int(c)} to {int(n)} (ids not 1..{len(ids)})"
                                 for c, n in zip(ann.class_id[rows], new)])


def _unknown_category(ds: Dataset, out: Outcome) -> None:
    """``load_coco_json``: ``id_map[annotation_category_id]`` raises "Encountered category_id=N but
    this id does not exist in 'categories' of the json file." (KeyError)."""
    rows = np.flatnonzero(unknown_category(ds))
    for row in rows[:1].tolist():
        out.raises.append(Raised(f"KeyError: Encountered category_id={int(ds.annotations.class_id[row])} but this "
                                 "id does not exist in 'categories' of the json file.",
                                 image_row=int(ds.annotations.image[row]), annotation_row=row))


def _size_mismatch(ds: Dataset, ctx: TargetContext, out: Outcome) -> None:
    """``check_image_size``: ``SizeMismatchError("Mismatched image shape ...")`` when the decoded
    size differs from the annotated width/height (known from ``--images header`` only: I003)."""
    for row, why in images_with_problems(ds, ctx.findings, {"I003"}).items():
        out.raises.append(Raised(f"SizeMismatchError: Mismatched image shape: {why}", image_row=row))


def _invalid_polygons(ds: Dataset, out: Outcome) -> None:
    """``load_coco_json``: ``[poly for poly in segm if len(poly) % 2 == 0 and len(poly) >= 6]``;
    an annotation left with none is dropped ("Filtered out N instances without valid segmentation")."""
    ann = ds.annotations
    for row in np.flatnonzero(box_rows(ds)).tolist():
        segm = ann.segmentation[row]
        if not isinstance(segm, list) or not segm:
            continue
        valid = [p for p in segm if isinstance(p, list) and len(p) % 2 == 0 and len(p) >= 6]
        if not valid:
            out.drop_boxes([row], "detectron2 drops the annotation: no valid polygon (>= 6 values, even count)")
        elif len(valid) < len(segm):
            out.rewrite_boxes([row], f"detectron2 removes {len(segm) - len(valid)} invalid polygon(s)")


def _crowd_only_images(ds: Dataset, out: Outcome) -> None:
    """``filter_images_with_only_crowd_annotations``: an image with no ``iscrowd == 0`` annotation
    (none at all included) is dropped; the mapper drops crowd annotations from training."""
    ann = ds.annotations
    plain = np.zeros(len(ds.images), bool)
    plain[ann.image[(ann.image >= 0) & ~crowd(ds)]] = True
    rows = [r for r in real_images(ds).tolist() if not plain[r]]
    lost = boxes_lost(ds, rows)
    out.drop_images(rows, ["only crowd annotations (filter_images_with_only_crowd_annotations)"
                           if lost[r] else "no annotations (filter_empty_annotations)" for r in rows])
    out.drop_boxes(np.flatnonzero(box_rows(ds) & crowd(ds)), "detectron2 leaves crowd annotations out of training")


def _clipped_boxes(ds: Dataset, out: Outcome) -> None:
    """``annotations_to_instances``: ``boxes.clip(image_size)``; ``filter_empty_instances`` then
    drops boxes whose clipped width or height is not above 1e-5."""
    ann = ds.annotations
    rows = box_rows(ds) & ~crowd(ds) & sized(ds)
    img = np.maximum(ann.image, 0)
    size = np.column_stack([ds.images.width[img], ds.images.height[img]] * 2).astype(float)
    clipped = np.clip(ann.boxes, 0, size)
    with np.errstate(invalid="ignore"):
        empty = rows & ~((clipped[:, 2] - clipped[:, 0] > EMPTY) & (clipped[:, 3] - clipped[:, 1] > EMPTY))
        changed = rows & ~empty & np.any(clipped != ann.boxes, axis=1)
    out.drop_boxes(np.flatnonzero(empty), "detectron2 drops the box: empty after clipping to the image")
    out.rewrite_boxes(np.flatnonzero(changed), "detectron2 clips the box to the image")
