"""The rule catalog: one module per rule, registered in one table.

A rule module has ``CODE``, ``NAME`` (kebab-case, naming the problem), ``SEVERITY``
(error/warning/info), ``FIX`` (safe/unsafe/None), ``OPTIONS`` (defaults, kebab-case keys),
optionally ``IMAGES`` (the lowest ``--images`` level it needs) and ``SCOPE = "image"`` (what it
says of an image depends only on that image's entry, its annotations, the class list and the
options, so a re-check of a few files runs it on their images alone), a module docstring that is its
user documentation (``detlint rule CODE``), and ``check(ds, ctx) -> Iterable[Finding]``.
"""

from __future__ import annotations

from types import ModuleType

from detlint.rules import (
    b001_degenerate_box,
    b002_box_out_of_image,
    b003_box_outside_image,
    b004_non_finite_box,
    b005_tiny_box,
    b006_duplicate_box,
    b007_extreme_aspect_ratio,
    b008_box_size_outlier,
    b009_area_mismatch,
    b010_self_intersecting_polygon,
    b011_polygon_out_of_image,
    b012_obb_out_of_image,
    b013_degenerate_obb,
    b014_obb_corner_order,
    c001_unknown_class,
    c002_unused_class,
    c003_duplicate_class_name,
    c004_class_name_variant,
    c005_class_map_mismatch,
    c006_yolo_names_mismatch,
    c007_class_imbalance,
    d001_image_added,
    d002_image_removed,
    d003_image_renamed,
    d004_image_split_changed,
    d005_box_added,
    d006_box_removed,
    d007_box_moved,
    d008_box_relabelled,
    d009_class_map_changed,
    d010_attribute_changed,
    f001_unparseable_file,
    f002_schema_violation,
    f003_duplicate_id,
    f004_dangling_reference,
    f005_zero_id,
    f006_malformed_label_line,
    f007_unnormalized_coordinates,
    f008_unsafe_path,
    f009_duplicate_file_name,
    f010_voc_convention_mismatch,
    f011_missing_image_size,
    f012_crowd_inconsistent,
    f013_mixed_label_kinds,
    f014_case_mismatched_name,
    f015_percent_out_of_range,
    f016_too_few_points,
    f017_original_size_mismatch,
    f018_rotation_not_exported,
    f020_annotation_chosen,
    i001_missing_image,
    i002_unreadable_image,
    i003_image_size_mismatch,
    i004_exif_rotation,
    i005_unannotated_image,
    i006_orphan_label,
    i007_duplicate_image,
    i008_unusual_image_mode,
    i009_tiny_image,
    i010_near_duplicate_image,
    l001_overlooked_object,
    l002_badly_located_box,
    l003_swapped_class,
    p001_malformed_prediction,
    p002_unknown_prediction_image,
    p003_unknown_prediction_class,
    p004_invalid_score,
    p005_score_out_of_range,
    p006_prediction_out_of_image,
    p007_degenerate_prediction,
    p008_box_convention_mismatch,
    p009_too_many_detections,
    p010_duplicate_detection,
    p011_image_without_predictions,
    p012_results_file_is_dataset,
    p013_evaluation_readiness,
    r001_box_past_edge_removed,
    r010_ultralytics_labels_not_found,
    r011_ultralytics_image_too_small,
    r020_mmdet_image_below_min_size,
    r030_detectron2_size_mismatch,
    r031_detectron2_sizes_not_checked,
    s001_split_leakage,
    s002_split_near_duplicate,
)

_MODULES: tuple[ModuleType, ...] = (
    f001_unparseable_file, f002_schema_violation, f003_duplicate_id, f004_dangling_reference,
    f005_zero_id, f006_malformed_label_line, f007_unnormalized_coordinates, f008_unsafe_path,
    f009_duplicate_file_name, f010_voc_convention_mismatch, f011_missing_image_size,
    f012_crowd_inconsistent, f013_mixed_label_kinds, f014_case_mismatched_name,
    f015_percent_out_of_range, f016_too_few_points, f017_original_size_mismatch, f018_rotation_not_exported,
    f020_annotation_chosen,
    b001_degenerate_box, b002_box_out_of_image, b003_box_outside_image, b004_non_finite_box,
    b005_tiny_box, b006_duplicate_box, b007_extreme_aspect_ratio, b008_box_size_outlier,
    b009_area_mismatch, b010_self_intersecting_polygon, b011_polygon_out_of_image,
    b012_obb_out_of_image, b013_degenerate_obb, b014_obb_corner_order,
    c001_unknown_class, c002_unused_class, c003_duplicate_class_name, c004_class_name_variant,
    c005_class_map_mismatch, c006_yolo_names_mismatch, c007_class_imbalance,
    i001_missing_image, i002_unreadable_image, i003_image_size_mismatch, i004_exif_rotation,
    i005_unannotated_image, i006_orphan_label, i007_duplicate_image, i008_unusual_image_mode,
    i009_tiny_image, i010_near_duplicate_image,
    s001_split_leakage, s002_split_near_duplicate,
    r001_box_past_edge_removed,  # TARGET: runs with --target torchvision only
    # TARGET: each runs with its --target only (ultralytics, mmdet, detectron2)
    r010_ultralytics_labels_not_found, r011_ultralytics_image_too_small, r020_mmdet_image_below_min_size,
    r030_detectron2_size_mismatch, r031_detectron2_sizes_not_checked,
    # NEEDS = "predictions": each runs with check --predictions only
    p001_malformed_prediction, p002_unknown_prediction_image, p003_unknown_prediction_class, p004_invalid_score,
    p005_score_out_of_range, p006_prediction_out_of_image, p007_degenerate_prediction,
    p008_box_convention_mismatch, p009_too_many_detections, p010_duplicate_detection,
    p011_image_without_predictions, p012_results_file_is_dataset, p013_evaluation_readiness,
    # NEEDS: each runs with --predictions and --label-issues K only
    l001_overlooked_object, l002_badly_located_box, l003_swapped_class,
    # NEEDS = "diff": built by detlint diff from two versions, never run by check
    d001_image_added, d002_image_removed, d003_image_renamed, d004_image_split_changed, d005_box_added,
    d006_box_removed, d007_box_moved, d008_box_relabelled, d009_class_map_changed, d010_attribute_changed,
)

RULES: dict[str, ModuleType] = {module.CODE: module for module in _MODULES}


def summary(rule: ModuleType) -> str:
    """The docstring's first line without its ``name (CODE):`` prefix."""
    first = (rule.__doc__ or "").strip().splitlines()[0] if rule.__doc__ else ""
    return first.split("):", 1)[1].strip() if "):" in first else first
