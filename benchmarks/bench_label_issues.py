"""The ObjectLab adapter at COCO scale: detlint's conversion against cleanlab's own time.

    python benchmarks/bench_label_issues.py                    # 118k images, 860k labels, 1M predictions
    python benchmarks/bench_label_issues.py --images 5000 --with-cleanlab-inputs

Synthetic columns (seeded): each image has 1-13 labels of 80 classes on a grid (so that they do
not touch), each label a jittered prediction (score 0.5-0.99), plus extra low-score predictions
to reach the prediction count. Times, in this process, each phase of
``rank_label_issues``: detlint's conversion (the sort and split into cleanlab's per-image lists
and the similarity/IoU matrices, ``to_objectlab``), cleanlab's box scores
(``compute_*_box_scores``) and image scores (``pool_box_scores_per_image``), and the per-class
thresholds (cleanlab's AP matching on a 1000-image sample). ``--with-cleanlab-inputs`` also times
cleanlab building those matrices itself (``_get_valid_inputs_for_compute_scores``), what the
conversion replaces. Prints one Markdown table; peak RSS from ``getrusage``.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from detlint.labelissues import objectlab


def columns(images: int, labels: int, predictions: int, classes: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(labels - images, np.full(images, 1 / images)) + 1  # at least one label each
    image = np.repeat(np.arange(images), counts)
    slot = np.arange(len(image)) - np.repeat(np.cumsum(counts) - counts, counts)  # position in its image
    cell = np.stack([slot % 4 * 160.0, slot // 4 % 4 * 120.0], axis=1)
    wh = rng.uniform(20, 100, (len(image), 2))
    xy = cell + rng.uniform(0, 1, (len(image), 2)) * (np.array([160.0, 120.0]) - wh)
    boxes = np.hstack([xy, xy + wh])
    cls = rng.integers(0, classes, len(image))
    extra = predictions - len(image)
    fp_image = rng.integers(0, images, extra)
    fp_xy = rng.uniform(0, 560, (extra, 2))
    pred_boxes = np.vstack([boxes + rng.normal(0, 2, boxes.shape), np.hstack([fp_xy, fp_xy + 40])])
    pred_class = np.concatenate([cls, rng.integers(0, classes, extra)])
    score = np.concatenate([rng.uniform(0.5, 0.99, len(image)), rng.uniform(0.05, 0.4, extra)])
    return image, boxes, cls, np.concatenate([image, fp_image]), pred_boxes, pred_class, score


def _timed(label: str, times: dict[str, float], fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    times[label] = time.perf_counter() - start
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=118_000)
    parser.add_argument("--labels", type=int, default=860_000)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--with-cleanlab-inputs", action="store_true")
    args = parser.parse_args()
    scale = args.images / 118_000
    labels, predictions = round(args.labels * scale), round(args.predictions * scale)
    cols = columns(args.images, labels, predictions, args.classes)
    rank, cl_filter, constants = objectlab._cleanlab()
    times: dict[str, float] = {}
    inputs = _timed("detlint: to_objectlab (group, split, similarity/IoU matrices)", times, objectlab.to_objectlab,
                    *cols, args.images, args.classes, constants)
    scores = _timed("cleanlab: compute_*_box_scores (3 types)", times, objectlab.box_scores, rank, inputs.aux)
    quality = _timed("cleanlab: pool_box_scores_per_image + aggregation", times, objectlab.image_quality, rank,
                     constants, scores)
    _timed("cleanlab: per-class AP thresholds (1000-image sample)", times, objectlab.class_thresholds, cl_filter,
           constants, inputs, args.classes, 1000)
    if args.with_cleanlab_inputs:
        _timed("cleanlab: _get_valid_inputs_for_compute_scores (replaced)", times,
               rank._get_valid_inputs_for_compute_scores, constants.ALPHA, inputs.labels, inputs.predictions)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.images:,} images, {labels:,} labels, {predictions:,} predictions, {args.classes} classes; "
          f"lowest quality {quality.min():.3f}; peak RSS {peak:.2f} GiB\n")
    print("| phase | seconds |\n| --- | ---: |")
    for label, seconds in times.items():
        print(f"| {label} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
