"""Property: through every writer pair (coco/voc/yolo -> coco/voc/yolo), a random dataset with
dangling references (COCO image_ids that match no image, VOC XML and YOLO labels whose image file
is missing) never gets a box on a different image, and every box that does not come back is
counted in the conversion's losses."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import write_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detlint
from detlint.converting import convert

FORMATS = ["coco", "voc", "yolo"]
CLASSES = ["a", "b"]
TOLERANCE = 1e-5  # normalised units: YOLO keeps 6 decimals
BOX_LOSSES = {  # the losses that drop boxes, in the writers' words
    "annotations that reference no image (dropped: their image_id matches no image entry)",
    "normalised boxes on an image of unknown size dropped (cannot be made pixels)",
    "normalised boxes without an image size dropped",
    "box on an image of unknown size (cannot normalise)",
}

Box = tuple[int, int, int, int, int]  # class, x1, y1, x2, y2 (pixels)


@st.composite
def datasets(draw: st.DrawFn) -> dict:
    """Images (size, whether the file exists, integer pixel boxes) and dangling boxes."""
    images = []
    for _ in range(draw(st.integers(1, 4))):
        width, height = draw(st.integers(8, 40)), draw(st.integers(8, 40))
        boxes = []
        for _ in range(draw(st.integers(0, 3))):
            x1, y1 = draw(st.integers(0, width - 2)), draw(st.integers(0, height - 2))
            x2, y2 = draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height))
            boxes.append((draw(st.integers(0, 1)), x1, y1, x2, y2))
        images.append({"size": (width, height), "file": draw(st.booleans()), "boxes": boxes})
    dangling = [(0, 1, 1, 4, 4)] * draw(st.integers(0, 2))
    return {"images": images, "dangling": dangling}


def write_coco(root: Path, data: dict) -> None:
    doc: dict = {"images": [], "annotations": [], "categories": [{"id": k + 1, "name": n} for k, n in enumerate(CLASSES)]}

    def add(image_id: int, box: Box) -> None:
        c, x1, y1, x2, y2 = box
        doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": image_id, "category_id": c + 1,
                                   "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})

    for k, image in enumerate(data["images"]):
        width, height = image["size"]
        doc["images"].append({"id": k + 1, "file_name": f"im{k}.png", "width": width, "height": height})
        if image["file"]:
            write_image(root / "images" / f"im{k}.png", image["size"])
        for box in image["boxes"]:
            add(k + 1, box)
    for j, box in enumerate(data["dangling"]):
        add(900 + j, box)
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotations.json").write_text(json.dumps(doc))


def write_voc(root: Path, data: dict) -> None:
    (root / "Annotations").mkdir(parents=True)
    for k, image in enumerate(data["images"]):
        width, height = image["size"]
        objects = "".join(f"<object><name>{CLASSES[c]}</name><bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin>"
                          f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>" for c, x1, y1, x2, y2 in image["boxes"])
        (root / "Annotations" / f"im{k}.xml").write_text(
            f"<annotation><filename>im{k}.png</filename><size><width>{width}</width><height>{height}</height>"
            f"<depth>3</depth></size>{objects}</annotation>")
        if image["file"]:
            write_image(root / "JPEGImages" / f"im{k}.png", image["size"])


def write_yolo(root: Path, data: dict) -> None:
    (root / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(f"path: .\ntrain: images\nval: images\nnc: 2\nnames: {CLASSES}\n")
    for k, image in enumerate(data["images"]):
        width, height = image["size"]
        lines = [f"{c} {(x1 + x2) / 2 / width!r} {(y1 + y2) / 2 / height!r} {(x2 - x1) / width!r} {(y2 - y1) / height!r}\n"
                 for c, x1, y1, x2, y2 in image["boxes"]]
        (root / "labels" / f"im{k}.txt").write_text("".join(lines))
        if image["file"]:
            write_image(root / "images" / f"im{k}.png", image["size"])
        else:
            (root / "images").mkdir(exist_ok=True)


WRITERS = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo}


def truth(data: dict) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Image stem -> (class name, normalised x1 y1 x2 y2) of the boxes that have an image."""
    out = {}
    for k, image in enumerate(data["images"]):
        width, height = image["size"]
        out[f"im{k}"] = [(CLASSES[c], np.array([x1 / width, y1 / height, x2 / width, y2 / height]))
                         for c, x1, y1, x2, y2 in image["boxes"]]
    return out


def matched_boxes(ds: detlint.model.Dataset, data: dict) -> int:
    """How many of ``ds``'s boxes are the generated ones; fails on a box on a different image."""
    expected = truth(data)
    sizes = {f"im{k}": image["size"] for k, image in enumerate(data["images"])}
    ann = ds.annotations
    for row in range(len(ann)):
        image = int(ann.image[row])
        assert image >= 0, "an annotation without an image came back"
        stem = Path(str(ds.images.path[image] or ds.images.file_name[image])).stem
        assert stem in expected, f"a box on an image that was never generated: {stem}"
        width, height = sizes[stem]
        box = ann.boxes[row] if ann.normalized[row] else ann.boxes[row] / [width, height, width, height]
        name = ds.categories.names[ann.category[row]]
        hits = [i for i, (n, b) in enumerate(expected[stem]) if n == name and np.allclose(b, box, atol=TOLERANCE)]
        assert hits, f"box {box} ({name}) on {stem} matches none of that image's boxes {expected[stem]}"
        expected[stem].pop(hits[0])
    return len(ann)


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=datasets())
def test_no_box_lands_on_another_image_and_every_lost_box_is_counted(source: str, target: str, data: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / "src", Path(folder) / "dst"
        WRITERS[source](src, data)
        report = convert(src, dst, target)
        back = detlint.load(dst)
        came_back = matched_boxes(back, data)
    generated = sum(len(image["boxes"]) for image in data["images"]) + (len(data["dangling"]) if source == "coco" else 0)
    counted = sum(loss["count"] for loss in report.losses if loss["what"] in BOX_LOSSES)
    assert generated - came_back == counted, report.losses


VOC_FIELDS = st.fixed_dictionaries({
    "pose": st.one_of(st.none(), st.sampled_from(["", "Left", "Frontal", "Unspecified"])),
    "truncated": st.one_of(st.none(), st.integers(0, 1)),
    "difficult": st.one_of(st.none(), st.integers(0, 1)),
    "occluded": st.one_of(st.none(), st.integers(0, 1)),
    "extra": st.one_of(st.none(), st.sampled_from(["<attributes><a>1</a></attributes>", "<note>x &amp; y</note>"])),
})


def voc_object(c: int, box: tuple[int, int, int, int], fields: dict) -> str:
    x1, y1, x2, y2 = box
    parts = [f"<name>{CLASSES[c]}</name>"]
    if fields["pose"] is not None:
        parts.append(f"<pose>{fields['pose']}</pose>")
    parts += [f"<{tag}>{fields[tag]}</{tag}>" for tag in ("truncated", "difficult", "occluded") if fields[tag] is not None]
    parts.append(f"<bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>")
    if fields["extra"] is not None:
        parts.append(fields["extra"])
    return "<object>" + "".join(parts) + "</object>"


def voc_objects(root: Path) -> dict[str, list[tuple]]:
    """Image stem -> its objects as (name, pose, truncated, difficult, occluded, box, other
    elements), read from the XML files themselves."""
    from lxml import etree

    out = {}
    for path in sorted((root / "Annotations").glob("*.xml")):
        objects = []
        for obj in etree.parse(str(path)).getroot().iter("object"):
            fields = {child.tag: child for child in obj}
            known = {"name", "pose", "truncated", "difficult", "occluded", "bndbox"}
            objects.append((
                fields["name"].text,
                None if "pose" not in fields else fields["pose"].text or "",
                *(None if tag not in fields else fields[tag].text for tag in ("truncated", "difficult", "occluded")),
                tuple(float(fields["bndbox"].find(t).text) for t in ("xmin", "ymin", "xmax", "ymax")),
                tuple(etree.tostring(child, with_tail=False).decode() for child in obj if child.tag not in known),
            ))
        out[path.stem] = objects
    return out


@pytest.mark.parametrize("via", FORMATS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=datasets(), fields=st.lists(VOC_FIELDS, min_size=12, max_size=12))
def test_voc_only_fields_survive_a_round_trip(via: str, data: dict, fields: list[dict]) -> None:
    """VOC -> VIA -> VOC gives every object back with its pose, truncated/difficult/occluded
    flags and unknown elements where VIA can carry them (COCO in 'attributes'); a VIA that
    cannot (YOLO) lists each of them as a loss."""
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "src"
        (src / "Annotations").mkdir(parents=True)
        k_field = iter(fields)
        for k, image in enumerate(data["images"]):
            width, height = image["size"]
            objects = "".join(voc_object(c, (x1, y1, x2, y2), next(k_field)) for c, x1, y1, x2, y2 in image["boxes"])
            (src / "Annotations" / f"im{k}.xml").write_text(
                f"<annotation><filename>im{k}.png</filename><size><width>{width}</width><height>{height}</height>"
                f"<depth>3</depth></size>{objects}</annotation>")
            write_image(src / "JPEGImages" / f"im{k}.png", image["size"])
        first = convert(src, Path(folder) / "via", via)
        convert(Path(folder) / "via", Path(folder) / "back", "voc")
        before, after = voc_objects(src), voc_objects(Path(folder) / "back")
    if via != "yolo":
        assert after == before
        return
    used = [f for f, _ in zip(fields, range(sum(len(image["boxes"]) for image in data["images"])))]
    lost = {loss["what"]: loss["count"] for loss in first.losses}
    for flag in ("truncated", "difficult", "occluded"):
        assert lost.get(f"{flag} flag", 0) == sum(f[flag] == 1 for f in used)
    with_fields = sum(bool(f["pose"]) or f["extra"] is not None for f in used)
    assert lost.get("annotation extra fields", 0) == with_fields
