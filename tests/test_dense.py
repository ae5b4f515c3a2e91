"""One image holding many boxes: every rule stays near-linear (issue 14, "quadratic rules").

The wall limits are generous (the old B006 compared all pairs of an image: 20k identical boxes
took minutes and gigabytes); the assertions are on the findings themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detlint.formats import load
from detlint.rules import b006_duplicate_box
from detlint.rules.context import RuleContext
from tests.helpers import make_yolo

REPO = Path(__file__).resolve().parents[1]
WALL_LIMIT_S = 20


def check_json(root: Path, *extra: str) -> list[dict]:
    """``detlint check`` in a fresh process, killed past WALL_LIMIT_S."""
    command = [sys.executable, "-m", "detlint.cli", "check", str(root), "--images", "none", "--no-cache",
               "--output-format", "json", *extra]
    done = subprocess.run(command, capture_output=True, cwd=REPO, timeout=WALL_LIMIT_S, check=False)
    assert done.returncode in (0, 1), done.stderr.decode()[-2000:]
    assert b"Warning" not in done.stderr, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)["findings"]


def yolo_rows(boxes: np.ndarray) -> str:
    """Label lines for normalised xyxy boxes, class 0."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return "".join(f"0 {a:.6f} {b:.6f} {c:.6f} {d:.6f}\n" for a, b, c, d in zip(cx, cy, w, h))


def coco_file(root: Path, xywh: np.ndarray) -> Path:
    annotations = [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": 0} for i, box in enumerate(xywh.tolist())]
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 1000, "height": 1000}],
           "categories": [{"id": 1, "name": "thing"}], "annotations": annotations}
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotations.json").write_text(json.dumps(doc))
    return root


def test_identical_boxes_in_one_yolo_file_are_found_in_linear_time(tmp_path: Path) -> None:
    n = 20_000
    boxes = np.tile([0.2, 0.3, 0.6, 0.7], (n, 1))
    root = make_yolo(tmp_path / "ds", {"a": yolo_rows(boxes)}, ["thing"], size=(100, 100))
    findings = [f for f in check_json(root) if f["code"] == "B006"]
    assert len(findings) == n - 1  # every row but the first is a copy
    lines = sorted(f["line"] for f in findings)
    assert lines == list(range(2, n + 1))
    # each copy cites the row just before it (the nearest copy) and is safely fixable
    first = next(f for f in findings if f["line"] == 7)
    assert "exact copy of annotation 6" in first["message"]
    assert all(f["fix"]["applicability"] == "safe" for f in findings)


def brute_force(xywh: np.ndarray, threshold: float) -> dict[int, int]:
    """copy row -> original row by comparing every pair: the earlier row with IoU >= threshold
    nearest in the (x1, row) order, the one before first at equal distance."""
    order = np.lexsort((np.arange(len(xywh)), xywh[:, 0]))
    position = np.empty(len(xywh), int)
    position[order] = np.arange(len(xywh))
    boxes = np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])
    iw = np.clip(np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]), 0,
                 None)
    ih = np.clip(np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]), 0,
                 None)
    area = xywh[:, 2] * xywh[:, 3]
    iou = iw * ih / (area[:, None] + area[None, :] - iw * ih)
    result = {}
    for b in range(len(xywh)):
        earlier = [a for a in range(b) if iou[a, b] >= threshold]
        if earlier:
            result[b] = min(earlier, key=lambda a: (abs(position[a] - position[b]), position[a] > position[b]))
    return result


@pytest.mark.parametrize("variant", ["clusters", "stripe", "nested", "jitter"])
def test_duplicate_box_matches_all_pairs_on_one_crowded_image(tmp_path: Path, variant: str) -> None:
    rng = np.random.default_rng(len(variant))
    n = 600
    if variant == "clusters":  # copies and near copies of a few objects, rounded to make exact ties
        centres = rng.uniform(0, 500, (5, 2))
        xy = centres[rng.integers(0, 5, n)] + rng.normal(0, 1.5, (n, 2))
        xywh = np.column_stack([xy, np.full((n, 2), 80.0) * np.exp(rng.normal(0, 0.02, (n, 2)))]).round(1)
    elif variant == "stripe":  # one x1 for all: a sweep along x1 alone would compare every pair
        xywh = np.column_stack([np.full(n, 10.0), rng.uniform(0, 900, n).round(0), np.full(n, 50.0),
                                np.full(n, 40.0)])
    elif variant == "jitter":  # one object jittered (the worst-case benchmark): the sweep runs long, the grid ends it
        xywh = np.column_stack([rng.uniform(0, 40, (n, 2)), rng.uniform(400, 480, (n, 2))])
    else:  # boxes sharing a corner, growing slowly
        side = np.round(np.linspace(50, 400, n) * rng.uniform(0.99, 1.01, n), 2)
        xywh = np.column_stack([np.zeros(n), np.zeros(n), side, side])
    ds = load(coco_file(tmp_path / variant, xywh))
    copies, originals, _ = b006_duplicate_box.duplicate_pairs(ds, 0.95, RuleContext())
    expected = brute_force(xywh, 0.95)
    assert expected, "the case must hold duplicates"
    assert dict(zip(copies.tolist(), originals.tolist())) == expected
