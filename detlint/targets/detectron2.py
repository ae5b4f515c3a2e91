"""detectron2: what ``load_coco_json`` (``register_coco_instances``), ``get_detection_dataset_dicts``
and the training ``DatasetMapper`` do with a COCO dataset.

Read at facebookresearch/detectron2 (main; the commit of each file as read):
``detectron2/data/datasets/coco.py`` 910b796 (``load_coco_json``), ``detectron2/data/
detection_utils.py`` c0ccab0 (``check_image_size``, ``transform_instance_annotations``,
``filter_empty_instances``), ``detectron2/data/build.py`` 3ff5dd1
(``filter_images_with_only_crowd_annotations``, ``get_detection_dataset_dicts``) and
``detectron2/data/dataset_mapper.py`` 17072df (``DatasetMapper.__call__``).
"""

from __future__ import annotations

import numpy as np

from detlint.model import Dataset
from detlint.rules import r030_detectron2_size_mismatch as r030
from detlint.targets._common import box_rows, boxes_lost, crowd, real_images, repeated_id, sized, unknown_category
from detlint.targets.base import Outcome, Raised, TargetContext

NAME = "detectron2"
TITLE = "detectron2"
SOURCE = ("facebookresearch/detectron2 main: detectron2/data/datasets/coco.py@910b796 load_coco_json; "
          "detectron2/data/detection_utils.py@c0ccab0 check_image_size, transform_instance_annotations, "
          "filter_empty_instances; detectron2/data/build.py@3ff5dd1 filter_images_with_only_crowd_annotations; "
          "detectron2/data/dataset_mapper.py@17072df DatasetMapper.__call__")
EMPTY = 1e-5  # filter_empty_instances(box_threshold=1e-5): Boxes.nonempty


def assess(ds: Dataset, ctx: TargetContext) -> Outcome:
    out = Outcome(NAME)
    _repeated_ids(ds, out)
    _invalid_polygons(ds, out)  # before the remap, whose rewrite covers every box
    _remapped_ids(ds, out)
    _unknown_category(ds, out)
    _size_mismatch(ds, ctx, out)
    _crowd_only_images(ds, out)
    _clipped_boxes(ds, out)
    return out


def _repeated_ids(ds: Dataset, out: Outcome) -> None:
    """``load_coco_json``: ``assert len(set(ann_ids)) == len(ann_ids), "Annotation ids in '...' are
    not unique!"`` (skipped only for a JSON whose path contains "minival")."""
    row = repeated_id(ds)
    file = ds.file_of(int(ds.annotations.src_file[row])) if row is not None else None
    if row is not None and "minival" not in str(file):
        out.raises.append(Raised(f"AssertionError: Annotation ids in '{file}' are not unique!",
                                 image_row=int(ds.annotations.image[row]), annotation_row=row))


def _remapped_ids(ds: Dataset, out: Outcome) -> None:
    """``load_coco_json``: "Category ids in annotations are not in [1, #categories]! We'll apply a
    mapping for you." when ``not (min(cat_ids) == 1 and max(cat_ids) == len(cat_ids))``."""
    ids = np.sort(ds.categories.ids)
    if len(ids) and not (ids[0] == 1 and ids[-1] == len(ids)):
        ann = ds.annotations
        rows = np.flatnonzero(box_rows(ds) & (ann.category >= 0))
        new = np.searchsorted(ids, ds.categories.ids[ann.category[rows]])
        out.rewrite_boxes(rows, [f"category_id {int(c)} becomes {int(n)} (ids not 1..{len(ids)})"
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
    """``DatasetMapper.__call__`` -> ``check_image_size``: ``SizeMismatchError`` when the decoded
    image (EXIF applied) is not the annotated width/height. Known from the image headers only: R030
    (or I003) says where; with ``--images none`` R031 says it was not checked."""
    for finding in ctx.findings:
        row = finding.data.get("image_row")
        if finding.code == r030.CODE and isinstance(row, int):
            out.raises.append(Raised(finding.data["raises"], image_row=row))
        elif finding.code == "I003" and isinstance(row, int) and not any(f.code == r030.CODE for f in ctx.findings):
            got = (int(finding.data["width"]), int(finding.data["height"]))
            expect = (int(ds.images.width[row]), int(ds.images.height[row]))
            out.raises.append(Raised(r030.message(str(finding.image), got, expect), image_row=row))


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
            out.drop_boxes([row], "load_coco_json drops the annotation: no valid polygon (>= 6 values, even count)")
        elif len(valid) < len(segm):
            out.rewrite_boxes([row], f"load_coco_json removes {len(segm) - len(valid)} invalid polygon(s)")


def _crowd_only_images(ds: Dataset, out: Outcome) -> None:
    """``filter_images_with_only_crowd_annotations`` (``DATALOADER.FILTER_EMPTY_ANNOTATIONS``, on by
    default): an image with no ``iscrowd == 0`` annotation left after ``load_coco_json`` (none at
    all, or only crowd ones or ones without a valid polygon) is dropped; ``DatasetMapper`` keeps
    only ``iscrowd == 0`` annotations for training."""
    ann = ds.annotations
    kept = (ann.image >= 0) & ~crowd(ds)
    kept[np.fromiter(out.dropped_boxes, np.int64, len(out.dropped_boxes))] = False  # no valid polygon
    plain = np.zeros(len(ds.images), bool)
    plain[ann.image[kept]] = True
    rows = [r for r in real_images(ds).tolist() if not plain[r]]
    lost = boxes_lost(ds, rows)
    out.drop_images(rows, ["no non-crowd annotation (filter_images_with_only_crowd_annotations)"
                           if lost[r] else "no annotations (filter_images_with_only_crowd_annotations)" for r in rows])
    out.drop_boxes(np.flatnonzero(box_rows(ds) & crowd(ds)), "DatasetMapper leaves crowd annotations out of training")


def _clipped_boxes(ds: Dataset, out: Outcome) -> None:
    """``transform_instance_annotations``: the box is clipped to the image (``clip(min=0)``, then
    ``np.minimum`` with its size); ``filter_empty_instances`` then drops boxes whose clipped width or
    height is not above 1e-5."""
    ann = ds.annotations
    rows = box_rows(ds) & ~crowd(ds) & sized(ds)
    img = np.maximum(ann.image, 0)
    size = np.column_stack([ds.images.width[img], ds.images.height[img]] * 2).astype(float)
    clipped = np.clip(ann.boxes, 0, size)
    with np.errstate(invalid="ignore"):
        empty = rows & ~((clipped[:, 2] - clipped[:, 0] > EMPTY) & (clipped[:, 3] - clipped[:, 1] > EMPTY))
        changed = rows & ~empty & np.any(clipped != ann.boxes, axis=1)
    out.drop_boxes(np.flatnonzero(empty), "filter_empty_instances: empty after clipping to the image")
    out.rewrite_boxes(np.flatnonzero(changed), "clipped to the image (transform_instance_annotations)")
