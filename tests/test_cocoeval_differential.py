"""P013's model of pycocotools against the real pycocotools: for each planted mismatch, the
same ground-truth and results files go through the real ``COCO.loadRes`` and
``COCOeval(gt, dt, "bbox").evaluate()/accumulate()`` and through ``detlint.rules._cocoeval``;
the raised exception, the images evaluated and the detections that take part must be equal."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import detlint
from detlint.cli import main
from detlint.formats.predictions import load as load_predictions
from detlint.model import Annotations, Predictions
from detlint.rules import _cocoeval
from tests.cocoeval_truth import (
    COCO_CATEGORIES,
    COCO_IDS,
    detections_from,
    ground_truth,
    truth,
    write_json,
)

GT = ground_truth()
CLEAN = detections_from(GT)


def _edit(change: Callable[[list[dict[str, Any]]], Any]) -> Any:
    results = copy.deepcopy(CLEAN)
    out = change(results)
    return results if out is None else out


def _many(classes: list[int], n: int = 150) -> list[dict[str, Any]]:
    """``n`` detections on image 1, spread over ``classes``, scores descending then a tie."""
    return [{"image_id": 1, "category_id": classes[i % len(classes)], "bbox": [1 + i, 2, 30, 20],
             "score": round(1 - i / 200, 3) if i < 120 else 0.25} for i in range(n)]


def _set(index: int, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(results: list[dict[str, Any]]) -> None:
        if value is _DELETE:
            del results[index][key]
        else:
            results[index][key] = value
    return change


_DELETE = object()
YOLO_INDEX = {cid: i for i, cid in enumerate(COCO_IDS)}
NAME_OF = {c["id"]: c["name"] for c in COCO_CATEGORIES}

CASES: dict[str, Any] = {
    "clean": CLEAN,
    "off-by-one": _edit(lambda r: [dict(e, category_id=e["category_id"] + 1) for e in r]),
    "91-vs-80": _edit(lambda r: [dict(e, category_id=YOLO_INDEX[e["category_id"]]) for e in r]),
    "class-names": _edit(lambda r: [dict(e, category_id=NAME_OF[e["category_id"]]) for e in r]),
    "string-image-ids": _edit(lambda r: [dict(e, image_id=str(e["image_id"])) for e in r]),
    "float-image-ids": _edit(lambda r: [dict(e, image_id=float(e["image_id"])) for e in r]),
    "unknown-image-ids": _edit(lambda r: r + [dict(r[0], image_id=9999), dict(r[1], image_id=9999),
                                              dict(r[2], image_id=123456)]),
    "missing-score": _edit(_set(3, "score", _DELETE)),
    "missing-score-unknown-class": _edit(lambda r: _set(3, "category_id", 91)(r) or _set(3, "score", _DELETE)(r)),
    "nan-score": _edit(_set(3, "score", math.nan)),
    "nan-scores-past-max-dets": [dict(e, score=math.nan) if i % 7 == 0 else e for i, e in enumerate(_many([1]))],
    "150-one-class": _many([1]),
    "150-three-classes": _many([1, 2, 3]),
    # the unknown class (91) scores higher: it must not take places in class 90's 100
    "150-and-unknown-class-first": [dict(e, category_id=91) for e in _many([90], 40)] + _many([90]),
    "empty": [],
    "dataset-as-results": GT,
    "first-without-bbox": _edit(_set(0, "bbox", _DELETE)),
    "later-without-bbox": _edit(_set(5, "bbox", _DELETE)),
    "first-bbox-empty": _edit(_set(0, "bbox", [])),
    "short-bbox": _edit(_set(4, "bbox", [1, 2, 3])),
    "missing-image-id": _edit(_set(6, "image_id", _DELETE)),
    "null-image-id": _edit(_set(6, "image_id", None)),
    "list-image-id": _edit(_set(6, "image_id", [1])),
    "missing-category-id": _edit(_set(7, "category_id", _DELETE)),
    "null-category-id": _edit(_set(7, "category_id", None)),
    "entry-not-an-object": _edit(lambda r: r[:8] + [5] + r[8:]),
    "string-entry": _edit(lambda r: r[:8] + ["x"] + r[8:]),
    "top-level-object": {"results": CLEAN},
    "fractional-category-ids": _edit(lambda r: [dict(e, category_id=e["category_id"] + 0.5) for e in r]),
    "bool-image-id": _edit(_set(0, "image_id", True)),  # True == 1: loadRes finds image 1
    "bool-category-ids": _edit(lambda r: [dict(e, category_id=True) for e in r]),  # True == 1 in Python
    "integral-float-category-ids": _edit(lambda r: [dict(e, category_id=float(e["category_id"])) for e in r]),
}


@pytest.fixture(scope="module")
def gt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_json(tmp_path_factory.mktemp("gt") / "instances.json", GT)


def _model(results: Any, gt_path: Path, max_dets: int = 100) -> _cocoeval.Evaluation:
    """The model's answer on the same files, read by detlint's own readers."""
    ds = detlint.load(gt_path.parent)
    results_file = write_json(gt_path.parent.parent / f"results-{id(results)}.json", results)
    return _cocoeval.predict(ds, load_predictions(results_file, ds), max_dets=max_dets)


def _kept_ids(ev: _cocoeval.Evaluation, results: Any, gt_path: Path) -> set[int]:
    """loadRes numbers the results 1.. in file order: a kept row's id is its position + 1."""
    ds = detlint.load(gt_path.parent)
    preds = load_predictions(write_json(gt_path.parent.parent / "ids.json", results), ds)
    return set((preds.detections.src_item[ev.kept] + 1).tolist())


@pytest.mark.parametrize("name", sorted(CASES))
def test_model_equals_real_pycocotools(name: str, gt_file: Path, tmp_path: Path) -> None:
    results_file = write_json(tmp_path / "results.json", CASES[name])
    real = truth(gt_file, results_file)
    predicted = _model(CASES[name], gt_file)
    if predicted.raises is not None and not predicted.raises.exact:  # the type is sure, its text a guess
        assert real.raised is not None and real.raised.startswith(predicted.raises.type + ": ")
    else:
        assert (predicted.raises.exception if predicted.raises else None) == real.raised
    if real.raised is None:
        assert predicted.evaluated_images == real.evaluated_images
        assert _kept_ids(predicted, CASES[name], gt_file) == real.kept_ids
        # every entry loadRes loaded counts: the reader's set-aside ones too (a null category_id)
        assert predicted.detections == len(CASES[name])
        assert predicted.ignored_unknown_class + predicted.ignored_past_max_dets == \
            predicted.detections - len(real.kept_ids)


def test_max_dets_is_per_image_and_category(gt_file: Path, tmp_path: Path) -> None:
    """useCats=1: 150 detections of one class on one image lose 50; spread over 3 classes, none."""
    one = truth(gt_file, write_json(tmp_path / "one.json", CASES["150-one-class"]))
    three = truth(gt_file, write_json(tmp_path / "three.json", CASES["150-three-classes"]))
    assert (len(one.kept_ids), len(three.kept_ids)) == (100, 150)
    assert _model(CASES["150-one-class"], gt_file).ignored_past_max_dets == 50
    assert _model(CASES["150-three-classes"], gt_file).ignored_past_max_dets == 0
    # the cut keeps the 100 best scores; ties (0.25 from entry 120 on) in file order
    assert one.kept_ids == set(range(1, 101))


def test_nan_scores_sort_last_and_go_first(gt_file: Path, tmp_path: Path) -> None:
    results = CASES["nan-scores-past-max-dets"]
    real = truth(gt_file, write_json(tmp_path / "nan.json", results))
    nan_ids = {i + 1 for i, e in enumerate(results) if math.isnan(e["score"])}
    assert not real.kept_ids & nan_ids  # 22 NaN scores, 50 cut: every NaN is among the cut
    assert _model(results, gt_file).ignored_past_max_dets == 50


def test_small_max_dets_agrees(gt_file: Path, tmp_path: Path) -> None:
    real = truth(gt_file, write_json(tmp_path / "r.json", CASES["150-three-classes"]), max_dets=10)
    predicted = _model(CASES["150-three-classes"], gt_file, max_dets=10)
    assert _kept_ids(predicted, CASES["150-three-classes"], gt_file) == real.kept_ids
    assert len(real.kept_ids) == 30


def test_summary_text_names_the_exception_and_the_counts(gt_file: Path) -> None:
    text = _model(CASES["unknown-image-ids"], gt_file).text
    assert text == ("pycocotools: loadRes would raise AssertionError ('Results do not correspond to current coco "
                    "set'): 3 detections name 2 image ids the dataset lacks (e.g. 9999)")
    text = _model(CASES["150-one-class"], gt_file).text
    assert text == ("pycocotools COCOeval (bbox, maxDets 100) would evaluate 20 images (19 of them without "
                    "detections), use 100 of 150 detections: 50 past maxDets ignored")


def test_a_million_detections_take_well_under_a_second(gt_file: Path) -> None:
    ds = detlint.load(gt_file.parent)
    rng = np.random.default_rng(0)
    n = 1_000_000
    det = Annotations.empty(n)
    det.class_id = rng.choice(np.array(COCO_IDS + [91, 0]), n)
    det.src_item = np.arange(n, dtype=np.int32)
    image_ids = rng.integers(1, 21, n)
    det.image = (image_ids - 1).astype(np.int32)  # the ground truth's image ids are 1..20, rows 0..19
    preds = Predictions(format="coco-results", title="COCO results", source=Path("r.json"), detections=det,
                        scores=rng.random(n), score_state=np.zeros(n, np.int8),
                        image_keys=image_ids.astype(object), meta={"top": "list"})
    preds.validate()
    elapsed = math.inf
    for _ in range(2):  # the better of two: the CPUs are shared
        start = time.perf_counter()
        ev = _cocoeval.predict(ds, preds)
        elapsed = min(elapsed, time.perf_counter() - start)
    assert ev.raises is None and ev.kept.sum() == 20 * 80 * 100
    assert elapsed < 0.8, elapsed


def _p013_via_cli(gt_path: Path, results_file: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["check", str(gt_path.parent), "--predictions", str(results_file),
                                       "--output-format", "json", "--no-cache", "--images", "none",
                                       "--select", "P"])
    assert result.exit_code in (0, 1), result.output
    found = [f for f in json.loads(result.stdout)["findings"] if f["code"] == "P013"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_reports_what_pycocotools_does(name: str, gt_file: Path, tmp_path: Path) -> None:
    """``detlint check GT --predictions FILE``: one P013 with the model's summary, and the summary
    names the real exception, or the real number of images and of detections that take part."""
    results_file = write_json(tmp_path / "results.json", CASES[name])
    real = truth(gt_file, results_file)
    finding = _p013_via_cli(gt_file, results_file)
    predicted = _model(CASES[name], gt_file)
    assert finding["message"] == predicted.text
    if real.raised is not None:
        kind, _, message = real.raised.partition(": ")
        assert f"would raise {kind} (" in finding["message"]
        assert predicted.raises is not None
        if predicted.raises.exact:
            assert message.strip("'") in finding["message"]
    else:
        n, kept = len(CASES[name]), len(real.kept_ids)
        used = f"use all {n:,} detections" if kept == n else f"use {kept:,} of {n:,} detections"
        assert f"would evaluate {real.evaluated_images:,} images" in finding["message"]
        assert used in finding["message"]


def test_a_string_score_raises_type_error(gt_file: Path, tmp_path: Path) -> None:
    """The reader keeps no score's type, so the model names the exception without the operand."""
    results = _edit(_set(2, "score", "high"))
    real = truth(gt_file, write_json(tmp_path / "r.json", results))
    predicted = _model(results, gt_file).raises
    assert real.raised == "TypeError: bad operand type for unary -: 'str'"
    assert predicted is not None and real.raised.startswith(predicted.exception)


INF_LATE = [dict(e, score=math.inf) if i == 140 else e for i, e in enumerate(_many([1]))]


def test_an_infinite_score_sorts_first(gt_file: Path, tmp_path: Path) -> None:
    real = truth(gt_file, write_json(tmp_path / "r.json", INF_LATE))
    assert 141 in real.kept_ids  # entry 140, the last but 9, is kept: its -score, -inf, sorts first
    assert _kept_ids(_model(INF_LATE, gt_file), INF_LATE, gt_file) == real.kept_ids


def test_a_boolean_score_is_a_number_to_pycocotools(gt_file: Path, tmp_path: Path) -> None:
    """``-True`` is -1: no exception, and true ranks like a score of 1."""
    results = [dict(e, score=True) if i == 130 else e for i, e in enumerate(_many([1]))]
    real = truth(gt_file, write_json(tmp_path / "r.json", results))
    predicted = _model(results, gt_file)
    assert (predicted.raises, real.raised) == (None, None)
    assert 131 in real.kept_ids and _kept_ids(predicted, results, gt_file) == real.kept_ids
