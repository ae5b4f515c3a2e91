"""Label Studio JSON export: reading the fixture export (two annotators, a cancelled annotation,
a rotated rectangle, a polygon, a prediction, the image reference forms), the CLI, conversions
and round trips, and hostile image references."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner

from detlint.cli import main
from detlint.formats import get, load, sniff
from detlint.model import Annotations
from tests.hostile import World, breaches, jpeg_bytes, run_detlint

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "formats" / "labelstudio"
FACTS = json.loads((FIXTURE / "expected.json").read_text())


def _check(path: Path, *extra: str) -> dict:
    result = CliRunner().invoke(main, ["check", str(path), "--output-format", "json", "--no-cache", *extra])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _convert(src: Path, dst: Path, to: str) -> dict:
    result = CliRunner().invoke(main, ["convert", str(src), str(dst), "--to", to])
    assert result.exit_code == 0, result.output
    return json.loads((dst / "detlint-conversion.json").read_text())


def test_the_fixture_reads_as_its_facts_say() -> None:
    ds = load(FIXTURE)
    ann = ds.annotations
    assert ds.format == FACTS["format"] == sniff(FIXTURE)
    assert ds.images.path.tolist() == FACTS["image_paths"]
    assert np.column_stack([ds.images.width, ds.images.height]).tolist() == FACTS["sizes"]
    assert ds.categories.names == FACTS["classes"] and len(ann) == FACTS["annotations"]
    assert ann.kind.tolist() == FACTS["kinds"]
    assert [ds.categories.names[c] for c in ann.category] == FACTS["labels"]
    np.testing.assert_allclose(ann.boxes, FACTS["boxes"], atol=1e-5)
    np.testing.assert_allclose(ann.segmentation[2], FACTS["obb_corners"], atol=1e-5)
    np.testing.assert_allclose(ann.segmentation[3], FACTS["polygon"], atol=1e-9)
    meta = ds.meta["labelstudio"]
    assert meta["results"] == FACTS["pointers"] and meta["predictions_ignored"] == FACTS["predictions_ignored"]
    assert "clockwise" in ds.meta["obb"]["angle"]


def test_the_newest_annotation_is_read_and_cancelled_ones_never() -> None:
    ds = load(FIXTURE)
    chosen = {p.pointer: p.message for p in ds.problems if p.code == "F020"}
    assert "read annotation 11 by annotator 2 (most recently updated)" in chosen["/0/annotations/1"]
    # annotation 21 is newer but cancelled: its 99 % box is nowhere
    assert "read annotation 20" in chosen["/1/annotations/0"]
    assert not (ds.annotations.raw[:, 2] == 99).any()


def test_ground_truth_wins_over_a_newer_annotation() -> None:
    ds = load(FIXTURE.parents[1] / "rules" / "ls_annotators")
    assert ds.annotations.raw[:, 0].tolist() == [10.0]
    assert "(ground_truth)" in ds.problems[0].message


def test_check_sniffs_the_export_and_locates_findings_by_pointer() -> None:
    report = _check(FIXTURE)
    found = sorted([f["code"], f["pointer"]] for f in report["findings"] if f["code"].startswith("F"))
    assert found == FACTS["findings"]
    assert all(f["file"] == "export.json" for f in report["findings"] if f["code"].startswith("F"))


def test_a_remote_image_is_missing_and_never_fetched(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    tasks = json.loads((root / "export.json").read_text())
    tasks[2]["data"]["image"] = "https://example.com/bucket/not-here.jpg"
    tasks[1]["data"]["image"] = "s3://bucket/dog2.jpg"  # found by base name in images/
    (root / "export.json").write_text(json.dumps(tasks))
    ds = load(root)
    assert ds.images.path.tolist()[1:] == ["images/dog2.jpg", ""]
    assert ds.meta["labelstudio"]["remote_images"] == 1
    assert "I001" in {f["code"] for f in _check(root)["findings"]}


@pytest.mark.parametrize("to", ["coco", "yolo", "labelstudio"])
def test_convert_to_each_format_reads_back(to: str, tmp_path: Path) -> None:
    report = _convert(FIXTURE, tmp_path / "out", to)
    back = load(tmp_path / "out")
    assert back.format == to and len(back.images) == 3 and len(back.annotations) == 5
    if to == "labelstudio":
        # the one loss: the annotations not chosen (two tasks hold more than one)
        assert [(loss["count"], "F020" in loss["what"]) for loss in report["losses"]] == [(2, True)]
        assert back.annotations.kind.tolist() == FACTS["kinds"]
        np.testing.assert_allclose(back.annotations.segmentation[2], FACTS["obb_corners"], atol=1e-9)
        np.testing.assert_allclose(back.annotations.boxes, load(FIXTURE).annotations.boxes, atol=1e-9)


def test_round_trip_through_yolo_keeps_boxes_within_a_thousandth_of_a_pixel(tmp_path: Path) -> None:
    _convert(FIXTURE, tmp_path / "yolo", "yolo")
    _convert(tmp_path / "yolo", tmp_path / "back", "labelstudio")
    source, back = load(FIXTURE), load(tmp_path / "back")
    assert [Path(p).name for p in back.images.path] == [Path(p).name for p in source.images.path]
    assert np.abs(back.annotations.boxes - source.annotations.boxes).max() < 1e-3
    assert back.categories.names == source.categories.names


def test_a_rotated_rectangle_written_reads_back_as_the_same_corners(tmp_path: Path) -> None:
    ds = load(FIXTURE)
    get("labelstudio").write(ds, _empty(tmp_path / "w"), _options())
    back = load(tmp_path / "w")
    obb = back.annotations.kind == Annotations.KIND_OBB
    np.testing.assert_allclose(back.annotations.segmentation[obb][0], FACTS["obb_corners"], atol=1e-9)
    task = json.loads((tmp_path / "w" / "tasks.json").read_text())[1]
    assert task["annotations"][0]["result"][0]["value"]["rotation"] == pytest.approx(30.0)
    # the labelling config names every control the results use, and every class
    config = ElementTree.parse(tmp_path / "w" / "labeling_config.xml").getroot()
    controls = {element.get("name"): element.tag for element in config}
    assert {r["from_name"] for r in task["annotations"][0]["result"]} == {"label", "polygon"}
    assert (controls["label"], controls["polygon"]) == ("RectangleLabels", "PolygonLabels")
    assert [e.get("value") for e in config.find("RectangleLabels")] == ds.categories.names


def test_stats_counts_the_export() -> None:
    result = CliRunner().invoke(main, ["stats", str(FIXTURE), "--output-format", "json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert (stats["images"], stats["annotations"]) == (3, 5), stats


def test_a_declared_size_the_image_does_not_have_is_i003(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    tasks = json.loads((root / "export.json").read_text())
    for result in tasks[2]["annotations"][0]["result"]:
        result["original_width"] = 300  # poly3.jpg is 100 px wide
    (root / "export.json").write_text(json.dumps(tasks))
    found = [f for f in _check(root, "--images", "header")["findings"] if f["code"] == "I003"]
    assert [f["pointer"] for f in found] == ["/2/annotations/0/result/0/original_width"]


def test_images_stored_elsewhere_are_found_with_image_root(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "ds", ignore=shutil.ignore_patterns("*.jpg"))
    shutil.copytree(FIXTURE, tmp_path / "pics", ignore=shutil.ignore_patterns("*.json"))
    assert "I001" in {f["code"] for f in _check(tmp_path / "ds")["findings"]}
    findings = _check(tmp_path / "ds", "--image-root", str(tmp_path / "pics"))["findings"]
    assert "I001" not in {f["code"] for f in findings}


def test_coco_converts_to_label_studio_and_back_with_the_same_boxes(tmp_path: Path) -> None:
    coco = FIXTURE.parents[1] / "rules" / "coco_clean"
    _convert(coco, tmp_path / "ls", "labelstudio")
    source, back = load(coco), load(tmp_path / "ls")
    assert back.format == "labelstudio" and len(back.annotations) == len(source.annotations)
    np.testing.assert_allclose(back.annotations.boxes, source.annotations.boxes, atol=1e-6)


@pytest.mark.parametrize("image", ["../outside/secret.jpg", "../../secret.jpg", "/etc/passwd", "ABSOLUTE",
                                   "/data/local-files/?d=../outside/secret.jpg", "LINK"])
def test_image_references_leaving_the_root_are_f008_and_never_read(image: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write("a.jpg", jpeg_bytes())
    if image == "ABSOLUTE":
        image = str(world.outside / "secret.jpg")
    if image == "LINK":
        world.link("images/x.jpg", world.outside / "secret.jpg")
        image = "images/x.jpg"
    box = {"id": "r", "type": "rectanglelabels", "original_width": 32, "original_height": 24,
           "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["cat"]}}
    tasks = [{"id": 1, "data": {"image": "a.jpg"}, "annotations": [{"id": 1, "result": [box]}]},
             {"id": 2, "data": {"image": image}, "annotations": [{"id": 2, "result": [box]}]}]
    world.write("export.json", json.dumps(tasks))
    check = run_detlint(["check", "ds", "--output-format", "json", "--no-cache"], tmp_path)
    findings = json.loads(check.stdout)["findings"]
    at_image = [f["code"] for f in findings if f["pointer"] == "/1/data/image"]
    assert "F008" in at_image and set(at_image) <= {"F008", "I001"}  # a link out is also a missing image
    problems = breaches(world, check) + breaches(world, convert := run_detlint(
        ["convert", "ds", "out-ls", "--to", "labelstudio"], tmp_path), [tmp_path / "out-ls"])
    assert not problems, problems
    assert convert.returncode == 0, convert.text()


def _empty(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _options():
    from detlint.formats import WriteOptions

    return WriteOptions()


def test_an_oriented_box_listed_counter_clockwise_is_written_as_the_same_rectangle(tmp_path: Path) -> None:
    ds = load(FIXTURE)
    corners = np.asarray(FACTS["obb_corners"]).reshape(4, 2)
    ds.annotations.segmentation[2] = corners[[0, 3, 2, 1]].reshape(-1).tolist()  # as DOTA-style tools list them
    options = _options()
    get("labelstudio").write(ds, _empty(tmp_path / "w"), options)
    back = load(tmp_path / "w").annotations.segmentation[2]
    assert sorted(map(tuple, np.round(np.reshape(back, (4, 2)), 6))) == sorted(map(tuple, np.round(corners, 6)))
    assert not options.losses


def test_yolo_polygon_rows_become_polygons_in_pixels(tmp_path: Path) -> None:
    yolo = FIXTURE.parents[1] / "rules" / "yolo_mixed"
    _convert(yolo, tmp_path / "ls", "labelstudio")
    source, back = load(yolo), load(tmp_path / "ls")
    np.testing.assert_allclose(back.annotations.boxes, source.annotations.boxes, atol=1e-9)
    row = int(np.flatnonzero(source.annotations.kind == Annotations.KIND_POLYGON)[0])
    image = source.annotations.image[row]
    size = [source.images.width[image], source.images.height[image]]
    points = np.asarray(source.annotations.segmentation[row]).reshape(-1, 2) * size
    np.testing.assert_allclose(np.reshape(back.annotations.segmentation[row], (-1, 2)), points, atol=1e-9)
