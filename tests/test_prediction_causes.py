"""P003 names the cause of wrong class references from the whole file, on results built from the
real COCO category list (80 classes, sparse ids 1..90): off by one, a model's 0-based class
index written as the COCO id, COCO's 91-class ids against a dataset numbered 1..80, names where
ids belong; and says nothing on clean results."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from detlint.cli import main
from tests.cocoeval_truth import COCO_CATEGORIES, COCO_IDS, detections_from, ground_truth


def _p003(tmp_path: Path, gt: dict, results: list[dict]) -> list[str]:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "annotations.json").write_text(json.dumps(gt))
    (tmp_path / "preds.json").write_text(json.dumps(results))
    result = CliRunner().invoke(main, ["check", str(tmp_path / "data"), "--predictions", str(tmp_path / "preds.json"),
                                       "--images", "none", "--no-cache", "--output-format", "json", "--select", "P003"])
    assert result.exit_code in (0, 1), result.output
    return [f["message"] for f in json.loads(result.stdout)["findings"]]


def _file_finding(messages: list[str]) -> str:
    """The finding about the whole file (the one that states the evidence)."""
    found = [m for m in messages if "of the most confident detections" in m and "is not a class" not in m]
    assert len(found) == 1, messages
    return found[0]


@pytest.fixture
def gt() -> dict:
    return ground_truth(n_images=40, per_image=6)


def test_clean_results_give_no_p003(tmp_path: Path, gt: dict) -> None:
    assert _p003(tmp_path, gt, detections_from(gt)) == []


def test_every_id_one_too_high(tmp_path: Path, gt: dict) -> None:
    results = [{**d, "category_id": d["category_id"] + 1} for d in detections_from(gt)]
    assert "one too high" in _file_finding(_p003(tmp_path, gt, results))


def test_a_models_class_index_written_as_the_coco_id(tmp_path: Path, gt: dict) -> None:
    results = [{**d, "category_id": COCO_IDS.index(d["category_id"])} for d in detections_from(gt)]
    messages = _p003(tmp_path, gt, results)
    assert "position in the class list" in _file_finding(messages)
    # and each id that is no class at all is listed with that cause
    assert any("is not a class of the dataset" in m and "position in the class list" in m for m in messages)


def test_coco_91_ids_against_a_dataset_numbered_1_to_80(tmp_path: Path, gt: dict) -> None:
    renumbered = copy.deepcopy(gt)
    to_80 = {c["id"]: k + 1 for k, c in enumerate(COCO_CATEGORIES)}
    renumbered["categories"] = [{**c, "id": to_80[c["id"]]} for c in COCO_CATEGORIES]
    for ann in renumbered["annotations"]:
        ann["category_id"] = to_80[ann["category_id"]]
    results = detections_from(gt)  # the COCO ids a COCO-trained model writes
    assert "91-class ids" in _file_finding(_p003(tmp_path, renumbered, results))


def test_class_names_where_ids_belong(tmp_path: Path, gt: dict) -> None:
    names = {c["id"]: c["name"] for c in COCO_CATEGORIES}
    results = [{**d, "category_id": names[d["category_id"]]} for d in detections_from(gt)]
    messages = _p003(tmp_path, gt, results)
    assert messages and all("a class name where the category_id belongs" in m for m in messages)


def test_without_ground_truth_boxes_the_readings_are_judged_by_shape_and_coverage(tmp_path: Path, gt: dict) -> None:
    """No label box to compare with: P008 falls back to impossible boxes, P003 to coverage."""
    empty = {**gt, "annotations": []}
    xyxy = [{**d, "bbox": [d["bbox"][0], d["bbox"][1], d["bbox"][0] + d["bbox"][2], d["bbox"][1] + d["bbox"][3]],
             "category_id": COCO_IDS.index(d["category_id"])} for d in detections_from(gt)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "annotations.json").write_text(json.dumps(empty))
    (tmp_path / "preds.json").write_text(json.dumps(xyxy))
    result = CliRunner().invoke(main, ["check", str(tmp_path / "data"), "--predictions", str(tmp_path / "preds.json"),
                                       "--images", "none", "--no-cache", "--output-format", "json",
                                       "--select", "P003,P008"])
    messages = {f["code"]: f["message"] for f in json.loads(result.stdout)["findings"]}
    assert "look like [x1 y1 x2 y2]" in messages["P008"] and "ground-truth box" not in messages["P008"]
    assert "no ground-truth box overlaps enough detections" in messages["P003"]
