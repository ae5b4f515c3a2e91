"""detlint smoke: check, inspect and train a few steps on CPU, diagnosing what breaks training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from click.testing import CliRunner  # noqa: E402
from helpers import make_yolo as shared_make_yolo  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from detlint.cli import main  # noqa: E402
from detlint.errors import UsageError  # noqa: E402
from detlint.smoke import render_json, render_text, run_smoke  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# A light Faster R-CNN head so a CPU step takes a fraction of a second; the checks are the same.
LIGHT = {"box_batch_size_per_image": 32, "rpn_batch_size_per_image": 64, "rpn_pre_nms_top_n_train": 200,
         "rpn_post_nms_top_n_train": 100}
LIGHT_FLAGS = [arg for key, value in LIGHT.items() for arg in ("--model-option", f"{key}={value}")]
FAST = ["--image-size", "128", "--steps", "2", "--batch-size", "2", "--device", "cpu", *LIGHT_FLAGS]


def make_yolo(root: Path, labels: dict[str, str], names: list[str], size: tuple[int, int] = (64, 64)) -> Path:
    return shared_make_yolo(root, labels, names, size, noise=True)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny CPU steps: one intra-op thread is as fast and does not fight other test processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return make_yolo(tmp_path / "clean", {
        "a": "0 0.3 0.3 0.4 0.4\n1 0.7 0.7 0.3 0.3\n",
        "b": "1 0.5 0.5 0.5 0.6\n",
        "c": "0 0.5 0.5 0.9 0.9\n",
        "d": "",
    }, ["cat", "dog"])


def smoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["smoke", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def light_smoke(path: Path, **kwargs) -> object:
    options = {"image_size": 128, "steps": 2, "batch_size": 2, "device": "cpu", "model_options": LIGHT} | kwargs
    return run_smoke(path, **options)


def codes(report) -> list[str]:
    return [d.code for d in report.diagnoses]


def test_clean_dataset_trains_and_reports_json(clean: Path) -> None:
    status, output = smoke(str(clean), *FAST, "--output-format", "json")
    assert status == 0, output
    document = json.loads(output)
    assert document["ok"] is True
    assert document["device"] == "cpu" and document["model"] == "fasterrcnn_mobilenet_v3_large_320_fpn"
    assert document["num_classes"] == 3 and document["images"] == 4 and document["split"] == "train"
    assert len(document["steps"]) == 2
    for step in document["steps"]:
        assert {"step", "loss", "loss_terms", "grad_norm", "time_s"} <= set(step)
        assert math.isfinite(step["loss"]) and math.isfinite(step["grad_norm"]) and step["time_s"] > 0
        assert all(math.isfinite(v) for v in step["loss_terms"].values())
    assert document["throughput"]["images_per_s"] > 0 and document["throughput"]["steps_per_s"] > 0
    assert document["peak_memory_bytes"] > 0 and document["peak_memory_source"] == "rss"
    assert document["inspected"]["dtypes"] == ["float32"] and document["inspected"]["channels"] == [3]
    # the negative sample d is worth a note, not a failure
    assert [(d["code"], d["severity"]) for d in document["diagnoses"]] == [("T009", "info")]
    for diagnosis in document["diagnoses"]:
        assert set(diagnosis) >= {"code", "message", "sample", "file", "fix"}


def test_class_index_past_nc_stops_at_the_check(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "bad", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.3 0.3\n"},
                     ["cat", "dog"])
    status, output = smoke(str(root), *FAST)
    assert status == 1
    assert f"{root}/labels/train/b.txt:2: C001 error: class index 5" in output
    assert "smoke stopped before training" in output
    status, output = smoke(str(root), *FAST, "--output-format", "json")
    document = json.loads(output)
    assert status == 1 and document["ok"] is False and document["steps"] == []
    assert [(d["code"], d["file"], d["line"]) for d in document["diagnoses"]] == [("C001", "labels/train/b.txt", 2)]


def test_no_check_lets_the_adapter_skip_unknown_classes(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "bad", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.3 0.3\n"},
                     ["cat", "dog"])
    report = light_smoke(root, check=False, steps=1)
    assert report.ok and report.inspected["boxes"] == 2 and not report.checked
    # ... and says so: which file, which line, how many boxes (#15 item 18)
    left_out = [d for d in report.diagnoses if d.code == "T007"]
    assert len(left_out) == 1 and left_out[0].severity == "warning"
    assert (left_out[0].file, left_out[0].line, left_out[0].count) == ("labels/train/b.txt", 2, 1)
    assert "1 box in 1 file" in left_out[0].message and "class 5" in left_out[0].message


def test_no_check_names_every_left_out_box_in_the_text_output(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "bad", {"a": "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.3 0.3\n",
                                        "b": "1 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.3 0.3\n9 0.2 0.2 0.1 0.1\n"},
                     ["cat", "dog"])
    status, output = smoke(str(root), *FAST, "--steps", "1", "--no-check")
    assert status == 0, output
    assert "T007" in output and "3 boxes in 2 files" in output and "labels/train/a.txt" in output


class ResizeImageOnly:
    """A broken transform: resizes the image tensor and forgets the boxes."""

    def __call__(self, image, target):
        resized = torch.nn.functional.interpolate(image[None].float() / 255, size=(32, 32), mode="bilinear")[0]
        return resized, target


def test_transform_that_forgets_the_boxes_is_diagnosed(clean: Path) -> None:
    report = light_smoke(clean, transforms=ResizeImageOnly(), steps=1)
    assert not report.ok and report.exit_code == 1
    found = {d.code: d for d in report.diagnoses}
    assert "T005" in found and "T004" in found
    assert "64x64 image but the transformed image is 32x32" in found["T005"].message
    assert found["T005"].file == "images/train/a.png" and found["T005"].sample == 0
    assert "transforms(image, target)" in found["T005"].fix
    text = render_text(report)
    assert f"{clean}/images/train/a.png sample 0: T005 error" in text and "FAILED" in text


def test_unscaled_float_images_are_diagnosed(clean: Path) -> None:
    transforms = v2.Compose([v2.Resize(size=None, max_size=128), v2.ToDtype(torch.float32)])  # no scale=True
    report = light_smoke(clean, transforms=transforms, steps=1)
    found = {d.code: d for d in report.diagnoses}
    assert "T002" in found and "0-255" in found["T002"].message and "scale=True" in found["T002"].fix
    assert json.loads(render_json(report))["ok"] is False


def test_uint8_images_are_diagnosed_before_the_model_fails(clean: Path) -> None:
    report = light_smoke(clean, transforms=v2.Resize(size=None, max_size=128), steps=1)
    assert codes(report)[:1] == ["T001"]
    assert "T013" in codes(report)  # and the model's own TypeError, pointing back at T001
    failed = next(d for d in report.diagnoses if d.code == "T013")
    assert "T001" in failed.fix and report.steps == []


class ShiftLabels:
    """A broken transform: scales the image correctly but shifts labels past the model's classes."""

    def __call__(self, image, target):
        return v2.functional.to_dtype(image, torch.float32, scale=True), dict(target, labels=target["labels"] + 5)


def test_label_past_the_model_classes_is_diagnosed_and_left_out(clean: Path) -> None:
    report = light_smoke(clean, transforms=ShiftLabels(), steps=1)
    found = {d.code: d for d in report.diagnoses}
    assert "label 6 is outside the model's classes 0..2" in found["T007"].message
    assert found["T007"].file == "images/train/a.png" and report.steps == [] and not report.ok


def test_background_label_is_diagnosed(clean: Path) -> None:
    report = light_smoke(clean, label_offset=0, steps=1)
    assert "T008" in codes(report) and report.num_classes == 2


def test_dataloader_workers_and_batch_size_search(clean: Path) -> None:
    report = light_smoke(clean, num_workers=2, find_batch_size=True, max_batch_size=4, steps=1)
    assert report.ok, render_text(report)
    search = report.batch_size_search
    assert search["largest"] == 4 and search["limit"] == "reached the cap 4"
    assert [t["batch_size"] for t in search["trials"]] == [2, 4]
    assert "largest that fits 4" in render_text(report)


def test_bundled_fixture_smokes() -> None:
    status, output = smoke(str(FIXTURES / "yolo_clean"), *FAST)
    assert status == 0, output
    assert "OK: 2 training steps ran" in output


def test_failing_sample_is_named(clean: Path) -> None:
    (clean / "images" / "train" / "b.png").write_bytes(b"not a png")
    report = light_smoke(clean, check=False, steps=1)
    failed = next(d for d in report.diagnoses if d.code == "T015")
    assert failed.file == "images/train/b.png" and failed.sample == 1


@pytest.mark.parametrize("args, message", [
    (["--split", "val"], "no such split"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--model-option", "nonsense"], "expected KEY=VALUE"),
    (["--model-option", "no_such_argument=1"], "takes no option no_such_argument"),
])
def test_usage_errors_exit_2(clean: Path, args: list[str], message: str) -> None:
    status, output = smoke(str(clean), "--device", "cpu", *args)
    assert status == 2 and message in output


def test_missing_path_and_cuda_without_gpu_exit_2(tmp_path: Path) -> None:
    status, output = smoke(str(tmp_path / "nowhere"))
    assert status == 2 and "no such file or directory" in output
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            run_smoke(tmp_path, device="cuda")


def test_unknown_class_diagnosis_agrees_in_number() -> None:
    from detlint.smoke.diagnose import unknown_classes_left_out

    one = unknown_classes_left_out(1, 1, "labels/a.txt", 3, 7, 1).message
    assert one.startswith("1 box in 1 file has a class outside the 1 declared class and was left out")
    many = unknown_classes_left_out(2, 2, "labels/a.txt", 3, 7, 3).message
    assert many.startswith("2 boxes in 2 files have a class outside the 3 declared classes and were left out")
