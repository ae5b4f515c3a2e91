"""``check --target``: the torchvision adapter against real torchvision, the consequences and the
per-target summary in the reporters, and smoke's pre-check agreeing with the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from detlint import load
from detlint.cli import main
from detlint.resources import load_schema
from detlint.targets import torchvision as tv_target
from detlint.targets.base import TargetContext
from tests.helpers import write_image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COCO_BOXES = FIXTURES / "rules" / "coco_boxes"
W, H = 64, 48
# (x, y, w, h) per image, COCO pixels: the planted defects on a 64 x 48 canvas
PLANTED = [
    [[10, 10, 20, 20], [20, 20, 0.5, 10], [-0.3, 5, 10, 10]],  # fine, tiny (min_size), a hair left
    [[40, 30, 24.4, 18], [5, 5, 30, 30]],  # 0.4 px past the right edge, fine
    [[30, 10, 0, 12], [1, 1, 10, 10]],  # degenerate (raises), fine
    [[70, 10, 10, 10], [0, 0, 64, 48]],  # entirely outside, the whole image exactly
    [[10, 10, 0.9, 0.9 + 0.2], [2, 2, 3, 3]],  # area below min_area, fine
]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args, "--no-cache"])
    return result.exit_code, result.stdout, result.stderr


def coco_dataset(root: Path, planted: list[list[list[float]]] = PLANTED) -> Path:
    images, annotations = [], []
    for i, boxes in enumerate(planted):
        write_image(root / f"{i}.jpg", (W, H))
        images.append({"id": i + 1, "file_name": f"{i}.jpg", "width": W, "height": H})
        for box in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1, "bbox": box,
                                "area": box[2] * box[3], "iscrowd": 0})
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations.json").write_text(json.dumps(doc))
    return root


def test_unknown_target_is_one_line_and_exit_2() -> None:
    status, stdout, stderr = run(str(COCO_BOXES), "--target", "nope")
    assert status == 2 and stdout == ""
    assert stderr.strip().splitlines() == ["detlint: error: --target: unknown target 'nope' (known: detectron2, mmdet, rfdetr, torchvision, ultralytics)"]


def test_json_report_with_targets_is_valid_and_carries_consequences() -> None:
    status, stdout, _ = run(str(COCO_BOXES), "--target", "torchvision", "--output-format", "json")
    report = json.loads(stdout)
    jsonschema.validate(report, load_schema("report.schema.json"))
    tv = report["targets"]["torchvision"]
    assert tv["images_dropped"] == [] and tv["rewrites"] == 0 and tv["boxes_dropped"] == 5
    assert len(tv["raises"]) == 1 and tv["raises"][0].startswith(tv_target.RAISE_PREFIX)
    by_pointer = {f["pointer"]: f.get("consequences") for f in report["findings"]}
    assert by_pointer["/annotations/0/bbox"]["torchvision"].startswith("raises: All bounding boxes")
    assert "SanitizeBoundingBoxes removes it" in by_pointer["/annotations/10/bbox"]["torchvision"]
    assert by_pointer["/annotations/5/bbox"] is None  # a duplicate box trains: no consequence


def test_without_target_nothing_changes() -> None:
    _, stdout, _ = run(str(COCO_BOXES), "--output-format", "json")
    report = json.loads(stdout)
    assert "targets" not in report and all("consequences" not in f for f in report["findings"])
    assert not any(f["code"].startswith("R") for f in report["findings"])


def test_clean_dataset_gets_an_empty_summary() -> None:
    _, stdout, _ = run(str(FIXTURES / "rules" / "coco_clean"), "--target", "torchvision", "--output-format", "json")
    assert json.loads(stdout)["targets"] == {"torchvision": {"images_dropped": [], "boxes_dropped": 0, "raises": [],
                                                              "rewrites": 0}}


def test_concise_shows_consequence_lines_and_the_summary_block() -> None:
    _, stdout, _ = run(str(COCO_BOXES), "--target", "torchvision")
    lines = stdout.splitlines()
    b005 = next(i for i, line in enumerate(lines) if " B005 " in line)
    assert lines[b005 + 1] == ("  -> torchvision: drops the box: SanitizeBoundingBoxes removes it, when in the "
                               "transform pipeline (side below min_size 1 or area below min_area 1)")
    summary = lines.index("Target torchvision: 0 images dropped, 5 boxes dropped, 1 crash, 0 silent rewrites")
    assert lines[summary + 1].startswith("  raises: All bounding boxes should have positive height and width.")
    assert lines[-1].startswith("Found ")


def test_config_target_and_the_other_reporters(tmp_path: Path) -> None:
    root = coco_dataset(tmp_path / "d")
    (root / "detlint.toml").write_text('target = ["torchvision"]\n')
    _, sarif, _ = run(str(root), "--output-format", "sarif")
    run_ = json.loads(sarif)["runs"][0]
    assert run_["properties"]["targets"]["torchvision"]["boxes_dropped"] == 5  # the degenerate box raises instead
    sarif_schema = FIXTURES.parents[1] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
    if sarif_schema.is_file():  # the same schema tests/test_reporters.py validates against
        jsonschema.Draft4Validator(json.loads(sarif_schema.read_text())).validate(json.loads(sarif))
    assert any("torchvision" in r.get("properties", {}).get("consequences", {}) for r in run_["results"])
    _, github, _ = run(str(root), "--output-format", "github")
    assert "::notice title=detlint --target torchvision::torchvision: 0 images dropped" in github
    _, gitlab, _ = run(str(root), "--output-format", "gitlab")
    assert "[torchvision: drops the box:" in gitlab
    _, page, _ = run(str(root), "--output-format", "html")
    assert "id='target-torchvision'" in page and "class='consequence'" in page
    (root / "detlint.toml").write_text('target = ["nope"]\n')
    status, _, stderr = run(str(root))
    assert status == 2 and "unknown target 'nope' (known: detectron2, mmdet, rfdetr, torchvision, ultralytics)" in stderr


# --------------------------------------------------------------------------- against real torchvision

def test_sanitize_removals_are_exactly_the_predicted_ones(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torchvision.transforms import v2

    from detlint.torch import DetectionDataset

    ds = load(coco_dataset(tmp_path / "d"))
    outcome = tv_target.assess(ds, TargetContext(root=ds.root, images_level="header"))
    predicted = {row for row, why in outcome.dropped_boxes.items() if why.startswith(tv_target.SANITIZE)}
    predicted |= {r.annotation_row for r in outcome.raises if r.annotation_row is not None}
    data, sanitize, removed = DetectionDataset(ds), v2.SanitizeBoundingBoxes(), set()
    for index in range(len(data)):
        image, target = data[index]
        rows = data._rows[data._starts[index]:data._ends[index]]
        target["labels"] = torch.arange(len(rows))  # which rows survive, through the labels it keeps
        _, kept = sanitize(image, target)
        removed |= set(rows.tolist()) - set(rows[kept["labels"].numpy()].tolist())
    assert removed == predicted and len(removed) == 6  # tiny, left, right, degenerate, outside, area


def test_a_degenerate_box_makes_the_real_model_raise_where_the_adapter_says(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    from detlint.torch import DetectionDataset

    ds = load(coco_dataset(tmp_path / "d"))
    raised = tv_target.assess(ds, TargetContext(root=ds.root, images_level="header")).raises
    assert [(r.image_row, r.annotation_row) for r in raised] == [(2, 5)]
    data = DetectionDataset(ds, dtype="float")
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=2).train()
    torch.manual_seed(0)
    for bad_position, order in ((1, [0, 2]), (0, [2, 1])):
        images, targets = zip(*(data[i] for i in order))
        with pytest.raises(AssertionError) as error:
            model(list(images), [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets])
        assert str(error.value).startswith(tv_target.RAISE_PREFIX)
        assert str(error.value).endswith(f"for target at index {bad_position}.")
    images, targets = zip(*(data[i] for i in (0, 1)))  # no degenerate box: the step runs
    losses = model(list(images), [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets])
    assert all(np.isfinite(float(v.detach())) for v in losses.values())


def test_smoke_precheck_reports_what_the_adapter_says_raises(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from detlint.smoke import run_smoke

    root = coco_dataset(tmp_path / "d", [[[10, 10, 20, 20]], [[30, 10, 0, 12]]])
    ds = load(root)
    raised = tv_target.assess(ds, TargetContext(root=ds.root, images_level="header")).raises
    report = run_smoke(root, device="cpu", steps=1)
    t006 = [d for d in report.diagnoses if d.code == "T006"]
    assert [d.message for d in t006] == [f"torchvision raises at batch time: {r.message}" for r in raised]
    assert t006[0].file == "annotations.json" and report.steps == []
