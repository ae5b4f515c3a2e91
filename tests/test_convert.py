"""Round trips between the formats on fixtures and corpus cases: boxes, names, splits and image
bytes survive; the source is never modified; every loss is listed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detlint
from detlint.cli import main
from detlint.converting import REPORT_NAME, convert

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def split_key(split: str) -> str:
    """data.yaml has one key for validation ("val"): Roboflow's "valid" comes back as "val";
    and an unsplit set is written as `train:` (never also as `val:`): it comes back as "train"."""
    return {"valid": "val", "": "train"}.get(split, split)


def boxes_by_image(ds: detlint.model.Dataset) -> dict[tuple[str, str], list[tuple]]:
    """(split, image stem) -> sorted (class name, rounded box) of its box annotations."""
    out: dict[tuple[str, str], list[tuple]] = {}
    ann = ds.annotations
    for i in range(len(ds.images)):
        name = Path(str(ds.images.path[i] or ds.images.file_name[i])).stem
        out[(split_key(str(ds.images.split[i])), name)] = []
    for row in np.flatnonzero(ann.has_box & (ann.image >= 0) & (ann.category >= 0)):
        image = ann.image[row]
        name = Path(str(ds.images.path[image] or ds.images.file_name[image])).stem
        out[(split_key(str(ds.images.split[image])), name)].append(
            (ds.categories.names[ann.category[row]], tuple(np.round(ann.boxes[row], 3).tolist())))
    return {k: sorted(v) for k, v in out.items()}


def assert_same_boxes(a: detlint.model.Dataset, b: detlint.model.Dataset, tolerance: float) -> None:
    left, right = boxes_by_image(a), boxes_by_image(b)
    assert sorted(left) == sorted(right)
    for key in left:
        assert len(left[key]) == len(right[key]), key
        for (name_a, box_a), (name_b, box_b) in zip(left[key], right[key]):
            assert name_a == name_b
            assert np.allclose(box_a, box_b, atol=tolerance), (key, box_a, box_b)


def image_bytes(ds: detlint.model.Dataset) -> dict[str, str]:
    return {Path(p).name: hashlib.sha256((ds.root / p).read_bytes()).hexdigest()
            for p in ds.images.path.tolist() if p}


CHAINS = [
    (FIXTURES / "yolo_clean", ["coco", "yolo"], 1e-3),
    (FIXTURES / "yolo_clean", ["voc", "yolo"], 1.0),
    (FIXTURES / "voc_clean", ["coco", "voc"], 1e-3),
    (FIXTURES / "voc_clean", ["yolo", "voc"], 1.0),
]


@pytest.mark.parametrize("source,chain,tolerance", CHAINS, ids=lambda v: "-".join(v) if isinstance(v, list) else None)
def test_round_trip_on_fixtures(tmp_path: Path, source: Path, chain: list[str], tolerance: float) -> None:
    before = tree_hashes(source)
    original = detlint.load(source)
    current = source
    for step, target in enumerate(chain):
        destination = tmp_path / f"{step}_{target}"
        convert(current, destination, target)
        current = destination
    result = detlint.load(current)
    assert result.format == original.format
    if "voc" in chain:  # VOC has no class list: order is lost (and listed as a loss)
        assert sorted(result.categories.names) == sorted(original.categories.names)
    else:
        assert result.categories.names == original.categories.names  # class order kept
    assert sorted(set(result.splits)) == sorted(set(original.splits))
    assert_same_boxes(original, result, tolerance)
    assert image_bytes(result) == image_bytes(original)
    assert tree_hashes(source) == before  # the source is never modified


def test_coco_to_coco_keeps_unknown_keys(tmp_path: Path) -> None:
    source = CORPUS / "datumaro" / "coco_instances_catid_gap_rle"
    if not source.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    convert(source, tmp_path / "out", "coco")
    written = orjson.loads((tmp_path / "out" / "annotations" / "instances_val.json").read_bytes())
    original = orjson.loads((source / "annotations" / "instances_val.json").read_bytes())
    assert [a.get("attributes") for a in written["annotations"]] == [a.get("attributes") for a in original["annotations"]]
    assert [c["id"] for c in written["categories"]] == [1, 2, 4]  # sparse ids kept
    rle = [a["segmentation"] for a in written["annotations"] if isinstance(a["segmentation"], dict)]
    assert rle == [{"counts": [0, 20, 30], "size": [10, 5]}]


def test_sparse_coco_ids_map_to_yolo_indices_in_id_order(tmp_path: Path) -> None:
    source = CORPUS / "datumaro" / "coco_instances_catid_gap_rle"
    if not source.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    report = convert(source, tmp_path / "yolo", "yolo")
    mapping = {m["name"]: (m["source_id"], m["target_id"]) for m in report.class_mapping}
    assert mapping == {"a": (1, 0), "b": (2, 1), "c": (4, 2)}
    written = orjson.loads((tmp_path / "yolo" / REPORT_NAME).read_bytes())
    assert written["class_mapping"] == report.class_mapping
    back = detlint.load(tmp_path / "yolo")
    assert back.categories.names == ["a", "b", "c"]


@pytest.mark.parametrize("case", [
    "datumaro/roboflow_coco_per_split_json", "roboflow_python/sharks_tiny_coco",
    "datumaro/coco_instances_catid_gap_rle",
])
@pytest.mark.parametrize("via", ["yolo", "voc"])
def test_corpus_coco_round_trips(tmp_path: Path, case: str, via: str) -> None:
    source = CORPUS / case
    if not source.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    before = tree_hashes(source)
    convert(source, tmp_path / via, via)
    convert(tmp_path / via, tmp_path / "back", "coco")
    original, result = detlint.load(source), detlint.load(tmp_path / "back")
    assert len(result.images) == len(original.images)  # images without boxes are kept
    assert_same_boxes(original, result, 1e-3 if via == "yolo" else 1.0)
    assert tree_hashes(source) == before


@pytest.mark.parametrize("case", ["roboflow_python/sharks_tiny_yolov9_mixed_box_polygon",
                                  "datumaro/yolo_darknet_strict_objdata"])
def test_corpus_yolo_coco_yolo(tmp_path: Path, case: str) -> None:
    source = CORPUS / case
    if not source.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    convert(source, tmp_path / "coco", "coco")
    convert(tmp_path / "coco", tmp_path / "yolo", "yolo")
    original, result = detlint.load(source), detlint.load(tmp_path / "yolo")
    assert result.categories.names == original.categories.names
    assert_same_boxes(original, result, 1e-3)


def test_losses_are_listed_never_silent(tmp_path: Path) -> None:
    source = CORPUS / "roboflow_python" / "sharks_tiny_yolov9_mixed_box_polygon"
    if not source.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    report = convert(source, tmp_path / "voc", "voc")
    assert any("polygon" in loss["what"] for loss in report.losses)
    assert report.losses == orjson.loads((tmp_path / "voc" / REPORT_NAME).read_bytes())["losses"]


def test_convert_cli_refuses_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["convert", str(FIXTURES / "yolo_clean"), str(tmp_path / "dst"), "--to", "coco"])
    assert result.exit_code == 2
    assert "new or empty folder" in result.output
    assert (tmp_path / "dst" / "keep.txt").read_text() == "x"


def test_convert_cli_summary_goes_to_stderr(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(FIXTURES / "voc_clean"), str(tmp_path / "out"), "--to", "yolo"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "converted" in result.stderr


@st.composite
def coco_images(draw: st.DrawFn) -> list[tuple[int, int, list[list[float]]]]:
    """A few images (width, height, boxes as COCO x y w h inside the image)."""
    images = []
    for _ in range(draw(st.integers(1, 3))):
        width, height = draw(st.integers(8, 48)), draw(st.integers(8, 48))
        boxes = []
        for _ in range(draw(st.integers(0, 4))):
            x = draw(st.floats(0, width - 1, allow_nan=False))
            y = draw(st.floats(0, height - 1, allow_nan=False))
            w = draw(st.floats(0.5, width - x, allow_nan=False))
            h = draw(st.floats(0.5, height - y, allow_nan=False))
            boxes.append([round(x, 3), round(y, 3), round(w, 3), round(h, 3)])
        images.append((width, height, boxes))
    return images


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(images=coco_images())
def test_property_coco_yolo_coco_keeps_boxes(images: list[tuple[int, int, list[list[float]]]]) -> None:
    import json
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "coco"
        (root / "images").mkdir(parents=True)
        doc: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "thing"}]}
        for k, (width, height, boxes) in enumerate(images, start=1):
            Image.new("RGB", (width, height)).save(root / "images" / f"{k}.png")
            doc["images"].append({"id": k, "file_name": f"{k}.png", "width": width, "height": height})
            for box in boxes:
                doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": k, "category_id": 1,
                                           "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
        (root / "annotations.json").write_text(json.dumps(doc))
        convert(root, Path(folder) / "yolo", "yolo")
        convert(Path(folder) / "yolo", Path(folder) / "back", "coco")
        back = detlint.load(Path(folder) / "back")
        # ultralytics has no unsplit set (train: is required): the unsplit images come back in a split
        back.images.split[:] = ""
        assert_same_boxes(detlint.load(root), back, 1e-3)
