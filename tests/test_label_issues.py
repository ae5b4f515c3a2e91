"""The ObjectLab adapter (``detlint.labelissues``) on generated data with planted label errors,
against cleanlab's own functions, and the L rules at their ground-truth locations."""

from __future__ import annotations

import builtins
import importlib.util
import json
from dataclasses import dataclass

import numpy as np
import pytest

from detlint.errors import UsageError
from detlint.labelissues import INSTALL_HINT, objectlab, rank_label_issues

# the labelissues extra is in the test extra; without it only the install-hint test runs
needs_cleanlab = pytest.mark.skipif(importlib.util.find_spec("cleanlab") is None, reason="cleanlab not installed")

CLASSES, IMAGES = 5, 300


@dataclass
class Planted:
    gt_image: np.ndarray
    gt_boxes: np.ndarray
    gt_class: np.ndarray
    pred_image: np.ndarray
    pred_boxes: np.ndarray
    pred_class: np.ndarray
    pred_score: np.ndarray
    kinds: dict[int, str]  # image -> planted issue kind

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.gt_image, self.gt_boxes, self.gt_class, self.pred_image, self.pred_boxes,
                self.pred_class, self.pred_score)


def _dataset(seed: int = 7) -> Planted:
    """300 images of 1-6 boxes; predictions = the true boxes jittered by ~2 px (score 0.8-0.99)
    plus a few low-score false positives; then 20 label errors planted, each in its own image:
    7 labels removed, 7 shifted by 40% of their size, 6 relabelled. The model is sure (0.96-0.99)
    of the objects whose labels were damaged, as a good model is of a plain object: ObjectLab
    (rightly) ignores an unlabelled or contradicting prediction below 0.95."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, IMAGES)
    image = np.repeat(np.arange(IMAGES), counts)
    n = len(image)
    # one object per cell of a 3 x 2 grid on a 640 x 480 image: objects do not touch, so that
    # a removed label's prediction overlaps no other label (ObjectLab's overlooked candidates)
    cell = np.concatenate([rng.permutation(6)[:c] for c in counts.tolist()])
    wh = rng.uniform(30, 150, (n, 2))
    xy = np.stack([cell % 3 * 213.0, cell // 3 * 240.0], axis=1) + rng.uniform(0, 1, (n, 2)) * (
        np.array([213.0, 240.0]) - wh)
    boxes = np.hstack([xy, xy + wh])
    cls = rng.integers(0, CLASSES, n)
    pred_boxes = boxes + rng.normal(0, 2, boxes.shape)
    score = rng.uniform(0.8, 0.99, n)
    planted = rng.choice(IMAGES, 20, replace=False)
    kinds: dict[int, str] = {}
    drop = np.zeros(n, bool)
    gt_boxes, gt_cls = boxes.copy(), cls.copy()
    for i, img in enumerate(planted.tolist()):
        row = int(np.flatnonzero(image == img)[0])
        score[row] = rng.uniform(0.96, 0.99)
        if i < 7:
            drop[row], kinds[img] = True, "overlooked"
        elif i < 14:
            gt_boxes[row] += 0.4 * np.tile(wh[row], 2)
            kinds[img] = "badly-located"
        else:
            gt_cls[row] = (cls[row] + 1 + rng.integers(0, CLASSES - 1)) % CLASSES
            kinds[img] = "swapped"
    fp = 30
    fp_image = rng.integers(0, IMAGES, fp)
    fp_xy = rng.uniform(0, 480, (fp, 2))
    fp_boxes = np.hstack([fp_xy, fp_xy + rng.uniform(20, 80, (fp, 2))])
    return Planted(image[~drop], gt_boxes[~drop], gt_cls[~drop],
                   np.concatenate([image, fp_image]), np.vstack([pred_boxes, fp_boxes]),
                   np.concatenate([cls, rng.integers(0, CLASSES, fp)]),
                   np.concatenate([score, rng.uniform(0.05, 0.3, fp)]), kinds)


def _worst_kind(issues: list, image: int) -> str:
    return next(i.kind for i in issues if i.image == image)


@needs_cleanlab
def test_planted_errors_rank_first_with_their_kind() -> None:
    data = _dataset()
    issues = rank_label_issues(*data.arrays(), num_images=IMAGES, num_classes=CLASSES, k=40)
    ranked = list(dict.fromkeys(i.image for i in issues))
    assert len(ranked) == 40
    assert set(data.kinds) <= set(ranked)  # recall at 40: every planted image
    right = sum(_worst_kind(issues, img) == kind for img, kind in data.kinds.items())
    assert right >= 19  # measured: 20 of 20 (seeds 1-10)
    precision_at_20 = len(set(ranked[:20]) & set(data.kinds)) / 20
    assert precision_at_20 >= 0.95  # measured: 1.0 (seeds 1-10)
    qualities = [i.quality for i in issues]
    assert qualities == sorted(qualities)


@needs_cleanlab
def test_issue_rows_point_at_the_suspect_boxes() -> None:
    data = _dataset()
    issues = rank_label_issues(*data.arrays(), num_images=IMAGES, num_classes=CLASSES, k=20)
    first = {}
    for issue in issues:
        first.setdefault(issue.image, issue)
    for img, kind in data.kinds.items():
        issue = first[img]
        if kind == "overlooked":
            assert issue.gt_row == -1 and data.pred_image[issue.pred_row] == img
            assert data.pred_score[issue.pred_row] >= 0.95
        else:
            assert data.gt_image[issue.gt_row] == img and data.pred_image[issue.pred_row] == img
        if kind == "swapped":
            assert data.pred_class[issue.pred_row] != data.gt_class[issue.gt_row]
        if kind == "badly-located":
            assert data.pred_class[issue.pred_row] == data.gt_class[issue.gt_row]


@needs_cleanlab
def test_deterministic_under_row_order() -> None:
    """The same boxes in another row order give the same images, kinds and scores."""
    data = _dataset()
    a = rank_label_issues(*data.arrays(), num_images=IMAGES, num_classes=CLASSES, k=30)
    b = rank_label_issues(*data.arrays(), num_images=IMAGES, num_classes=CLASSES, k=30)
    assert a == b
    gp, pp = np.random.default_rng(1).permutation(len(data.gt_image)), np.random.default_rng(2).permutation(
        len(data.pred_image))
    c = rank_label_issues(data.gt_image[gp], data.gt_boxes[gp], data.gt_class[gp], data.pred_image[pp],
                          data.pred_boxes[pp], data.pred_class[pp], data.pred_score[pp], IMAGES, CLASSES, 30)
    assert [(i.image, i.kind, round(i.quality, 12)) for i in a] == [(i.image, i.kind, round(i.quality, 12)) for i in c]


@needs_cleanlab
def test_matches_cleanlab_own_scores() -> None:
    """The vectorised inputs give cleanlab's own get_label_quality_scores and box scores."""
    from cleanlab.object_detection import rank

    rank_mod, _, constants = objectlab._cleanlab()
    data = _dataset()
    inputs = objectlab.to_objectlab(*data.arrays(), IMAGES, CLASSES, constants)
    scores = objectlab.box_scores(rank_mod, inputs.aux)
    ours = objectlab.image_quality(rank_mod, constants, scores)
    theirs = rank.get_label_quality_scores(inputs.labels, inputs.predictions, verbose=False)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    for got, want in zip(scores["badly-located"], rank.compute_badloc_box_scores(
            labels=inputs.labels, predictions=inputs.predictions)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@needs_cleanlab
def test_thresholds_are_cleanlab_per_class_ap() -> None:
    """The per-class thresholds, matched on the images holding the class only, are cleanlab's
    own ``_get_per_class_ap`` (which matches every image for every class, in a process pool)."""
    from cleanlab.object_detection import filter as cl_filter

    rank_mod, _, constants = objectlab._cleanlab()
    data = _dataset()
    inputs = objectlab.to_objectlab(*data.arrays(), IMAGES, CLASSES, constants)
    ours = objectlab.class_thresholds(cl_filter, constants, inputs, CLASSES, ap_images=IMAGES)
    theirs = cl_filter._get_per_class_ap(inputs.labels, inputs.predictions)
    np.testing.assert_allclose(ours, [theirs[c] for c in range(CLASSES)], rtol=1e-6)
    assert (ours > 0.1).all()  # a good model: AP near 1, times AP_SCALE_FACTOR 0.25


@needs_cleanlab
def test_images_without_labels_or_predictions() -> None:
    """Empty images (no label, no prediction; or only one side) are ranked, not an error."""
    e = np.zeros(0, np.int64)
    gt_image, gt_boxes, gt_class = np.array([1, 1]), np.array([[10, 10, 50, 50], [60, 60, 90, 90]], float), np.array([0, 1])
    pred_image, pred_boxes = np.array([1, 2]), np.array([[11, 10, 50, 51], [5, 5, 40, 40]], float)
    issues = rank_label_issues(gt_image, gt_boxes, gt_class, pred_image, pred_boxes, np.array([0, 1]),
                               np.array([0.9, 0.99]), num_images=4, num_classes=2, k=4)
    assert issues and issues[0].image == 2 and issues[0].kind == "overlooked" and issues[0].gt_row == -1
    assert {i.image for i in issues} <= {1, 2}  # images 0 and 3 are empty on both sides: nothing to say
    nothing = rank_label_issues(e, np.zeros((0, 4)), e, e, np.zeros((0, 4)), e, np.zeros(0), 3, 2, 5)
    assert nothing == []
    assert rank_label_issues(gt_image, gt_boxes, gt_class, e, np.zeros((0, 4)), e, np.zeros(0), 2, 2, 0) == []


@needs_cleanlab
def test_bad_arrays_are_a_value_error() -> None:
    e = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="outside"):
        rank_label_issues(np.array([5]), np.zeros((1, 4)), np.array([0]), e, np.zeros((0, 4)), e, np.zeros(0), 2, 1, 1)
    with pytest.raises(ValueError, match="one row per box"):
        rank_label_issues(np.array([0]), np.zeros((2, 4)), np.array([0]), e, np.zeros((0, 4)), e, np.zeros(0), 2, 1, 1)


def _without_cleanlab(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_cleanlab(name: str, *args: object, **kwargs: object) -> object:
        if name == "cleanlab" or name.startswith("cleanlab."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cleanlab)


def test_missing_cleanlab_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_cleanlab(monkeypatch)
    e = np.zeros(0, np.int64)
    with pytest.raises(UsageError) as caught:
        rank_label_issues(e, np.zeros((0, 4)), e, e, np.zeros((0, 4)), e, np.zeros(0), 1, 1, 1)
    assert str(caught.value) == INSTALL_HINT == "--label-issues needs cleanlab: pip install 'detlint[labelissues]'"
    assert "\n" not in str(caught.value)


def test_check_without_cleanlab_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check --label-issues`` without the extra: exit 2 and the one-line hint, no traceback."""
    from pathlib import Path

    from click.testing import CliRunner

    from detlint.cli import main

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "label_issues"
    _without_cleanlab(monkeypatch)
    result = CliRunner().invoke(main, ["check", str(fixture / "data"), "--predictions", str(fixture / "predictions.json"),
                                       "--label-issues", "5", "--images", "none", "--no-cache"])
    assert result.exit_code == 2, result.output
    assert INSTALL_HINT in result.output and "Traceback" not in result.output


# the rules, on a real COCO folder and hand-built predictions

def _coco(tmp_path) -> None:  # noqa: ANN001
    images = [{"id": i + 1, "file_name": f"img{i}.jpg", "width": 640, "height": 480} for i in range(6)]
    anns = [
        {"id": 11, "image_id": 1, "category_id": 1, "bbox": [10, 10, 100, 100], "area": 10000, "iscrowd": 0},
        {"id": 12, "image_id": 2, "category_id": 1, "bbox": [200, 200, 100, 100], "area": 10000, "iscrowd": 0},
        {"id": 13, "image_id": 3, "category_id": 2, "bbox": [300, 100, 80, 80], "area": 6400, "iscrowd": 0},
        {"id": 14, "image_id": 4, "category_id": 2, "bbox": [50, 50, 60, 60], "area": 3600, "iscrowd": 0},
        {"id": 15, "image_id": 6, "category_id": 1, "bbox": [300, 300, 200, 150], "area": 30000, "iscrowd": 1,
         "segmentation": {"counts": [0, 10], "size": [480, 640]}},
    ]
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    (tmp_path / "annotations.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def _predictions(ds):  # noqa: ANN001, ANN202
    from pathlib import Path

    from detlint.model import SCORE_OK, Annotations, Predictions

    # image row 0: the label, found; 1: a label 40 px off; 2: a dog the model calls a cat;
    # 3: the label found plus an unlabelled cat; 4 (no labels at all): a dog; 5: a cat inside a crowd region
    boxes = np.array([[10, 10, 110, 110], [240, 240, 340, 340], [300, 100, 380, 180], [50, 50, 110, 110],
                      [400, 300, 480, 380], [100, 100, 200, 200], [320, 320, 380, 380]], float)
    det = Annotations.empty(len(boxes))
    det.boxes = boxes
    det.raw = boxes.copy()
    det.has_box = np.ones(len(boxes), bool)
    det.image = np.array([0, 1, 2, 3, 3, 4, 5], np.int32).astype(ds.annotations.image.dtype)
    det.category = np.array([0, 0, 0, 1, 0, 1, 0]).astype(ds.annotations.category.dtype)
    det.src_item = np.arange(len(boxes)).astype(det.src_item.dtype)
    scores = np.array([0.99, 0.97, 0.99, 0.98, 0.97, 0.99, 0.99])
    return Predictions("coco-results", "COCO results", Path("preds.json"), det, scores,
                       np.full(len(boxes), SCORE_OK, np.int8), np.array([1, 2, 3, 4, 4, 5, 6], object), files=["preds.json"])


@needs_cleanlab
def test_rules_locate_at_the_ground_truth(tmp_path) -> None:  # noqa: ANN001
    import detlint
    from detlint.config import Config
    from detlint.engine import run_rules
    from detlint.rules.context import RuleContext

    _coco(tmp_path)
    ds = detlint.load(tmp_path)
    preds = _predictions(ds)
    preds.validate()
    findings = run_rules(ds, Config(), ctx=RuleContext(predictions=preds, label_issues=5))
    found = {(f.code, f.image): f for f in findings if f.code.startswith("L")}
    # img5's cat lies inside a crowd region: not an overlooked object
    assert set(found) == {("L001", "img3.jpg"), ("L001", "img4.jpg"), ("L002", "img1.jpg"), ("L003", "img2.jpg")}
    l001, l002, l003 = found["L001", "img3.jpg"], found["L002", "img1.jpg"], found["L003", "img2.jpg"]
    # at the image's annotation (the file holding its labels), not at an annotation's own key
    assert (l001.file, l001.pointer, l001.annotation) == ("annotations.json", "/annotations/3", None)
    assert l001.data["detection"] == 4 and "row" not in l001.data and l001.data["image_row"] == 3
    unlabelled = found["L001", "img4.jpg"]  # no annotation: at the image's own entry
    assert (unlabelled.file, unlabelled.pointer, unlabelled.data["detection"]) == ("annotations.json", "/images/4", 5)
    assert '"dog" (score 0.99) at [100.0, 100.0, 200.0, 200.0]' in unlabelled.message
    assert "[400.0, 300.0, 480.0, 380.0]" in l001.message and "cat" in l001.message
    assert (l002.file, l002.pointer, l002.annotation, l002.data["row"], l002.data["detection"]) == (
        "annotations.json", "/annotations/1/bbox", "12", 1, 1)
    assert "IoU" in l002.message
    assert (l003.pointer, l003.annotation, l003.data["row"], l003.data["detection"]) == ("/annotations/2/bbox", "13", 2, 2)
    assert "cat" in l003.message and "dog" in l003.message
    assert "img1.jpg" in l002.message and "label quality 0." in l002.message
    for f in (l001, l002, l003):
        assert 0 <= f.data["label_quality"] <= 1 and f.severity == "info"
    # without --label-issues the L rules do not run
    assert not [f for f in run_rules(ds, Config(), ctx=RuleContext(predictions=preds)) if f.code.startswith("L")]


@needs_cleanlab
def test_a_label_stacked_on_another_class_blames_no_prediction() -> None:
    """Two labels of two classes on one box: ObjectLab's swap score is about the pair of labels,
    so the issue names no prediction (a confident prediction elsewhere is not the suspect)."""
    gt_boxes = np.array([[10, 10, 110, 110], [10, 10, 110, 111], [300, 300, 400, 400]], float)
    pred_boxes = np.array([[10, 10, 110, 110], [300, 300, 400, 400]], float)
    issues = rank_label_issues(np.zeros(3, np.int64), gt_boxes, np.array([0, 1, 1]), np.zeros(2, np.int64),
                               pred_boxes, np.array([0, 1]), np.array([0.99, 0.99]), 1, 2, 1)
    stacked = [i for i in issues if i.kind == "swapped" and i.gt_row in (0, 1)]
    assert stacked and all(i.pred_row == -1 for i in stacked)
