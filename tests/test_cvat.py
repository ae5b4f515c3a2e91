"""CVAT for images 1.1 XML: the fixture export read as documented, located findings, hostile
names, the writer, and the round trips CVAT -> COCO -> CVAT and CVAT -> CVAT."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import write_image
from pycocotools import mask as mask_utils

from detlint import formats
from detlint.cli import main
from detlint.formats import ReadOptions, WriteOptions
from detlint.geometry.obb import rect_corners, rotate
from detlint.model import Annotations, Dataset

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "formats" / "cvat"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
KINDS = {"box": Annotations.KIND_BOX, "none": Annotations.KIND_NONE, "oriented": Annotations.KIND_OBB}


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def load(path: Path) -> Dataset:
    return formats.load(path, options=ReadOptions(progress=False))


def row_at(ds: Dataset, line: int) -> int:
    rows = np.flatnonzero(ds.annotations.src_line == line)
    assert len(rows) == 1, (line, rows)
    return int(rows[0])


def cvat_xml(images: str, labels: str = "<label><name>car</name></label>") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
            f"  <meta><task><name>t</name><labels>{labels}</labels></task></meta>\n{images}</annotations>\n")


def test_the_fixture_reads_as_its_expected_facts() -> None:
    assert formats.sniff(FIXTURE) == "cvat" and formats.sniff(FIXTURE / "annotations.xml") == "cvat"
    ds = load(FIXTURE)
    ann = ds.annotations
    assert ds.format == EXPECTED["format"] and ds.files == ["annotations.xml"]
    assert len(ds.images) == EXPECTED["images"] and ds.images.path.tolist() == EXPECTED["image_paths"]
    assert np.column_stack([ds.images.width, ds.images.height]).tolist() == EXPECTED["image_sizes"]
    assert len(ann) == EXPECTED["annotations"] and ds.categories.names == EXPECTED["classes"]
    assert {k: int((ann.kind == v).sum()) for k, v in KINDS.items()} == EXPECTED["annotations_by_kind"]
    assert (ann.src_file == 0).all() and (ann.src_line > 0).all()
    for undeclared in EXPECTED["undeclared_labels"]:
        row = row_at(ds, undeclared["line"])
        assert ann.category[row] == -1 and ann.extra[row]["name"] == undeclared["label"]
    assert ann.src_line[ann.occluded == 1].tolist() == EXPECTED["occluded_lines"]
    for line, attributes in EXPECTED["attributes"].items():
        assert attributes.items() <= ann.extra[row_at(ds, int(line))].items()
    shapes = [e.get("shape") for e in ann.extra if isinstance(e, dict) and e.get("shape")]
    assert sorted(shapes) == ["points", "polyline"]
    polygon = row_at(ds, 70)
    assert ann.segmentation[polygon] == [[40.0, 10.0, 52.5, 12.0, 50.0, 40.0, 38.0, 36.25]]
    assert ann.boxes[polygon].tolist() == [38.0, 10.0, 52.5, 40.0]
    assert ds.problems == []


def test_a_rotated_box_is_an_oriented_box_rotated_clockwise_about_its_centre() -> None:
    ds = load(FIXTURE)
    ann, expected = ds.annotations, EXPECTED["rotated_box"]
    row = row_at(ds, expected["line"])
    assert ann.kind[row] == Annotations.KIND_OBB and ann.raw[row].tolist() == expected["xtl_ytl_xbr_ybr"]
    x1, y1, x2, y2 = expected["xtl_ytl_xbr_ybr"]
    corners = np.asarray(ann.segmentation[row]).reshape(4, 2)
    # by hand: the top-left corner (-10, -5) from the centre (40, 25), turned 30 degrees clockwise on screen
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert corners[0] == pytest.approx([40 + (-10 * c + 5 * s), 25 + (-10 * s - 5 * c)])
    assert np.allclose(corners.ravel(), rotate(rect_corners([x1], [y1], [x2 - x1], [y2 - y1]), [40], [25], [30])[0])
    assert ann.boxes[row] == pytest.approx([*corners.min(axis=0), *corners.max(axis=0)])
    assert "clockwise" in ds.meta["obb"]["angle"]


def test_a_mask_is_a_coco_rle_on_the_whole_image() -> None:
    ds = load(FIXTURE)
    expected = EXPECTED["mask"]
    row = row_at(ds, expected["line"])
    segmentation = ds.annotations.segmentation[row]
    assert segmentation["size"] == [60, 80]
    pixels = mask_utils.decode({"size": segmentation["size"], "counts": segmentation["counts"].encode()})
    want = np.zeros((60, 80), np.uint8)
    crop = np.array([[int(c) for c in line] for line in expected["rows"]], np.uint8)
    want[expected["top"]:expected["top"] + 3, expected["left"]:expected["left"] + 4] = crop
    assert (pixels == want).all()
    assert ds.annotations.area[row] == crop.sum() == 8


def test_check_sniffs_the_export_and_locates_findings_at_the_element_line(tmp_path: Path) -> None:
    result = invoke("check", FIXTURE, "--no-cache", "--output-format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["datasets"][0]["format"] == "cvat"
    found = [{"code": f["code"], "file": f["file"], "line": f["line"]} for f in report["findings"]]
    assert found == EXPECTED["findings"]
    assert "truck" in report["findings"][0]["message"]


def test_xml_that_does_not_parse_is_f001_at_the_parser_line(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "annotations.xml").write_text(cvat_xml('  <image id="0" name="a.jpg" width="64" height="48">\n'
                                                   '    <box label="car" xtl="1" ytl="2" xbr="10"\n  </image>\n'))
    result = invoke("check", root, "--no-cache", "--output-format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["file"], f["line"]) for f in findings] == [("F001", "annotations.xml", 7)]  # where libxml2 stops


def test_bad_mask_runs_and_track_frames_without_images_are_located(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_image(root / "images" / "a.jpg")
    (root / "annotations.xml").write_text(cvat_xml(
        '  <image id="0" name="a.jpg" width="64" height="48">\n'
        '    <mask label="car" rle="1, 2" left="0" top="0" width="2" height="2" z_order="0"></mask>\n'
        "  </image>\n"
        '  <track id="0" label="car" source="manual">\n'
        '    <box frame="0" outside="0" occluded="1" keyframe="1" xtl="1" ytl="2" xbr="11" ybr="12"></box>\n'
        '    <box frame="0" outside="1" occluded="0" keyframe="1" xtl="1" ytl="2" xbr="11" ybr="12"></box>\n'
        '    <box frame="7" outside="0" occluded="0" keyframe="1" xtl="1" ytl="2" xbr="11" ybr="12"></box>\n'
        "  </track>\n"))
    ds = load(root)
    assert [(p.code, p.line) for p in ds.problems] == [("F004", 11), ("F001", 6)]
    track_row = row_at(ds, 9)
    assert ds.annotations.boxes[track_row].tolist() == [1, 2, 11, 12] and ds.annotations.occluded[track_row] == 1
    assert ds.annotations.extra[track_row]["track_id"] == "0" and len(ds.annotations) == 2


def test_hostile_image_names_are_f008_and_nothing_outside_is_read(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = Path("ds")
    write_image(tmp_path / "secret.jpg")  # outside the root: never found, read or placed
    write_image(root / "images" / "ok.jpg")
    (root / "images" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    (root / "annotations.xml").write_text(cvat_xml(
        '  <image id="0" name="../../etc/passwd" width="64" height="48"></image>\n'
        f'  <image id="1" name="{tmp_path / "secret.jpg"}" width="64" height="48"></image>\n'
        '  <image id="2" name="../secret.jpg" width="64" height="48"></image>\n'
        '  <image id="3" name="link.jpg" width="64" height="48"></image>\n'
        '  <image id="4" name="ok.jpg" width="64" height="48"></image>\n'))
    ds = load(root)
    assert [(p.code, p.line) for p in ds.problems] == [("F008", 5), ("F008", 6), ("F008", 7), ("F008", 8)]
    assert ds.images.path.tolist() == ["", "", "", "", "images/ok.jpg"]
    result = invoke("check", root, "--no-cache", "--output-format", "json", "--images", "decode")
    findings = json.loads(result.stdout)["findings"]
    assert {("F008", 5), ("F008", 6), ("F008", 7), ("F008", 8)} <= {(f["code"], f["line"]) for f in findings}
    # the one absolute path printed is the name the file declares (its own text), never a path resolved
    assert str(tmp_path) not in result.stdout.replace(str(tmp_path / "secret.jpg"), "")
    assert not [f for f in findings if f["code"] in ("I002", "I007", "I010")]  # the outside file was never read
    out = Path("out")
    invoke("convert", root, out, "--to", "cvat")
    placed = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*") if p.is_file())
    assert placed == ["images/ok.jpg"]


def _boxes_by_line(ds: Dataset) -> dict[int, list[float]]:
    return {int(line): box for line, box in zip(ds.annotations.src_line.tolist(), ds.annotations.boxes.tolist())}


def test_round_trip_cvat_coco_cvat_keeps_boxes_polygons_masks_and_attributes(tmp_path: Path) -> None:
    source = load(FIXTURE)
    formats.save(source, tmp_path / "coco", "coco")
    coco = load(tmp_path / "coco")
    options = formats.save(coco, tmp_path / "back", "cvat")
    back = load(tmp_path / "back")
    assert options.losses == [] and back.problems == []
    src, out = source.annotations, back.annotations
    keep = np.flatnonzero((src.category >= 0) & (src.kind != Annotations.KIND_NONE))  # truck: lost, listed
    assert len(out) == len(keep) + 2  # polylines and points come back from COCO's 'attributes'
    want = {k: src.boxes[r].tolist() for k, r in enumerate(keep)}
    got = out.boxes[out.kind != Annotations.KIND_NONE]
    assert np.abs(got - np.array(list(want.values()))).max() <= 1e-3
    polygons = [s for s in out.segmentation if isinstance(s, list)]
    assert [[40.0, 10.0, 52.5, 12.0, 50.0, 40.0, 38.0, 36.25]] in polygons  # exact
    corners = src.segmentation[src.kind == Annotations.KIND_OBB][0]
    assert [corners] in polygons  # the rotated box's corners, exact (COCO holds them as a polygon)
    masks = [s for s in out.segmentation if isinstance(s, dict)]
    assert masks == [s for s in src.segmentation if isinstance(s, dict)]
    assert out.occluded.tolist().count(1) == 1
    extras = [e for e in out.extra if e]
    assert {"attribute:color": "red", "source": "manual", "z_order": 0}.items() <= extras[0].items()
    text = (tmp_path / "back" / "annotations.xml").read_text()
    assert '<polyline label="road"' in text and '<points label="person"' in text


def test_cvat_to_cvat_keeps_every_shape(tmp_path: Path) -> None:
    source = load(FIXTURE)
    options = formats.save(source, tmp_path / "copy", "cvat")
    assert [(loss["what"], loss["count"]) for loss in options.losses] == [("annotation of an unknown class", 1)]
    copy = load(tmp_path / "copy")
    keep = source.annotations.category >= 0
    for column in ("kind", "category", "occluded"):
        assert getattr(copy.annotations, column).tolist() == getattr(source.annotations, column)[keep].tolist()
    assert np.allclose(copy.annotations.raw, source.annotations.raw[keep], equal_nan=True)
    assert copy.annotations.segmentation.tolist() == source.annotations.segmentation[keep].tolist()
    assert [e.get("rotation") for e in copy.annotations.extra if e] == \
        [e.get("rotation") for e, k in zip(source.annotations.extra, keep) if e and k]
    assert copy.images.path.tolist() == source.images.path.tolist()
    assert copy.images.file_name.tolist() == ["frame_a.jpg", "frame_b.png", "sub/frame_c.jpg"]


def test_an_oriented_box_that_is_no_rectangle_is_written_as_a_polygon_and_listed(tmp_path: Path) -> None:
    ds = load(FIXTURE)
    row = int(np.flatnonzero(ds.annotations.kind == Annotations.KIND_OBB)[0])
    ds.annotations.segmentation[row] = [30.0, 20.0, 50.0, 22.0, 48.0, 30.0, 31.0, 33.0]  # a DOTA-like quadrilateral
    options = formats.save(ds, tmp_path / "out", "cvat", WriteOptions())
    assert {"what": "oriented boxes that are not rectangles written as polygons", "count": 1, "detail": ""} \
        in options.losses
    assert 'points="30,20;50,22;48,30;31,33"' in (tmp_path / "out" / "annotations.xml").read_text()


def test_the_cli_converts_both_ways_and_gives_stats(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "src")
    assert invoke("convert", tmp_path / "src", tmp_path / "coco", "--to", "coco").exit_code == 0
    assert json.loads((tmp_path / "coco" / "annotations.json").read_text())["categories"][0]["name"] == "car"
    result = invoke("convert", tmp_path / "coco", tmp_path / "cvat", "--to", "cvat")
    assert result.exit_code == 0, result.output
    assert invoke("check", tmp_path / "cvat", "--no-cache").exit_code == 0
    stats = invoke("stats", tmp_path / "src", "--output-format", "json")
    assert stats.exit_code == 0, stats.output
    report = json.loads(stats.stdout)
    assert report["format"] == "cvat" and report["images"] == 3 and report["annotations"] == 8


@pytest.mark.parametrize(("where", "message"), [
    ('<image id="0" name="a.jpg" width="4" height="4"><box label="car" xtl="0" ytl="0" xbr="1" ybr="1">'
     '<attribute name="n">&x;</attribute></box></image>', "entity &x;"),
    ('<image id="0" name="&x;" width="4" height="4"></image>', "external entity"),
])
def test_an_external_entity_is_never_expanded(tmp_path: Path, where: str, message: str) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("SECRET-TEXT")
    (root / "annotations.xml").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE annotations [<!ENTITY x SYSTEM "file://{tmp_path}/secret.txt">]>\n'
        f"<annotations>\n<version>1.1</version>\n{where}\n</annotations>\n")
    ds = load(root)
    assert [(p.code, p.line) for p in ds.problems] == [("F001", 5)] and message in ds.problems[0].message
    assert "SECRET-TEXT" not in repr(ds.images.file_name.tolist()) + repr(ds.annotations.extra.tolist())


def test_fix_edits_a_box_on_its_line_and_removes_a_dropped_one(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    xml = root / "annotations.xml"
    original = xml.read_text()
    broken = original.replace('xtl="10.00" ytl="5.00" xbr="25.00"', 'xtl="10.00" ytl="5.00" xbr="125.00"').replace(
        '    <box label="truck"', '    <box label="car" source="auto" occluded="0" xtl="5.00" ytl="6.00" xbr="5.00" '
        'ybr="9.00" z_order="0">\n    </box>\n    <box label="truck"')
    xml.write_text(broken)
    result = invoke("check", root, "--no-cache", "--fix", "--unsafe-fixes", "--select", "B001,B002")
    assert result.exit_code == 0, result.output
    fixed = xml.read_text()
    # the zero-width box is gone with its lines; the clipped one has xbr="100"; every other byte stays
    assert fixed == original.replace('xtl="10.00" ytl="5.00" xbr="25.00"', 'xtl="10.00" ytl="5.00" xbr="100"')
    assert load(root).annotations.boxes[-1].tolist() == [10, 5, 100, 45]


def test_a_project_export_reads_subsets_and_a_missing_image_is_i001(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_image(root / "images" / "Train" / "a.jpg")
    (root / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        "  <meta><project><name>p</name><labels><label><name>car</name></label><label><name>bus</name></label>"
        "</labels></project></meta>\n"
        '  <image id="0" name="a.jpg" subset="Train" task_id="3" width="64" height="48">\n'
        '    <box label="bus" source="manual" occluded="0" xtl="1" ytl="2" xbr="10" ybr="20" z_order="0"></box>\n'
        "  </image>\n"
        '  <image id="1" name="b.jpg" subset="Validation" task_id="4" width="64" height="48">\n'
        '    <box label="car" source="manual" occluded="0" xtl="1" ytl="2" xbr="10" ybr="20" z_order="0"></box>\n'
        "  </image>\n</annotations>\n")
    ds = load(root)
    assert ds.categories.names == ["car", "bus"] and ds.meta["cvat"]["owner"] == "project"
    assert ds.images.split.tolist() == ["Train", "Validation"] and ds.images.path.tolist() == ["images/Train/a.jpg", ""]
    assert ds.images.extra[0] == {"task_id": "3"}
    report = json.loads(invoke("check", root, "--no-cache", "--output-format", "json").stdout)
    assert [(f["code"], f["line"]) for f in report["findings"]] == [("I001", None), ("I001", 8)]  # summary, then the entry
    out = tmp_path / "out"
    formats.save(ds, out, "cvat")
    assert (out / "images" / "Train" / "a.jpg").is_file()
    again = load(out)
    assert again.images.split.tolist() == ["Train", "Validation"] and again.images.path[0] == "images/Train/a.jpg"


def test_an_image_root_elsewhere_is_where_images_are_found(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("images"))
    shutil.copytree(FIXTURE / "images", tmp_path / "pictures" / "images")
    assert load(root).images.path.tolist() == ["", "", ""]
    ds = formats.load(root, options=ReadOptions(progress=False, image_root=tmp_path / "pictures"))
    assert ds.images.path.tolist() == EXPECTED["image_paths"] and ds.image_dir == tmp_path / "pictures"


def test_a_video_export_gets_one_image_per_tracked_frame(tmp_path: Path) -> None:
    """CVAT for video: no <image>; frames are images/frame_NNNNNN.<ext> of <original_size>."""
    root = tmp_path / "ds"
    for frame in (0, 1, 2):
        write_image(root / "images" / f"frame_{frame:06d}.png", (640, 480))
    (root / "annotations.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        "  <meta><task><name>v</name><mode>interpolation</mode><labels><label><name>car</name></label></labels>"
        "<original_size><width>640</width><height>480</height></original_size></task></meta>\n"
        '  <track id="0" label="car" source="manual">\n'
        '    <box frame="0" outside="0" occluded="0" keyframe="1" xtl="1" ytl="2" xbr="11" ybr="12" z_order="0"></box>\n'
        '    <box frame="2" outside="0" occluded="1" keyframe="1" xtl="5" ytl="6" xbr="15" ybr="16" z_order="0"></box>\n'
        '    <box frame="3" outside="1" occluded="0" keyframe="1" xtl="5" ytl="6" xbr="15" ybr="16" z_order="0"></box>\n'
        "  </track>\n</annotations>\n")
    ds = load(root)
    assert ds.problems == [] and ds.meta["cvat"]["video"]
    assert ds.images.path.tolist() == ["images/frame_000000.png", "images/frame_000002.png"]
    assert ds.images.width.tolist() == [640, 640] and ds.images.id.tolist() == [0, 2]
    assert ds.annotations.image.tolist() == [0, 1] and ds.annotations.src_line.tolist() == [6, 7]
    options = formats.save(ds, tmp_path / "out", "cvat")
    assert {"what": "track membership (shapes written per image, as CVAT for images does)", "count": 2,
            "detail": ""} in options.losses
    assert load(tmp_path / "out").annotations.boxes.tolist() == [[1, 2, 11, 12], [5, 6, 15, 16]]


def test_bad_numbers_are_located_findings_not_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_image(root / "images" / "a.jpg")
    (root / "annotations.xml").write_text(cvat_xml(
        '  <image id="0" name="a.jpg" width="abc" height="48">\n'
        '    <box label="car" occluded="0" xtl="1" ytl="two" xbr="10" ybr="20"></box>\n'
        '    <polygon label="car" occluded="0" points="1,2;3"></polygon>\n'
        "  </image>\n"))
    report = json.loads(invoke("check", root, "--no-cache", "--output-format", "json").stdout)
    assert sorted((f["code"], f["line"]) for f in report["findings"]) == [("B004", 6), ("B004", 7), ("F011", 5)]
