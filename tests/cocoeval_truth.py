"""Helpers for the pycocotools differential tests (not a test module).

``COCO_CATEGORIES`` is the real COCO 2017 class list, with its real sparse ids (1..90, 80 of
them). ``ground_truth`` builds a small COCO dataset over it; ``truth`` runs the REAL
``COCO.loadRes`` and ``COCOeval(gt, dt, "bbox").evaluate()/accumulate()`` on files and records
what happened: the exception raised (type and message) or the images evaluated and the
detection ids that took part (``evalImgs[*]["dtIds"]`` for the area range "all").
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant - stop_sign "
    "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe - backpack umbrella - - "
    "handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard "
    "surfboard tennis_racket bottle - wine_glass cup fork knife spoon bowl banana apple sandwich orange "
    "broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed - dining_table - - toilet - tv "
    "laptop mouse remote keyboard cell_phone microwave oven toaster sink refrigerator - book clock vase "
    "scissors teddy_bear hair_drier toothbrush"
)
# COCO's ids skip the 11 classes of the paper that were never annotated (12, 26, 29, ...): "-" here
COCO_CATEGORIES: list[dict[str, Any]] = [
    {"id": i + 1, "name": name.replace("_", " ")} for i, name in enumerate(_NAMES.split()) if name != "-"
]
COCO_IDS = [c["id"] for c in COCO_CATEGORIES]


def ground_truth(n_images: int = 20, per_image: int = 5, seed: int = 0) -> dict[str, Any]:
    """A COCO dataset: ``n_images`` images (ids 1..n), ``per_image`` boxes each, classes drawn
    from the 80 COCO classes."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480} for i in range(1, n_images + 1)]
    annotations = []
    for image in images:
        for _ in range(per_image):
            x, y = rng.uniform(0, 400), rng.uniform(0, 300)
            w, h = rng.uniform(10, 200), rng.uniform(10, 150)
            annotations.append({"id": len(annotations) + 1, "image_id": image["id"],
                                "category_id": int(rng.choice(COCO_IDS)), "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0})
    return {"images": images, "annotations": annotations, "categories": copy.deepcopy(COCO_CATEGORIES)}


def detections_from(gt: dict[str, Any], seed: int = 1) -> list[dict[str, Any]]:
    """Clean results: one jittered detection per ground-truth box, with a score."""
    rng = np.random.default_rng(seed)
    out = []
    for ann in gt["annotations"]:
        x, y, w, h = ann["bbox"]
        out.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                    "bbox": [x + rng.uniform(-2, 2), y + rng.uniform(-2, 2), w, h],
                    "score": round(float(rng.uniform(0.05, 1.0)), 4)})
    return out


@dataclass
class Truth:
    """What pycocotools did."""

    raised: str | None = None  # "AssertionError: Results do not correspond to current coco set"
    evaluated_images: int = 0
    kept_ids: set[int] = field(default_factory=set)  # 1-based result ids (loadRes numbers them)


def exception_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def truth(gt_path: Path, results_path: Path, max_dets: int = 100) -> Truth:
    """Run the real pycocotools on the two files (its prints silenced)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        try:
            dt = gt.loadRes(str(results_path))
            evaluator = COCOeval(gt, dt, "bbox")
            evaluator.params.maxDets = [1, 10, max_dets]
            evaluator.evaluate()
            evaluator.accumulate()
        except Exception as exc:  # noqa: BLE001 (what pycocotools raises is the thing measured)
            return Truth(raised=exception_text(exc))
    every = [0, 1e5 ** 2]
    kept = {int(i) for e in evaluator.evalImgs if e is not None and list(e["aRng"]) == every for i in e["dtIds"]}
    return Truth(evaluated_images=len(evaluator.params.imgIds), kept_ids=kept)


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path
