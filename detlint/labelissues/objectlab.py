"""cleanlab's ObjectLab on detlint's columns: which images' labels a model's predictions doubt.

In: the ground-truth boxes and the predictions as columns (row -> image, xyxy pixels, class
index 0..C-1, score). Out: ``LabelIssue`` rows for the K images of lowest label quality.

cleanlab wants one dict of labels per image and, per image, one ``[x1, y1, x2, y2, score]``
array per class. Both are built by one stable sort and one split, never a per-box append, and
so are the per-image similarity and IoU matrices (cleanlab computes them in a Python double loop
per image, the bulk of its time): they are handed to cleanlab's public ``compute_*_box_scores``
as its documented ``auxiliary_inputs``. The image score is cleanlab's own aggregation of those
box scores (``pool_box_scores_per_image``, then the weighted log-mean of
``get_label_quality_scores``; the tests compare it with ``get_label_quality_scores``).

An issue is reported where cleanlab's ``find_label_issues`` would flag the box: its score at or
below the class's scaled average precision (AP over IoU 0.5:0.95, times ``AP_SCALE_FACTOR``)
times the issue type's factor. The AP is cleanlab's per-image matching (private helpers of
``cleanlab.object_detection.filter``, hence the pinned ``cleanlab>=2.9``) on an evenly spaced
sample of at most ``ap_images`` images: a dataset-wide statistic, estimated, where cleanlab's
full pass would cost minutes on COCO. Each reported image also gets its worst box, flagged or
not, so that a ranked image always says why.

cleanlab still computes each image's IoU matrix once more in Python inside the overlooked and
swapped scores (it does not take ``iou_matrix`` from the auxiliary inputs there): that, and its
per-box loops, are its own time (``benchmarks/bench_label_issues.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from detlint.errors import UsageError

INSTALL_HINT = "--label-issues needs cleanlab: pip install 'detlint[labelissues]'"
OVERLOOKED, BADLY_LOCATED, SWAPPED = "overlooked", "badly-located", "swapped"
_KIND_ORDER = {OVERLOOKED: 0, BADLY_LOCATED: 1, SWAPPED: 2}


@dataclass(frozen=True)
class LabelIssue:
    """One suspect box of one of the worst images. ``gt_row`` and ``pred_row`` index the arrays
    given to ``rank_label_issues`` (-1: none: an overlooked object has no label; a label may have
    no prediction to blame). ``box_score`` is cleanlab's per-box score (lower: more suspect),
    ``quality`` the image's label quality score (0..1, lower: worse)."""

    image: int
    quality: float
    kind: str
    gt_row: int
    pred_row: int
    box_score: float


@dataclass
class _Grouped:
    """Rows in cleanlab's order: ``order[start[i]:start[i + 1]]`` are image i's rows, by class
    within the image for predictions (cleanlab concatenates its per-class arrays)."""

    order: np.ndarray
    start: np.ndarray


@dataclass
class _Inputs:
    labels: list[dict[str, np.ndarray]]
    predictions: list[list[np.ndarray]]
    aux: list[dict[str, Any]]
    gt: _Grouped
    pred: _Grouped


def _cleanlab() -> tuple[ModuleType, ModuleType, ModuleType]:
    """cleanlab's ranking, filtering and constants modules, imported on first use: an extra."""
    try:
        from cleanlab.internal import constants
        from cleanlab.object_detection import filter as cl_filter
        from cleanlab.object_detection import rank
    except ImportError as error:
        raise UsageError(INSTALL_HINT) from error
    return rank, cl_filter, constants


def require_cleanlab() -> None:
    """Raise the one-line install hint now when cleanlab is missing (before any work)."""
    _cleanlab()


def rank_label_issues(gt_image: np.ndarray, gt_boxes: np.ndarray, gt_class: np.ndarray,
                      pred_image: np.ndarray, pred_boxes: np.ndarray, pred_class: np.ndarray,
                      pred_score: np.ndarray, num_images: int, num_classes: int, k: int,
                      ap_images: int = 1000) -> list[LabelIssue]:
    """The issues of the ``k`` images of lowest label quality, worst image first (ties: the
    lower image row), each image's issues by box score. Raises ``UsageError`` without cleanlab,
    ``ValueError`` on arrays of mismatched length or rows outside the images or classes."""
    rank, cl_filter, constants = _cleanlab()
    if k <= 0 or num_images <= 0 or num_classes <= 0:
        return []
    inputs = to_objectlab(gt_image, gt_boxes, gt_class, pred_image, pred_boxes, pred_class, pred_score,
                          num_images, num_classes, constants)
    scores = box_scores(rank, inputs.aux)
    quality = image_quality(rank, constants, scores)
    worst = np.argsort(quality, kind="stable")[:k]
    thresholds = class_thresholds(cl_filter, constants, inputs, num_classes, ap_images)
    issues: list[LabelIssue] = []
    for image in worst.tolist():
        issues.extend(_image_issues(image, float(quality[image]), inputs, scores, thresholds, constants))
    return issues


def _check(gt_image: np.ndarray, gt_boxes: np.ndarray, gt_class: np.ndarray, pred_image: np.ndarray,
           pred_boxes: np.ndarray, pred_class: np.ndarray, pred_score: np.ndarray, num_images: int,
           num_classes: int) -> None:
    """Refuse inputs that would silently misplace a box (not an ``assert``: callers' data)."""
    if gt_boxes.shape != (len(gt_image), 4) or len(gt_class) != len(gt_image):
        raise ValueError("ground truth: image, boxes [N, 4] and class must have one row per box")
    if pred_boxes.shape != (len(pred_image), 4) or not len(pred_class) == len(pred_score) == len(pred_image):
        raise ValueError("predictions: image, boxes [M, 4], class and score must have one row per box")
    for name, values, bound in (("image", gt_image, num_images), ("class", gt_class, num_classes),
                                ("image", pred_image, num_images), ("class", pred_class, num_classes)):
        if len(values) and (int(values.min()) < 0 or int(values.max()) >= bound):
            raise ValueError(f"a box's {name} index is outside 0..{bound - 1}")


def _split(values: np.ndarray, cuts: np.ndarray) -> list[np.ndarray]:
    """``np.split(values, cuts)`` as views made by C-level ``map``: ``np.split`` spends ~6 us
    a piece in Python (a swapaxes per piece), which at 118k images x 7 columns is seconds."""
    bounds = [0, *cuts.tolist(), len(values)]
    return list(map(values.__getitem__, map(slice, bounds[:-1], bounds[1:])))


def _group(key: np.ndarray, image: np.ndarray, num_images: int) -> _Grouped:
    order = np.argsort(key, kind="stable")  # stable: rows keep their order within an image (determinism)
    start = np.searchsorted(image[order], np.arange(num_images + 1))
    return _Grouped(order, start)


def to_objectlab(gt_image: np.ndarray, gt_boxes: np.ndarray, gt_class: np.ndarray, pred_image: np.ndarray,
                 pred_boxes: np.ndarray, pred_class: np.ndarray, pred_score: np.ndarray, num_images: int,
                 num_classes: int, constants: ModuleType) -> _Inputs:
    """cleanlab's ``labels`` and ``predictions`` lists and its per-image auxiliary inputs."""
    gt_image, pred_image = np.asarray(gt_image, np.int64), np.asarray(pred_image, np.int64)
    gt_class, pred_class = np.asarray(gt_class, np.int64), np.asarray(pred_class, np.int64)
    gt_boxes, pred_boxes = np.asarray(gt_boxes, np.float64), np.asarray(pred_boxes, np.float64)
    pred_score = np.asarray(pred_score, np.float64)
    _check(gt_image, gt_boxes, gt_class, pred_image, pred_boxes, pred_class, pred_score, num_images, num_classes)
    gt = _group(gt_image, gt_image, num_images)
    pred_key = pred_image * num_classes + pred_class
    pred = _group(pred_key, pred_image, num_images)
    lab_boxes, lab_class = gt_boxes[gt.order], gt_class[gt.order]
    cuts = gt.start[1:-1]
    lab_box_parts, lab_class_parts = _split(lab_boxes, cuts), _split(lab_class, cuts)
    labels = [{"bboxes": b, "labels": c} for b, c in zip(lab_box_parts, lab_class_parts)]
    rows5 = np.hstack([pred_boxes[pred.order], pred_score[pred.order, None]])
    predictions = _per_class(rows5, pred_key[pred.order], num_images, num_classes)
    aux = _auxiliary(gt, pred, lab_boxes, lab_box_parts, lab_class_parts, rows5, pred_class[pred.order], constants)
    return _Inputs(labels, predictions, aux, gt, pred)


def _per_class(rows5: np.ndarray, sorted_key: np.ndarray, num_images: int, num_classes: int) -> list[list[np.ndarray]]:
    """Per image, one ``[k, 5]`` array per class. Most (image, class) cells are empty (80 COCO
    classes, ~8 boxes an image): they share one read-only empty array, and only the occupied
    cells are split out, so 118k images cost ~0.7M views, not 9.4M."""
    empty = np.zeros((0, 5))
    empty.flags.writeable = False
    cells, first = np.unique(sorted_key, return_index=True)
    flat = [empty] * (num_images * num_classes)
    # C-level map over the occupied cells only (~1 in 10 at COCO's 80 classes): no Python frame
    # per cell, and no pass over the 9.4M empty ones
    list(map(flat.__setitem__, cells.tolist(), _split(rows5, first[1:]) if len(cells) else []))
    return [flat[i:i + num_classes] for i in range(0, len(flat), num_classes)]


def _auxiliary(gt: _Grouped, pred: _Grouped, lab_boxes: np.ndarray, lab_box_parts: list[np.ndarray],
               lab_class_parts: list[np.ndarray], rows5: np.ndarray, pred_class: np.ndarray,
               constants: ModuleType) -> list[dict[str, Any]]:
    """cleanlab's per-image ``auxiliary_inputs``: every (label, prediction) pair of an image laid
    out flat, label-major (so image i's pairs reshape to its [L, M] matrix), scored at once."""
    num_images = len(gt.start) - 1
    lab_count, pred_count = np.diff(gt.start), np.diff(pred.start)
    lab_image = np.repeat(np.arange(num_images), lab_count)
    reps = pred_count[lab_image]
    lab_of_pair = np.repeat(np.arange(len(lab_image)), reps)
    first_pair = np.repeat(np.cumsum(reps) - reps, reps)
    pred_of_pair = pred.start[lab_image][lab_of_pair] + (np.arange(len(lab_of_pair)) - first_pair)
    iou, sim = _pair_scores(lab_boxes[lab_of_pair], rows5[pred_of_pair, :4], constants)
    nonzero = sim[sim != 0]
    lowest = min(1.0, float(nonzero.min())) if len(nonzero) else 1.0  # cleanlab: the least non-zero similarity
    pair_cuts = np.cumsum(lab_count * pred_count)[:-1]
    shapes = list(zip(lab_count.tolist(), pred_count.tolist()))
    ious = [m.reshape(s) for m, s in zip(_split(iou, pair_cuts), shapes)]
    sims = [m.reshape(s) for m, s in zip(_split(sim, pair_cuts), shapes)]
    cuts = pred.start[1:-1]
    boxes, probs, classes = _split(rows5[:, :4], cuts), _split(rows5[:, 4], cuts), _split(pred_class, cuts)
    return [{"pred_labels": c, "pred_label_probs": p, "pred_bboxes": b, "lab_labels": ll, "lab_bboxes": lb,
             "similarity_matrix": s, "iou_matrix": i, "min_possible_similarity": lowest}
            for c, p, b, ll, lb, s, i in zip(classes, probs, boxes, lab_class_parts, lab_box_parts, sims, ious)]


def _pair_scores(a: np.ndarray, b: np.ndarray, constants: ModuleType) -> tuple[np.ndarray, np.ndarray]:
    """IoU and similarity of each pair, in cleanlab's operation order (``_get_iou``, ``_euc_dis``):
    the same floats as its loop, so that ties and thresholds fall the same way."""
    x_left, y_top = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x_right, y_bottom = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = (x_right - x_left) * (y_bottom - y_top)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / np.clip(area_a + area_b - inter, constants.EPSILON, None)
    iou[(x_right < x_left) | (y_bottom < y_top)] = 0.0
    dx = (a[:, 0] + a[:, 2]) / 2 - (b[:, 0] + b[:, 2]) / 2
    dy = (a[:, 1] + a[:, 3]) / 2 - (b[:, 1] + b[:, 3]) / 2
    dist = 1 - np.exp(-np.sqrt(dx * dx + dy * dy) * constants.EUC_FACTOR)
    alpha = constants.ALPHA
    return iou, iou * alpha + (1 - alpha) * (1 - dist)


def box_scores(rank: ModuleType, aux: list[dict[str, Any]]) -> dict[str, list[np.ndarray]]:
    """cleanlab's per-box scores of the three issue types (overlooked: per prediction, NaN where
    the prediction is no candidate; badly located and swapped: per label)."""
    return {OVERLOOKED: rank.compute_overlooked_box_scores(auxiliary_inputs=aux),
            BADLY_LOCATED: rank.compute_badloc_box_scores(auxiliary_inputs=aux),
            SWAPPED: rank.compute_swap_box_scores(auxiliary_inputs=aux)}


def image_quality(rank: ModuleType, constants: ModuleType, scores: dict[str, list[np.ndarray]]) -> np.ndarray:
    """``get_label_quality_scores`` from the box scores: softmin per image and type, then the
    weighted geometric mean (cleanlab's ``_get_subtype_label_quality_scores``)."""
    t, tiny = constants.TEMPERATURE, constants.TINY_VALUE
    weights = ((OVERLOOKED, constants.CUSTOM_SCORE_WEIGHT_OVERLOOKED),
               (BADLY_LOCATED, constants.CUSTOM_SCORE_WEIGHT_BADLOC), (SWAPPED, constants.CUSTOM_SCORE_WEIGHT_SWAP))
    total = sum(w * np.log(tiny + rank.pool_box_scores_per_image(scores[kind], temperature=t)) for kind, w in weights)
    return np.exp(total)


def class_thresholds(cl_filter: ModuleType, constants: ModuleType, inputs: _Inputs, num_classes: int,
                     ap_images: int) -> np.ndarray:
    """Per class, ``find_label_issues``' box threshold before the type factor: the mean AP over
    IoU 0.5:0.95 times ``AP_SCALE_FACTOR`` (cleanlab's ``_get_per_class_ap``, in this process),
    on an evenly spaced, so deterministic, sample of images. A class's AP is matched on the
    images holding a label or a prediction of it only: the others add no true or false positive
    and no label to it, so the result is cleanlab's, at a fraction of its 80-classes-per-image cost."""
    n = len(inputs.labels)
    pick = np.unique(np.linspace(0, n - 1, min(n, ap_images)).round().astype(np.int64))
    cells: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(num_classes)]
    for i in pick.tolist():
        label, prediction = inputs.labels[i], inputs.predictions[i]
        present = np.union1d(label["labels"], inputs.aux[i]["pred_labels"]).tolist()
        for c in present:
            cells[c].append((prediction[c], label["bboxes"][label["labels"] == c]))
    iou_thrs = np.linspace(0.5, 0.95, 10, endpoint=True)
    ap = np.array([[_class_ap(cl_filter, cells[c], float(t)) for t in iou_thrs] for c in range(num_classes)])
    return ap.reshape(num_classes, len(iou_thrs)).mean(axis=1) * constants.AP_SCALE_FACTOR


def _class_ap(cl_filter: ModuleType, cells: list[tuple[np.ndarray, np.ndarray]], iou_threshold: float) -> float:
    """cleanlab's ``_calculate_ap_per_class`` for one class: ``cells`` are (predictions, labels)
    of that class per image; no prediction at all gives cleanlab's AP of 0."""
    if not cells or not sum(len(p) for p, _ in cells):
        return 0.0
    tpfp = [cl_filter._calculate_true_positives_false_positives(p, g, iou_threshold) for p, g in cells]
    num_gts = sum(g.shape[0] for _, g in cells)
    stacked = np.vstack([p for p, _ in cells])
    order = np.argsort(-stacked[:, -1])
    tp = np.cumsum(np.hstack([t for t, _ in tpfp])[:, order], axis=1)
    fp = np.cumsum(np.hstack([f for _, f in tpfp])[:, order], axis=1)
    eps = np.finfo(np.float32).eps
    recalls = tp / np.maximum(num_gts, eps)
    precisions = tp / np.maximum(tp + fp, eps)
    return float(cl_filter._calculate_average_precision(recalls[0, :], precisions[0, :])[0])


def _image_issues(image: int, quality: float, inputs: _Inputs, scores: dict[str, list[np.ndarray]],
                  thresholds: np.ndarray, constants: ModuleType) -> list[LabelIssue]:
    """One image's flagged boxes (score at or below its class threshold times the type factor)
    and its worst box; by score, then type, then row."""
    aux = inputs.aux[image]
    gt_rows = inputs.gt.order[inputs.gt.start[image]:inputs.gt.start[image + 1]]
    pred_rows = inputs.pred.order[inputs.pred.start[image]:inputs.pred.start[image + 1]]
    found: list[tuple[float, str, int, int, bool]] = []
    factors = {OVERLOOKED: constants.OVERLOOKED_THRESHOLD_FACTOR, BADLY_LOCATED: constants.BADLOC_THRESHOLD_FACTOR,
               SWAPPED: constants.SWAP_THRESHOLD_FACTOR}
    for kind in (OVERLOOKED, BADLY_LOCATED, SWAPPED):
        values = scores[kind][image]
        classes = aux["pred_labels"] if kind == OVERLOOKED else aux["lab_labels"]
        limit = thresholds[classes] * factors[kind]
        for j in np.flatnonzero(~np.isnan(values)).tolist():
            gt, pred = _suspects(kind, j, aux, constants)
            gt_row = int(gt_rows[gt]) if gt >= 0 else -1
            pred_row = int(pred_rows[pred]) if pred >= 0 else -1
            found.append((float(values[j]), kind, gt_row, pred_row, bool(values[j] <= limit[j])))
    found.sort(key=lambda f: (f[0], _KIND_ORDER[f[1]], f[2], f[3]))
    keep = [f for i, f in enumerate(found) if f[4] or (i == 0 and f[0] < 1.0)]
    return [LabelIssue(image, quality, kind, gt_row, pred_row, score) for score, kind, gt_row, pred_row, _ in keep]


def _suspects(kind: str, j: int, aux: dict[str, Any], constants: ModuleType) -> tuple[int, int]:
    """(label, prediction) positions within the image that box ``j``'s score is about: the
    prediction itself (overlooked); the most similar same-class prediction above the low score
    threshold that overlaps the label (badly located); the most similar prediction of another
    class above the high threshold (swapped). -1 where cleanlab had none."""
    if kind == OVERLOOKED:
        return -1, j
    sim, iou = aux["similarity_matrix"][j], aux["iou_matrix"][j]
    labels, probs = aux["pred_labels"], aux["pred_label_probs"]
    same = labels == aux["lab_labels"][j]
    if kind == BADLY_LOCATED:
        usable = same & (probs > constants.LOW_PROBABILITY_THRESHOLD) & (iou > 0)
    elif _stacked_on_other_class(j, aux, constants):
        return j, -1  # cleanlab's score here is about the other label, not a prediction
    else:
        usable = ~same & (probs > constants.HIGH_PROBABILITY_THRESHOLD)
    if not usable.any():
        return j, -1
    candidates = np.flatnonzero(usable)
    return j, int(candidates[np.argmax(sim[candidates])])


def _stacked_on_other_class(j: int, aux: dict[str, Any], constants: ModuleType) -> bool:
    """cleanlab's ``_has_overlap`` for label ``j``: another label of another class on (almost)
    the same box, IoU at least ``LABEL_OVERLAP_THRESHOLD``."""
    boxes, labels = aux["lab_bboxes"], aux["lab_labels"]
    iou, _ = _pair_scores(np.repeat(boxes[j:j + 1], len(boxes), axis=0), boxes, constants)
    other = (labels != labels[j]) & (np.arange(len(labels)) != j)
    return bool((other & (iou >= constants.LABEL_OVERLAP_THRESHOLD)).any())
