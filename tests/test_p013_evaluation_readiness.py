"""P013 evaluation-readiness as a rule: one finding per predictions file, the pycocotools model
for COCO results on a COCO dataset, a generic evaluator's wording otherwise, ``max-dets``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import detlint
from detlint.cli import main
from detlint.formats.predictions import load as load_predictions
from detlint.rules import RULES, p013_evaluation_readiness
from detlint.rules.context import RuleContext

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"


def _findings(dataset: Path, predictions: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(main, ["check", str(dataset), "--predictions", str(predictions), "--output-format",
                                       "json", "--no-cache", "--images", "none", *extra])
    assert result.exit_code in (0, 1), result.output
    return [f for f in json.loads(result.stdout)["findings"] if f["code"] == "P013"]


def test_registered_with_its_metadata() -> None:
    rule = RULES["P013"]
    assert (rule.NAME, rule.SEVERITY, rule.FIX, rule.NEEDS) == ("evaluation-readiness", "info", None, "predictions")
    assert rule.OPTIONS == {"max-dets": 100}


def test_coco_results_on_coco_get_the_pycocotools_summary() -> None:
    found = _findings(FIXTURES / "coco_clean", FIXTURES / "P013" / "results.json")
    assert [f["message"] for f in found] == [
        "pycocotools COCOeval (bbox, maxDets 100) would evaluate 3 images (1 of them without detections), "
        "use 3 of 4 detections: 1 of unknown classes ignored"]


def test_without_predictions_it_does_not_run() -> None:
    result = CliRunner().invoke(main, ["check", str(FIXTURES / "coco_clean"), "--output-format", "json",
                                       "--no-cache", "--images", "none"])
    assert all(f["code"] != "P013" for f in json.loads(result.stdout)["findings"])


def test_the_evaluation_numbers_are_in_the_finding_data() -> None:
    ds = detlint.load(FIXTURES / "coco_clean")
    preds = load_predictions(FIXTURES / "P013" / "unknown_images.json", ds)
    [finding] = p013_evaluation_readiness.check(ds, RuleContext(predictions=preds))
    evaluation = finding.data["evaluation"]
    assert evaluation["raises"]["type"] == "AssertionError"
    assert evaluation["raises"]["message"] == "Results do not correspond to current coco set"
    assert (evaluation["model"], evaluation["detections"], evaluation["kept"]) == ("pycocotools", 2, 0)


def test_max_dets_option_caps_per_image_and_class(tmp_path: Path) -> None:
    results = [{"image_id": 1, "category_id": 1 + i % 2, "bbox": [i, 1, 10, 10], "score": 1 - i / 100}
               for i in range(30)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    ds = detlint.load(FIXTURES / "coco_clean")
    ctx = RuleContext(options={"max-dets": 10}, predictions=load_predictions(path, ds))
    [finding] = p013_evaluation_readiness.check(ds, ctx)
    assert finding.data["evaluation"]["ignored_past_max_dets"] == 10  # 15 per class, 10 kept of each
    assert "maxDets 10)" in finding.message


def test_yolo_predictions_get_the_generic_wording(tmp_path: Path) -> None:
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n7 0.5 0.5 0.2 0.2 0.8\n")
    (folder / "zzz.txt").write_text("1 0.5 0.5 0.2 0.2 0.7\n")
    found = _findings(FIXTURES / "yolo_clean", folder)
    assert [f["message"] for f in found] == [
        "an evaluator (COCO-style, maxDets 100 per image and class) would evaluate 4 images (3 of them without "
        "detections), use 1 of 3 detections: 1 of unknown images ignored, 1 of unknown classes ignored"]
