"""labelme JSON: read facts of a fixture built as labelme 5.x writes it, round trips through
COCO and labelme, the CLI (sniffed, converted, stats), --fix, and hostile image paths."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import write_image

from detlint.cli import main
from detlint.formats import ReadOptions, get, load, save, sniff
from detlint.model import Annotations, Dataset

FIXTURE = Path(__file__).parent.parent / "fixtures" / "formats" / "labelme"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def rows_of(ds: Dataset, file: str) -> list[int]:
    index = ds.files.index(file)
    return np.flatnonzero(ds.annotations.src_file == index).tolist()


def labelme_doc(shapes: list, image_path: str = "a.jpg", **keys: object) -> dict:
    return {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
            "imageHeight": 48, "imageWidth": 64, **keys}


def rectangle(label: str, points: list) -> dict:
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": "rectangle",
            "flags": {}, "mask": None}


def test_the_fixture_reads_as_labelme_says_it() -> None:
    assert sniff(FIXTURE) == "labelme"
    ds = load(FIXTURE)
    assert (len(ds.images), len(ds.annotations)) == (EXPECTED["images"], EXPECTED["annotations"])
    assert ds.categories.names == EXPECTED["classes"]
    assert ds.files == EXPECTED["files"]
    assert ds.images.path.tolist() == EXPECTED["image_paths"]  # park.json's ..\\train\\park.png resolved
    assert {s: int((ds.images.split == s).sum()) for s in ds.splits} == EXPECTED["splits"]
    ann, facts = ds.annotations, EXPECTED["street"]
    street = rows_of(ds, "train/street.json")
    by_item = {int(ann.src_item[r]): r for r in street}
    assert ann.boxes[by_item[0]].tolist() == facts["rectangle_box"]  # reverse corners -> x1 < x2
    assert ann.raw[by_item[0]].tolist() == facts["rectangle_raw"]
    assert ann.segmentation[by_item[1]] == facts["polygon"]
    assert ann.boxes[by_item[2]].tolist() == facts["circle_box"]
    assert [ann.extra[by_item[i]]["shape_type"] for i in (3, 4)] == facts["no_geometry_types"]
    assert not ann.has_box[[by_item[3], by_item[4]]].any()
    assert (ann.kind[[by_item[3], by_item[4]]] == Annotations.KIND_NONE).all()
    assert 6 not in by_item  # the second polygon of group 1 is part of the object at shape 5
    assert ann.segmentation[by_item[5]] == facts["group_polygons"]
    assert ann.boxes[by_item[5]].tolist() == facts["group_box"]
    # imageData is a flag, never the string (it can be megabytes per image)
    row = ds.images.src_file.tolist().index(ds.files.index("train/street.json"))
    assert ds.images.extra[row]["imageData"] is True
    assert (ds.images.width.tolist(), ds.images.height.tolist()) == ([80, 64, 64, 64], [60, 48, 48, 48])


def test_check_is_sniffed_and_located_by_pointer() -> None:
    result = invoke("check", FIXTURE, "--no-cache", "--output-format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "labelme"
    found = [{k: f[k] for k in ("code", "file", "pointer")} for f in report["findings"]]
    assert found == EXPECTED["check"]


def test_round_trip_through_coco_keeps_boxes_and_polygons(tmp_path: Path) -> None:
    source = load(FIXTURE)
    assert invoke("convert", FIXTURE, tmp_path / "coco", "--to", "coco").exit_code == 0
    assert invoke("convert", tmp_path / "coco", tmp_path / "back", "--to", "labelme").exit_code == 0
    back = load(tmp_path / "back")
    assert back.format == "labelme"

    def objects(ds: Dataset) -> dict:
        ann = ds.annotations
        out: dict = {}
        for row in np.flatnonzero(ann.has_box).tolist():
            image = str(ds.images.path[ann.image[row]] or ds.images.file_name[ann.image[row]]).rsplit("/", 1)[-1]
            out.setdefault((image, ds.categories.names[ann.category[row]]), []).append(
                (ann.boxes[row].tolist(), ann.segmentation[row]))
        return {key: sorted(value, key=lambda v: v[0]) for key, value in out.items()}

    before, after = objects(source), objects(back)
    assert before.keys() == after.keys()
    for key in before:
        for (box_a, seg_a), (box_b, seg_b) in zip(before[key], after[key]):
            assert np.allclose(box_a, box_b, atol=1e-3), key
            assert seg_a == seg_b, key  # polygons exact (the group's two polygons included)


def test_labelme_to_labelme_keeps_image_data_and_shapes(tmp_path: Path) -> None:
    assert invoke("convert", FIXTURE, tmp_path / "out", "--to", "labelme").exit_code == 0
    written = json.loads((tmp_path / "out" / "train" / "street.json").read_text())
    source = json.loads((FIXTURE / "train" / "street.json").read_text())
    assert written["imageData"] == source["imageData"]
    assert list(written)[:7] == list(source)  # labelme's key order
    assert [s["shape_type"] for s in written["shapes"]] == [s["shape_type"] for s in source["shapes"]]
    assert [s["points"] for s in written["shapes"]] == [s["points"] for s in source["shapes"]]
    assert json.loads((tmp_path / "out" / "train" / "park.json").read_text())["imageData"] is None
    assert json.loads((tmp_path / "out" / "val" / "road.json").read_text())["flags"] == {"night": True}
    assert (tmp_path / "out" / "train" / "street.png").exists()


def test_convert_to_yolo_lists_the_lost_shapes(tmp_path: Path) -> None:
    result = invoke("convert", FIXTURE, tmp_path / "yolo", "--to", "yolo")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "yolo" / "detlint-conversion.json").read_text())
    lost = {entry["what"]: entry["count"] for entry in report["losses"]}
    assert lost["annotation without a box"] == 2  # the point and the line


def test_stats(tmp_path: Path) -> None:
    result = invoke("stats", FIXTURE, "--output-format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "labelme"


def test_other_formats_convert_to_labelme_polygons_and_rectangles(tmp_path: Path) -> None:
    ds = load(FIXTURE)
    save(ds, tmp_path / "coco", "coco")
    coco = load(tmp_path / "coco")
    options = save(coco, tmp_path / "lm", "labelme")
    back = json.loads((tmp_path / "lm" / "train" / "street.json").read_text())
    assert back["imageData"] is None  # only a labelme source's own imageData is copied
    groups = [s["group_id"] for s in back["shapes"] if s["label"] == "tree"]
    assert len(groups) == 2 and groups[0] == groups[1] is not None
    assert any(loss["what"].startswith("annotations without geometry") for loss in options.losses)


def broken(tmp_path: Path, text: str, name: str = "a.json") -> Path:
    root = tmp_path / "ds"
    write_image(root / "a.jpg")
    (root / "b.json").write_text(json.dumps(labelme_doc([rectangle("car", [[1, 1], [5, 5]])])))
    (root / name).write_text(text)
    return root


def test_bad_json_and_bad_shapes_are_located_findings(tmp_path: Path) -> None:
    root = broken(tmp_path, '{"shapes": [\n  {"label": "car",,}')
    ds = load(root)
    f001 = [p for p in ds.problems if p.code == "F001"]
    assert len(f001) == 1 and f001[0].file == "a.json" and f001[0].line == 2
    doc = labelme_doc([rectangle("car", [["1", 2], [3, 4]]), "oops", {"label": 7, "points": [[1, 1], [2, 2]],
                                                                       "shape_type": "rectangle"}])
    (root / "a.json").write_text(json.dumps(doc))
    ds = load(root)
    located = sorted((p.code, p.pointer) for p in ds.problems)
    assert located == [("F002", "/shapes/0/points"), ("F002", "/shapes/1"), ("F002", "/shapes/2/label")]
    (root / "a.json").write_text(json.dumps({"shapes": "none", "imagePath": "a.jpg"}))
    assert [(p.code, p.pointer) for p in load(root).problems] == [("F002", "")]


def test_a_label_outside_the_configured_classes_is_c001(tmp_path: Path) -> None:
    root = broken(tmp_path, json.dumps(labelme_doc([rectangle("bus", [[1, 1], [9, 9]])])))
    ds = load(root, options=ReadOptions(classes=["car"]))
    assert (ds.annotations.category == -1).sum() == 1
    (root / "detlint.toml").write_text('classes = ["car"]\n')
    result = invoke("check", root, "--no-cache", "--output-format", "json", "--select", "C001")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["file"], f["pointer"]) for f in findings] == [("C001", "a.json", "/shapes/0/label")]


@pytest.mark.parametrize("image_path", ["../../outside.jpg", "/etc/passwd", "C:\\\\data\\\\a.jpg", "link.jpg"])
def test_an_image_path_leaving_the_root_is_f008_and_never_read(tmp_path: Path, image_path: str) -> None:
    outside = tmp_path / "outside.jpg"
    write_image(outside, (99, 77))
    root = tmp_path / "a" / "ds"
    root.mkdir(parents=True)
    os.symlink(outside, root / "link.jpg")
    (root / "x.json").write_text(json.dumps(labelme_doc([rectangle("car", [[1, 1], [5, 5]])], image_path)))
    ds = load(root)
    assert [(p.code, p.file, p.pointer) for p in ds.problems] == [("F008", "x.json", "/imagePath")]
    assert ds.images.path.tolist() == [""]  # not the outside file, nor the link to it
    result = invoke("check", root, "--no-cache", "--images", "header", "--output-format", "json")
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    # a link's name is safe, so I001 also says no image was found under it
    assert codes[0] == "F008" and set(codes) <= {"F008", "I001"} and str(outside) not in result.output
    assert invoke("convert", root, tmp_path / "out", "--to", "coco").exit_code == 0
    assert not list((tmp_path / "out").rglob("*.jpg"))


def test_fix_rewrites_only_the_moved_shape_keeping_image_data(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    path = root / "train" / "street.json"  # the file with imageData
    doc = json.loads(path.read_text())
    doc["shapes"].append(rectangle("car", [[70.0, 40.0], [50.0, 10.0]]))  # past the 64 px edge, reversed
    doc["shapes"].append({**rectangle("sign", [[60.0, 30.0], [70.0, 30.0], [70.0, 40.0]]), "shape_type": "polygon"})
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    before_road = (root / "val" / "road.json").read_bytes()
    before_lines = path.read_text().splitlines()
    result = invoke("check", root, "--no-cache", "--select", "B002", "--unsafe-fixes")
    assert result.exit_code in (0, 1), result.output
    after = json.loads(path.read_text())
    assert after["shapes"][7]["points"] == [[64.0, 40.0], [50.0, 10.0]]  # clipped, corner order kept
    assert after["shapes"][:7] == doc["shapes"][:7] and list(after) == list(doc)
    assert after["imageData"] == doc["imageData"]
    assert after["shapes"][8]["points"] == [[60.0, 30.0], [64.0, 30.0], [64.0, 40.0]]  # the polygon with its box
    changed = [a for a, b in zip(before_lines, path.read_text().splitlines()) if a != b]
    assert changed == ["          70.0,"] * 3  # the one number that moved; every other line byte for byte
    assert (root / "val" / "road.json").read_bytes() == before_road


def test_a_labelme_json_passed_alone_is_checked_with_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    fmt = get("labelme")
    member = root / "train" / "street.json"
    assert fmt.claim(member) is not None
    assert fmt.loose_root(member) == root
    result = invoke("check", member, "--no-cache", "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["datasets"][0]["format"] == "labelme"


def test_a_mask_shape_is_read_as_rle_over_the_image(tmp_path: Path) -> None:
    import base64

    import cv2

    part = np.zeros((10, 10), np.uint8)
    part[2:5, 3:7] = 255  # 3 rows, 4 columns set, inside a region whose top-left is (10, 5)
    encoded = base64.b64encode(cv2.imencode(".png", part)[1].tobytes()).decode()
    mask = {"label": "car", "points": [[10.0, 5.0], [19.0, 14.0]], "group_id": None, "description": "",
            "shape_type": "mask", "flags": {}, "mask": encoded}
    root = broken(tmp_path, json.dumps(labelme_doc([mask])))
    ds = load(root)
    row = rows_of(ds, "a.json")[0]
    assert ds.annotations.boxes[row].tolist() == [13.0, 7.0, 17.0, 10.0]
    rle = ds.annotations.segmentation[row]
    assert rle["size"] == [48, 64] and sum(rle["counts"][1::2]) == 12
    full = np.zeros(48 * 64, bool)  # decode the runs (column-major) and compare with the placed mask
    at = 0
    for k, count in enumerate(rle["counts"]):
        full[at:at + count] = k % 2 == 1
        at += count
    expected = np.zeros((48, 64), bool)
    expected[7:10, 13:17] = True
    assert np.array_equal(full.reshape(64, 48).T, expected)
    options = save(ds, tmp_path / "lm", "labelme")  # labelme to labelme: the mask as it was
    written = json.loads((tmp_path / "lm" / "a.json").read_text())
    assert written["shapes"][0]["mask"] == encoded and written["shapes"][0]["shape_type"] == "mask"
    assert not any("RLE" in loss["what"] for loss in options.losses)


def test_a_json_linked_out_of_the_root_is_f008_and_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(labelme_doc([rectangle("secret-class", [[1, 1], [5, 5]])])))
    root = broken(tmp_path, json.dumps(labelme_doc([rectangle("car", [[1, 1], [5, 5]])])))
    os.symlink(outside, root / "c.json")
    ds = load(root)
    assert [(p.code, p.file) for p in ds.problems] == [("F008", "c.json")]
    assert "secret-class" not in ds.categories.names


def test_fix_drops_a_degenerate_shape(tmp_path: Path) -> None:
    doc = labelme_doc([rectangle("car", [[5, 5], [5, 9]]), rectangle("car", [[1, 1], [9, 9]])])
    root = broken(tmp_path, json.dumps(doc, indent=2))
    result = invoke("check", root, "--no-cache", "--select", "B001", "--fix", "--unsafe-fixes")
    assert result.exit_code in (0, 1), result.output
    after = json.loads((root / "a.json").read_text())
    assert [s["points"] for s in after["shapes"]] == [[[1, 1], [9, 9]]]


def test_voc_flags_become_shape_flags(tmp_path: Path) -> None:
    ds = load(Path(__file__).parent.parent / "fixtures" / "voc_clean")
    ds.annotations.difficult[:] = 0
    ds.annotations.difficult[0] = 1
    save(ds, tmp_path / "lm", "labelme")
    flags = [s["flags"] for f in sorted((tmp_path / "lm").rglob("*.json")) if f.name != "detlint-conversion.json"
             for s in json.loads(f.read_text())["shapes"]]
    assert sum(bool(f.get("difficult")) for f in flags) == 1


def test_a_declared_size_that_differs_from_the_image_is_i003(tmp_path: Path) -> None:
    root = broken(tmp_path, json.dumps(labelme_doc([rectangle("car", [[1, 1], [5, 5]])], imageWidth=640)))
    result = invoke("check", root, "--no-cache", "--output-format", "json", "--select", "I003")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["file"]) for f in findings] == [("I003", "a.json")], findings
    assert findings[0]["pointer"] in ("", "/imageWidth", "/imageHeight")
    fixed = invoke("check", root, "--no-cache", "--select", "I003", "--fix")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads((root / "a.json").read_text())["imageWidth"] == 64


def test_an_image_root_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    result = invoke("check", FIXTURE, "--no-cache", "--image-root", tmp_path / "elsewhere")
    assert result.exit_code == 2 and "--image-root" in result.stderr and result.stderr.count("\n") == 1
