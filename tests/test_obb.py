"""Oriented boxes: the geometry against ultralytics' own functions, YOLO-OBB read and written,
YOLO-OBB <-> DOTA exact, and the listed loss of every axis-aligned target."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import detlint
from detlint import formats
from detlint.formats import ReadOptions, WriteOptions, save
from detlint.geometry import obb
from detlint.model import Annotations

FORMATS = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
YOLO_OBB = FORMATS / "yolo_obb"
DOTA = FORMATS / "dota"
ops = pytest.importorskip("ultralytics.utils.ops")


def _random_rboxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(10, 500, (n, 5))
    x[:, 2] = rng.uniform(20, 80, n)
    x[:, 3] = x[:, 2] * rng.uniform(0.2, 0.9, n)  # never square: its angle has two equal answers
    x[:, 4] = rng.uniform(-3, 3, n)
    return x


def _corners(ds: detlint.Dataset) -> np.ndarray:
    ann = ds.annotations
    return np.array([ann.segmentation[i] for i in np.flatnonzero(ann.kind == Annotations.KIND_OBB)], np.float64)


def test_corners_to_xywhr_agrees_with_ultralytics() -> None:
    corners = ops.xywhr2xyxyxyxy(_random_rboxes(300)).reshape(-1, 8)
    ours, theirs = obb.corners_to_xywhr(corners), ops.xyxyxyxy2xywhr(corners)
    np.testing.assert_allclose(ours, theirs, atol=2e-4)  # theirs goes through float32
    fixture = _corners(detlint.load(DOTA))
    ours, theirs = obb.corners_to_xywhr(fixture), ops.xyxyxyxy2xywhr(fixture)
    np.testing.assert_allclose(ours[:, :4], theirs[:, :4], atol=1e-3)
    oblong = ours[:, 2] > ours[:, 3] + 1e-6  # a square's angle is any of four equal answers
    np.testing.assert_allclose(ours[oblong, 4], theirs[oblong, 4], atol=1e-5)


def test_xywhr_to_corners_and_regularize_agree_with_ultralytics() -> None:
    torch = pytest.importorskip("torch")
    rboxes = _random_rboxes(50, seed=1)
    np.testing.assert_allclose(obb.xywhr_to_corners(rboxes), ops.xywhr2xyxyxyxy(rboxes).reshape(-1, 8), atol=1e-9)
    np.testing.assert_allclose(obb.regularize_xywhr(rboxes), ops.regularize_rboxes(torch.tensor(rboxes)).numpy(),
                               atol=1e-9)


def test_min_area_rect_is_cv2s_rectangle() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(2)
    quads = rng.uniform(0, 100, (200, 8))
    rects = obb.min_area_rects(quads)
    for quad, rect in zip(quads, rects):
        (_, _), (w, h), _ = cv2.minAreaRect(quad.reshape(4, 2).astype(np.float32))
        assert abs(obb.signed_area(rect[None])[0] - w * h) <= 1e-3 * max(1.0, w * h)
    assert obb.is_clockwise(rects).all()


def test_orientation_crossing_and_order() -> None:
    clockwise = np.array([[10, 10, 50, 10, 50, 30, 10, 30]], float)
    ccw = clockwise[:, [0, 1, 6, 7, 4, 5, 2, 3]]
    bow_tie = clockwise[:, [0, 1, 2, 3, 6, 7, 4, 5]]
    assert obb.signed_area(clockwise)[0] == 800 and obb.signed_area(ccw)[0] == -800
    assert not obb.self_crossing(np.vstack([clockwise, ccw])).any() and obb.self_crossing(bow_tie)[0]
    assert obb.hull_area(bow_tie)[0] == 800
    np.testing.assert_array_equal(obb.reorder(ccw), clockwise)
    np.testing.assert_array_equal(obb.reorder(np.roll(clockwise, 4, axis=1)), clockwise)
    assert obb.in_order(clockwise)[0] and not obb.in_order(ccw)[0]
    np.testing.assert_array_equal(obb.enclosing_boxes(bow_tie), [[10, 10, 50, 30]])


def test_yolo_obb_reads_oriented_boxes_in_pixels() -> None:
    facts = json.loads((YOLO_OBB / "expected.json").read_text())
    ds = detlint.load(YOLO_OBB)
    ann = ds.annotations
    assert (len(ds.images), len(ann), ds.categories.names) == (facts["images"], facts["annotations"],
                                                                 facts["classes"])
    assert (ann.kind == Annotations.KIND_OBB).all() and "obb" in ds.meta
    first = int(np.flatnonzero(ann.src_line == 1)[0])
    assert ann.segmentation[first] == pytest.approx([10, 10, 50, 10, 50, 30, 10, 30])
    np.testing.assert_allclose(ann.boxes[first], [10, 10, 50, 30])


def test_task_decides_what_a_nine_token_row_is(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(YOLO_OBB, plain)
    yaml = plain / "data.yaml"
    yaml.write_text(yaml.read_text().replace("task: obb\n", ""))
    polygons = detlint.load(plain).annotations
    assert (polygons.kind == Annotations.KIND_POLYGON).all()
    oriented = formats.load(plain, options=ReadOptions(yolo_task="obb")).annotations
    assert (oriented.kind == Annotations.KIND_OBB).all()
    yaml.rename(plain / "DOTAv1.yaml")  # ultralytics' DOTA description has no task key
    assert (detlint.load(plain).annotations.kind == Annotations.KIND_OBB).all()


def test_ultralytics_drops_the_images_detlint_reports(tmp_path: Path) -> None:
    """ultralytics' own label check marks an image corrupt (all its boxes dropped) exactly where
    detlint reports a malformed row (F006); a corner past the edge (B012) passes that check (it
    tests the enclosing box's centre and size) and is clipped later by the augmentations."""
    from click.testing import CliRunner
    from ultralytics.data.utils import verify_image_label

    from detlint.cli import main

    facts = json.loads((YOLO_OBB / "expected.json").read_text())
    corrupt = set()
    for image in sorted((YOLO_OBB / "images").rglob("*.png")):
        label = YOLO_OBB / "labels" / image.parent.name / (image.stem + ".txt")
        result = verify_image_label((str(image), str(label), "", False, 4, 0, 0, False))
        if result[-2]:  # nc: corrupt
            corrupt.add(image.name)
    assert corrupt == set(facts["ultralytics_corrupt"])
    out = CliRunner().invoke(main, ["check", str(YOLO_OBB), "--output-format", "json", "--no-cache"])
    findings = json.loads(out.stdout)["findings"]
    assert sorted(f"{f['code']} {f['file']}:{f['line']}" for f in findings) == facts["findings"]
    assert {Path(f["file"]).stem + ".png" for f in findings if f["code"] == "F006"} == corrupt
    assert {Path(f["file"]).stem + ".png" for f in findings if f["code"] == "B012"} == {"P0004.png"}


def _corner_rows(ds: detlint.Dataset) -> dict[tuple[str, int], tuple[str, list[float]]]:
    """(image stem, object index) -> (class name, pixel corners), for comparing two datasets."""
    ann = ds.annotations
    out = {}
    for image in range(len(ds.images)):
        stem = Path(str(ds.images.file_name[image])).stem
        rows = np.flatnonzero(ann.image == image)
        for k, row in enumerate(rows[np.argsort(ann.src_item[rows], kind="stable")].tolist()):
            out[(stem, k)] = (ds.categories.names[ann.category[row]], list(ann.segmentation[row]))
    return out


def _same_corners(a: detlint.Dataset, b: detlint.Dataset) -> None:
    left, right = _corner_rows(a), _corner_rows(b)
    assert left.keys() == right.keys() and left
    for key in left:
        assert left[key][0] == right[key][0]
        np.testing.assert_allclose(right[key][1], left[key][1], rtol=1e-6, atol=0)


def test_dota_to_yolo_obb_and_back_is_exact(tmp_path: Path) -> None:
    source = detlint.load(DOTA)
    lost = save(source, tmp_path / "yolo", "yolo").losses
    assert "task: obb" in (tmp_path / "yolo" / "data.yaml").read_text()
    assert {loss["what"] for loss in lost} >= {"difficult flag", "image header lines (DOTA imagesource:, gsd:)"}
    yolo = detlint.load(tmp_path / "yolo")
    assert (yolo.annotations.kind == Annotations.KIND_OBB).all()
    _same_corners(source, yolo)
    save(yolo, tmp_path / "dota", "dota")
    _same_corners(source, detlint.load(tmp_path / "dota"))


def test_yolo_obb_to_dota_and_back_is_exact(tmp_path: Path) -> None:
    source = detlint.load(YOLO_OBB)
    lost = {loss["what"] for loss in save(source, tmp_path / "dota", "dota").losses}
    assert lost == {"label lines that could not be parsed (not converted)"}  # the F006 row, nothing else
    dota = detlint.load(tmp_path / "dota")
    _same_corners(source, dota)
    save(dota, tmp_path / "yolo", "yolo")
    _same_corners(source, detlint.load(tmp_path / "yolo"))
    again = (tmp_path / "yolo" / "labels" / "train" / "P0001.txt").read_text().split()
    assert again[:9] == ["1", "0.1", "0.125", "0.5", "0.125", "0.5", "0.375", "0.1", "0.375"]  # 1: plane, sorted


@pytest.mark.parametrize("target", ["coco", "voc"])
def test_axis_aligned_targets_list_the_loss(tmp_path: Path, target: str) -> None:
    source = detlint.load(DOTA)
    losses = {loss["what"]: loss for loss in save(source, tmp_path / target, target).losses}
    loss = losses["oriented box written as its enclosing axis-aligned box"]
    assert loss["count"] == 7 and "100.0% at most" in loss["detail"]  # the rotated ship: 250 px² in 500
    written = detlint.load(tmp_path / target)
    assert (written.annotations.kind == Annotations.KIND_BOX).all()
    # VOC writes integer pixels: the 5.5 of one box moves by half a pixel
    np.testing.assert_allclose(np.sort(written.annotations.boxes, axis=0), np.sort(source.annotations.boxes, axis=0),
                               atol=0.5 if target == "voc" else 1e-9)


def test_mixed_obb_and_boxes_write_boxes_as_four_corners(tmp_path: Path) -> None:
    ds = detlint.load(DOTA)
    ann = ds.annotations.take(np.arange(len(ds.annotations)))
    first = int(np.flatnonzero(ann.src_line == 3)[0])  # "10 10 50 10 50 30 10 30 plane"
    ann.kind[first], ann.segmentation[first] = Annotations.KIND_BOX, None
    options = save(replace(ds, annotations=ann), tmp_path / "yolo", "yolo", WriteOptions())
    assert not [loss for loss in options.losses if "oriented" in loss["what"]]
    line = (tmp_path / "yolo" / "labels" / "train" / "P0001.txt").read_text().splitlines()[0]
    assert line == "1 0.1 0.125 0.5 0.125 0.5 0.375 0.1 0.375"


def test_torch_dataset_trains_on_enclosing_boxes() -> None:
    pytest.importorskip("torchvision")
    from detlint.torch import DetectionDataset

    data = DetectionDataset(detlint.load(DOTA), split=None)
    boxes = [data[i][1]["boxes"].numpy() for i in range(len(data))]
    assert sum(len(b) for b in boxes) == 7
    assert any(np.allclose(b, [55, 20, 80, 40]) for part in boxes for b in part)  # the rotated ship


def test_box_rows_beside_oriented_rows_are_mixed_kinds(tmp_path: Path) -> None:
    """ultralytics rejects a label file mixing 5-value and 9-value rows ("labels mix segment and
    detection rows"): F013 counts oriented boxes with the polygons."""
    from ultralytics.data.utils import verify_image_label

    root = tmp_path / "mixed"
    shutil.copytree(YOLO_OBB, root)
    label = root / "labels" / "train" / "P0001.txt"
    label.write_text(label.read_text() + "1 0.5 0.5 0.2 0.2\n")
    image = root / "images" / "train" / "P0001.png"
    assert verify_image_label((str(image), str(label), "", False, 4, 0, 0, False))[-2] == 1  # corrupt
    from click.testing import CliRunner

    from detlint.cli import main

    out = CliRunner().invoke(main, ["check", str(root), "--output-format", "json", "--no-cache", "--select", "F013"])
    problems = [f for f in json.loads(out.stdout)["findings"] if f["code"] == "F013"]
    assert [(f["file"], f["line"]) for f in problems] == [("labels/train/P0001.txt", 4)]
