"""Segmentation as geometry: COCO polygons and RLE masks through YOLO-seg and back, measured
against pycocotools (the reference decoder) and ultralytics' merge_multi_segment (the reference
joiner), and the torch adapter's masks.

The fixture ``fixtures/masks/coco_seg`` (made by ``make_masks_fixture.py``) holds a one-polygon
object, a two-polygon object, an RLE with a hole, a two-part RLE, a crowd (uncompressed RLE) and
a box without a mask.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

import detlint
from detlint.cli import main
from detlint.converting import convert
from detlint.errors import UsageError
from detlint.geometry import masks
from detlint.geometry.segments import yolo_rings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "masks" / "coco_seg"


def _source() -> COCO:
    return COCO(str(FIXTURE / "annotations.json"))


def _coco_of(folder: Path) -> dict:
    files = sorted(folder.rglob("*.json"))
    return orjson.loads(next(f for f in files if f.name != "detlint-conversion.json").read_bytes())


def _round_trip(tmp_path: Path) -> tuple[dict, dict]:
    """The fixture as YOLO-seg and back as COCO: (YOLO conversion report, COCO document)."""
    report = convert(FIXTURE, tmp_path / "yolo", "yolo", geometry="mask")
    convert(tmp_path / "yolo", tmp_path / "coco", "coco")
    return orjson.loads(report.as_json()), _coco_of(tmp_path / "coco")


def _by_image_and_order(document: dict) -> dict[tuple[str, int], dict]:
    names = {image["id"]: image["file_name"].rsplit("/", 1)[-1] for image in document["images"]}
    out, seen = {}, {}
    for entry in document["annotations"]:
        name = names[entry["image_id"]]
        out[(name, seen.setdefault(name, 0))] = entry
        seen[name] += 1
    return out


def test_rle_and_polygons_survive_yolo_seg_with_mask_iou_over_095_per_object(tmp_path: Path) -> None:
    source = _source()
    _, back = _round_trip(tmp_path)
    written = _by_image_and_order(back)
    order: dict[str, int] = {}
    for ann in source.loadAnns(source.getAnnIds()):
        name = source.imgs[ann["image_id"]]["file_name"]
        key = (name, order.setdefault(name, 0))
        order[name] += 1
        h, w = source.imgs[ann["image_id"]]["height"], source.imgs[ann["image_id"]]["width"]
        expected = source.annToMask(ann) if ann["segmentation"] else _box_mask(ann["bbox"], h, w)
        got = masks.decode(written[key]["segmentation"], h, w)
        inter, union = int((expected & got).sum()), int((expected | got).sum())
        assert inter / union >= 0.95, (ann["id"], inter / union)


def _box_mask(bbox: list, h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    x, y, bw, bh = (int(v) for v in bbox)
    mask[y:y + bh, x:x + bw] = 1
    return mask


def test_every_approximation_is_a_loss_with_its_measured_iou(tmp_path: Path) -> None:
    report, _ = _round_trip(tmp_path)
    losses = {loss["what"]: loss for loss in report["losses"]}
    assert losses["RLE mask traced to one polygon"]["count"] == 2  # the ring with a hole, the two parts
    assert losses["crowd RLE mask traced to one polygon"]["count"] == 1
    assert losses["polygons of one object joined into one ring"]["count"] == 1
    assert losses["annotation without a mask written as its box's rectangle"]["count"] == 1
    detail = losses["RLE mask traced to one polygon"]["detail"]
    assert detail.startswith("mask IoU mean ") and "worst" in detail and "annotation id" in detail
    assert float(detail.split("worst ")[1].split()[0]) >= 0.95


def test_yolo_seg_rows_are_what_ultralytics_reads(tmp_path: Path) -> None:
    convert(FIXTURE, tmp_path / "yolo", "yolo", geometry="mask")
    ds = detlint.load(tmp_path / "yolo")
    assert (ds.annotations.kind == ds.annotations.KIND_POLYGON).all()  # one kind per dataset: no F013
    rows = (tmp_path / "yolo" / "labels" / "a.txt").read_text().splitlines()
    assert [len(r.split()) % 2 for r in rows] == [1, 1, 1]  # class + x y pairs
    assert rows[0] == "0 0.041667 0.062500 0.250000 0.062500 0.250000 0.312500 0.145833 0.187500 0.041667 0.312500"


def test_single_polygons_round_trip_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    width, height = 640, 427
    polygons = [np.round(rng.random((int(rng.integers(3, 30)), 2)) * [width, height], 2).ravel().tolist()
                for _ in range(50)]
    document = {
        "images": [{"id": 1, "file_name": "p.jpg", "width": width, "height": height}],
        "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 1.0,
                         "bbox": _bbox(p), "segmentation": [p]} for k, p in enumerate(polygons)],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "annotations.json").write_bytes(orjson.dumps(document))
    report = convert(tmp_path / "src", tmp_path / "yolo", "yolo", geometry="mask")
    assert not [loss for loss in report.losses if "IoU" in loss["detail"]]  # copied, not approximated
    convert(tmp_path / "yolo", tmp_path / "back", "coco")
    back = _coco_of(tmp_path / "back")["annotations"]
    for polygon, entry in zip(polygons, back):
        assert np.abs(np.asarray(entry["segmentation"][0]) - polygon).max() < 1e-3


def _bbox(polygon: list) -> list:
    points = np.asarray(polygon).reshape(-1, 2)
    x1, y1 = points.min(axis=0)
    x2, y2 = points.max(axis=0)
    return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]


def test_decode_matches_pycocotools_ann_to_mask() -> None:
    source = _source()
    for ann in source.loadAnns(source.getAnnIds()):
        if not ann["segmentation"]:
            continue
        image = source.imgs[ann["image_id"]]
        ours = masks.decode(ann["segmentation"], image["height"], image["width"])
        theirs = source.annToMask(ann)
        assert ours.sum() == theirs.sum() == masks.area(ann["segmentation"], image["height"], image["width"])
        assert (ours == theirs).all()


def test_tracing_keeps_holes_and_parts_exactly() -> None:
    mask = np.zeros((40, 50), np.uint8)
    mask[5:30, 5:30] = 1
    mask[10:20, 12:22] = 0  # a hole
    mask[33:38, 35:48] = 1  # a second part
    rings = masks.trace(mask)
    assert len(rings) == 3
    joined = masks.join_rings(rings)
    assert (masks.decode([joined.ravel().tolist()], 40, 50) == mask).all()


def test_join_rings_is_ultralytics_merge_multi_segment() -> None:
    converter = pytest.importorskip("ultralytics.data.converter")
    rng = np.random.default_rng(3)
    for _ in range(100):
        segments = [(rng.random((int(rng.integers(3, 15)), 2)) * 80 + rng.integers(0, 400, 2)).ravel().tolist()
                    for _ in range(int(rng.integers(2, 6)))]
        theirs = np.concatenate(converter.merge_multi_segment(segments))
        ours = masks.join_rings([np.asarray(s) for s in segments])
        assert ours.shape == theirs.shape and np.allclose(ours, theirs)


def test_geometry_box_writes_boxes_and_auto_names_the_option(tmp_path: Path) -> None:
    report = convert(FIXTURE, tmp_path / "auto", "yolo")
    dropped = next(loss for loss in report.losses if loss["what"] == "segmentation dropped")
    assert dropped["count"] == 5 and "--geometry mask" in dropped["detail"]
    convert(FIXTURE, tmp_path / "seg", "yolo", geometry="mask")
    report = convert(tmp_path / "seg", tmp_path / "box", "yolo", geometry="box")
    assert any(loss["what"].startswith("polygon row written as its box") and loss["count"] == 6
               for loss in report.losses)
    assert all(len(line.split()) == 5 for f in (tmp_path / "box" / "labels").rglob("*.txt")
               for line in f.read_text().splitlines())


def test_cli_geometry_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(FIXTURE), str(tmp_path / "out"), "--to", "yolo",
                                       "--geometry", "mask"])
    assert result.exit_code == 0, result.output
    assert "mask IoU mean" in result.stderr
    bad = CliRunner().invoke(main, ["convert", str(FIXTURE), str(tmp_path / "x"), "--to", "yolo", "--geometry", "obb"])
    assert bad.exit_code == 2


def test_crowd_polygon_rows_become_rle_in_coco(tmp_path: Path) -> None:
    convert(FIXTURE, tmp_path / "yolo", "yolo", geometry="mask")
    ds = detlint.load(tmp_path / "yolo")
    ds.annotations.iscrowd[:] = 0
    ds.annotations.iscrowd[0] = 1
    options = detlint.formats.protocol.WriteOptions()
    detlint.formats.save(ds, tmp_path / "coco", "coco", options)
    entries = _coco_of(tmp_path / "coco")["annotations"]
    assert masks.is_rle(entries[0]["segmentation"]) and entries[0]["iscrowd"] == 1
    assert all(isinstance(e["segmentation"], list) for e in entries[1:])
    assert any(loss["what"].startswith("crowd polygon rasterised") for loss in options.losses)


def test_missing_opencv_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(UsageError, match=r"pip install 'detlint\[seg\]'"):
        masks.trace(np.ones((4, 4), np.uint8))


def test_rows_without_size_scale_by_one() -> None:
    found = yolo_rings(np.array([None], dtype=object), np.array([0], np.uint8), np.array([0], np.int8),
                       np.array([[0.1, 0.2, 0.5, 0.6]]), np.array([1]), np.array([1]))
    assert found.rectangles == 1
    assert np.allclose(found.values, [0.1, 0.2, 0.5, 0.2, 0.5, 0.6, 0.1, 0.6])


def test_torch_masks_match_pycocotools(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    from detlint.torch import DetectionDataset

    source = _source()
    dataset = DetectionDataset(FIXTURE, masks=True)
    for index in range(len(dataset)):
        _, target = dataset[index]
        image = next(i for i in source.imgs.values() if i["file_name"] == target["file"].rsplit("/", 1)[-1])
        anns = source.loadAnns(source.getAnnIds(imgIds=[image["id"]]))
        got = target["masks"]
        assert isinstance(got, tv_tensors.Mask) and tuple(got.shape) == (len(anns), 64, 96)
        for k, ann in enumerate(anns):
            expected = source.annToMask(ann) if ann["segmentation"] else _box_mask(ann["bbox"], 64, 96)
            assert (got[k].numpy() == expected).all(), ann["id"]
    # YOLO-seg rings decode too (normalised, scaled by the image)
    convert(FIXTURE, tmp_path / "yolo", "yolo", geometry="mask")
    _, target = DetectionDataset(tmp_path / "yolo", masks=True)[0]
    assert target["masks"].shape[0] == len(target["boxes"]) and target["masks"].sum() > 0


def test_stats_counts_masks_by_kind() -> None:
    from detlint.stats import compute, render_text

    stats = compute(detlint.load(FIXTURE))
    assert stats["masks"] == {"polygon": 1, "multi_polygon": 1, "rle": 3, "yolo_polygon": 0}
    assert "masks: 1 one-part polygon, 1 multi-part polygon, 3 RLE masks" in render_text(stats)


def test_pictures_draw_polygon_outlines() -> None:
    from detlint.draw import render, scene_for

    ds = detlint.load(FIXTURE)
    rows = np.flatnonzero(ds.annotations.image == 0)
    scene = scene_for(ds, 0, rows)
    assert [len(rings) for rings in scene.outlines] == [1, 2, 0]  # one polygon, two parts, an RLE (not traced)
    with_outlines = np.asarray(render(scene))
    scene.outlines = ()
    assert (with_outlines != np.asarray(render(scene))).any()


def test_cli_geometry_choices_are_the_library_ones() -> None:
    from detlint.formats.protocol import GEOMETRIES

    option = next(p for p in main.commands["convert"].params if p.name == "geometry")
    assert tuple(option.type.choices) == GEOMETRIES
    with pytest.raises(UsageError, match="must be one of auto, box, mask"):
        convert(FIXTURE, Path("/nonexistent-detlint-dst"), "yolo", geometry="obb")
