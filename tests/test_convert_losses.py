"""Every row a conversion does not write is a listed loss, the same in every target format:
rows of an unknown class, malformed rows (a YOLO line that does not parse, a VOC object without
a box, a COCO annotation with a bad bbox or an entry that is no object), and nothing is listed
for what is not lost (empty values, exact coordinates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import make_yolo, write_image

import detlint
from detlint.converting import REPORT_NAME, convert

TARGETS = ["coco", "voc", "yolo"]


def losses_of(report) -> dict[str, int]:
    return {loss["what"]: loss["count"] for loss in report.losses}


def details_of(report) -> str:
    return " | ".join(f"{loss['what']}: {loss['detail']}" for loss in report.losses)


def box_count(path: Path) -> int:
    ds = detlint.load(path)
    return int(ds.annotations.has_box.sum())


@pytest.mark.parametrize("target", TARGETS)
def test_unknown_yolo_class_is_dropped_and_listed_in_every_target(tmp_path: Path, target: str) -> None:
    source = make_yolo(tmp_path / "src", {"a": "0 0.5 0.5 0.2 0.2\n3 0.4 0.4 0.1 0.1\n3 0.6 0.6 0.1 0.1\n"},
                       ["cat", "dog"])
    report = convert(source, tmp_path / "out", target)
    assert losses_of(report)["annotation of an unknown class"] == 2
    assert "class 3 x2" in details_of(report)
    back = detlint.load(tmp_path / "out")
    assert int(back.annotations.has_box.sum()) == 1  # the known box only, never an invented class
    assert all(not name.startswith("class_") for name in back.categories.names)
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.suffix in (".xml", ".json"))
    assert "class_3" not in written


def write_malformed(root: Path, source: str) -> int:
    """A dataset of ``source`` format with one good box and malformed rows; how many of them."""
    if source == "yolo":
        make_yolo(root, {"a": "0 0.5 0.5 0.2 0.2\nfoo bar 1 2 3\n1 0.5 0.5\n"}, ["cat", "dog"])
        return 2
    if source == "voc":
        write_image(root / "JPEGImages" / "a.png", (64, 48))
        box = "<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>20</xmax><ymax>20</ymax></bndbox>"
        (root / "Annotations").mkdir(parents=True)
        (root / "Annotations" / "a.xml").write_text(
            "<annotation><filename>a.png</filename><size><width>64</width><height>48</height>"
            f"<depth>3</depth></size><object><name>cat</name>{box}</object>"
            "<object><name>cat</name></object>"  # no bndbox
            "<object><name>cat</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>abc</xmax>"
            "<ymax>20</ymax></bndbox></object></annotation>")
        return 2
    write_image(root / "images" / "a.png", (64, 48))
    good = {"image_id": 1, "category_id": 1, "area": 12, "iscrowd": 0}
    (root / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, **good, "bbox": [1, 2, 3, 4]}, {"id": 2, **good, "bbox": [1, 2, "x", 4]},
                        {"id": 3, **good, "bbox": [1, 2]}, 7],
        "categories": [{"id": 1, "name": "cat"}]}))
    return 3


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", TARGETS)
def test_every_malformed_row_not_written_is_a_listed_loss(tmp_path: Path, source: str, target: str) -> None:
    malformed = write_malformed(tmp_path / "src", source)
    report = convert(tmp_path / "src", tmp_path / "out", target)
    assert box_count(tmp_path / "out") == 1
    row_losses = {"label lines that could not be parsed (not converted)", "non-finite boxes dropped",
                  "annotations entries that are not objects (not read)"}
    assert sum(count for what, count in losses_of(report).items() if what in row_losses) == malformed, report.losses
    assert "nothing lost" not in report.summary()
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*")
                      if p.is_file() and p.suffix in (".xml", ".json", ".txt") and p.name != REPORT_NAME)
    assert "nan" not in written.lower() and "null" not in written  # nothing half-written either


@pytest.mark.parametrize("target", ["voc", "yolo"])
def test_empty_values_are_no_loss(tmp_path: Path, target: str) -> None:
    write_image(tmp_path / "coco" / "images" / "a.png", (64, 48))
    (tmp_path / "coco" / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0,
                         "note": ""}],
        "categories": [{"id": 1, "name": "cat", "supercategory": None}, {"id": 2, "name": "dog", "supercategory": ""}]}))
    report = convert(tmp_path / "coco", tmp_path / "out", target)
    assert not [loss for loss in report.losses if "extra" in loss["what"] or "area" in loss["what"]], report.losses
    voc = tmp_path / "voc"
    write_image(voc / "JPEGImages" / "a.png", (64, 48))
    (voc / "Annotations").mkdir(parents=True)
    (voc / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.png</filename><size><width>64</width><height>48</height><depth>3</depth></size>"
        "<object><name>cat</name><pose></pose><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>20</xmax><ymax>20</ymax>"
        "</bndbox></object></annotation>")
    report = convert(voc, tmp_path / "voc_out", target)
    assert not [loss for loss in report.losses if "extra" in loss["what"]], report.losses


def test_voc_coco_voc_lists_nothing_the_round_trip_keeps(tmp_path: Path) -> None:
    voc = tmp_path / "voc"
    write_image(voc / "JPEGImages" / "a.png", (64, 48))
    (voc / "Annotations").mkdir(parents=True)
    (voc / "Annotations" / "a.xml").write_text(
        "<annotation><folder>VOC2007</folder><filename>a.png</filename><source><database>db</database></source>"
        "<size><width>64</width><height>48</height><depth>3</depth></size><segmented>0</segmented>"
        "<object><name>cat</name><pose>Left</pose><truncated>1</truncated><difficult>1</difficult>"
        "<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")
    convert(voc, tmp_path / "coco", "coco")
    back = convert(tmp_path / "coco", tmp_path / "back", "voc")
    assert back.losses == []  # the area COCO wrote is the box's; the VOC fields came back from 'attributes'
    assert (tmp_path / "back" / "Annotations" / "a.xml").read_text() == \
        convert_again(voc, tmp_path / "voc_voc").read_text()


def convert_again(voc: Path, dst: Path) -> Path:
    convert(voc, dst, "voc")
    return dst / "Annotations" / "a.xml"


def test_yolo_to_voc_lists_rounding_only_where_the_source_numbers_change(tmp_path: Path) -> None:
    # on 640 x 480: 0.328125 ... comes back from 3-decimal pixels as written; 0.123457 does not
    labels = {"a": "0 0.328125 0.652083 0.160937 0.254167\n", "b": "0 0.123457 0.5 0.2 0.3\n"}
    report = convert(make_yolo(tmp_path / "src", labels, ["cat"], size=(640, 480)), tmp_path / "voc", "voc")
    assert losses_of(report)["non-integer coordinates rounded"] == 1
    convert(tmp_path / "voc", tmp_path / "back", "yolo")
    again = {p.stem: p.read_text() for p in (tmp_path / "back" / "labels").rglob("*.txt")}
    assert again["a"] == "0 0.328125 0.652083 0.160937 0.254167\n"
    assert again["b"] != "0 0.123457 0.500000 0.200000 0.300000\n"  # the one listed


def test_written_coco_has_no_float_noise_and_reads_in_pycocotools(tmp_path: Path) -> None:
    pycocotools = pytest.importorskip("pycocotools.coco")
    # 0.05625 * 640 = 36.00000000000001 and 0.3 * 480 = 144.00000000000003 in floats
    labels = {"a": "0 0.1 0.4 0.05625 0.3\n0 0.5 0.5 0.33 0.17\n"}
    convert(make_yolo(tmp_path / "src", labels, ["cat"], size=(640, 480)), tmp_path / "coco", "coco")
    path = next((tmp_path / "coco").rglob("instances_*.json"))
    coco = pycocotools.COCO(str(path))
    boxes = sorted(coco.anns[i]["bbox"] for i in coco.getAnnIds())
    assert boxes == [[46, 120, 36, 144], [214.4, 199.2, 211.2, 81.6]]
    assert all(len(repr(v)) <= 8 for box in boxes for v in box)  # 36, not 36.00000000000001
    text = path.read_text()
    assert "0000000" not in text and "9999999" not in text
