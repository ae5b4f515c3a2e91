"""`detlint merge` (issue 18 part 3): two COCO sets with overlapping images (same bytes),
colliding image and annotation ids and variant class names ("Car", "car", "cars"): variants are
refused unless mapped or kept apart, ids renumbered by a per-source offset, one image per
content with the label conflict listed, every drop in the report, and a check-clean output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detlint.cli import main
from detlint.formats import load
from detlint.merging import REPORT_NAME, variant_key


def smooth_image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    small = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(small, "RGB").resize((64, 48), Image.Resampling.BICUBIC).save(path)


def coco(root: Path, seeds: list[int], classes: list[str], boxes: list[list[tuple[int, list[float]]]]) -> Path:
    """A COCO set: image k is ``<root name><k>.png`` drawn from ``seeds[k]``, ids from 1."""
    images, anns = [], []
    for i, seed in enumerate(seeds):
        name = f"{root.name}{i}.png"
        smooth_image(root / "images" / name, seed)
        images.append({"id": i + 1, "file_name": name, "width": 64, "height": 48})
        for category, box in boxes[i]:
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": category, "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(classes)]
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                       "categories": categories}))
    return root


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    """a: 6 images (car, person); b: 5 images (Car, cars, person), b0 and b1 with a0's and
    a1's bytes: b0 labelled as a0 (Car = car), b1 not (a conflict)."""
    a = coco(tmp_path / "a", list(range(100, 106)), ["car", "person"],
             [[(1, [1, 1, 10, 10])], [(2, [2, 2, 5, 5])]] * 3)
    b = coco(tmp_path / "b", [100, 101, 200, 201, 202], ["Car", "cars", "person"],
             [[(1, [1, 1, 10, 10])], [(3, [9, 9, 5, 5])], [(2, [3, 3, 4, 4])], [(3, [1, 1, 3, 3])], []])
    return a, b


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def class_map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return path


def check_clean(root: Path) -> None:
    code, output = run("check", root, "--images", "decode", "--output-format", "json", "--no-cache")
    found = json.loads(output)["findings"]
    assert code == 0 and not [f for f in found if f["severity"] in ("error", "warning")], found


def test_variants_are_refused_with_the_list(sources, tmp_path: Path) -> None:
    code, output = run("merge", *sources, "--out", tmp_path / "out")
    assert code == 2
    assert "'car', 'Car', 'cars'" in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_mapped_merge_counts_ids_duplicates_and_conflicts(sources, tmp_path: Path) -> None:
    mapping = class_map(tmp_path, "sources:\n  b:\n    Car: car\n    cars: car\n")
    code, output = run("merge", *sources, "--out", tmp_path / "out", "--classes", mapping)
    assert code == 0, output
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["categories"] == ["car", "person"]
    assert [(m["name"], m["target"], m["target_id"]) for m in report["class_mapping"]] == [
        ("car", "car", 1), ("person", "person", 2), ("Car", "car", 1), ("cars", "car", 1), ("person", "person", 2)]
    # 6 + 5 images, b0 and b1 the same bytes as a0 and a1: 9; 6 + 4 boxes less b0's and b1's: 8
    assert (report["images"], report["annotations"]) == (9, 8)
    assert report["image_id_offsets"] == [0, 6] and report["annotation_id_offsets"] == [0, 6]
    assert [(d["image"], d["same_as"]) for d in report["duplicates"]] == [("b0.png", "a0.png"), ("b1.png", "a1.png")]
    assert [c["image"] for c in report["conflicts"]] == ["b1.png"]
    assert any("earlier source" in loss["what"] and loss["count"] == 1 for loss in report["losses"])
    document = json.loads((tmp_path / "out" / "annotations.json").read_text())
    ids = {image["file_name"]: image["id"] for image in document["images"]}
    assert ids == {"a0.png": 1, "a1.png": 2, "a2.png": 3, "a3.png": 4, "a4.png": 5, "a5.png": 6,
                   "b2.png": 9, "b3.png": 10, "b4.png": 11}
    assert sorted(a["id"] for a in document["annotations"]) == [1, 2, 3, 4, 5, 6, 9, 10]
    by_image = {a["image_id"]: a["category_id"] for a in document["annotations"]}
    assert (by_image[9], by_image[10]) == (1, 2)  # b2 was 'cars': now car; b3 person
    assert len(load(tmp_path / "out").images) == 9
    check_clean(tmp_path / "out")


def test_keep_variants_keeps_them_apart(sources, tmp_path: Path) -> None:
    code, output = run("merge", *sources, "--out", tmp_path / "out", "--keep-variants")
    assert code == 0, output
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["categories"] == ["car", "person", "Car", "cars"]
    assert report["variants"] == [["car", "Car", "cars"]]
    # b0's Car box is not a0's car box any more: a conflict, as b1's
    assert [c["image"] for c in report["conflicts"]] == ["b0.png", "b1.png"]


def test_dropped_class_is_a_listed_loss(sources, tmp_path: Path) -> None:
    mapping = class_map(tmp_path, "sources:\n  a:\n    person: null\n  b:\n    Car: car\n    2: car\n    person: null\n")
    code, output = run("merge", *sources, "--out", tmp_path / "out", "--classes", mapping, "--no-dedup")
    assert code == 0, output
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["categories"] == ["car"]
    lost = {loss["what"]: loss["count"] for loss in report["losses"]}
    assert lost[f"annotations of a class the class map drops ({sources[0]})"] == 3
    assert lost[f"annotations of a class the class map drops ({sources[1]})"] == 2
    assert (report["images"], report["annotations"]) == (11, 5)
    assert "dropped" in output


def test_merge_to_yolo_links_images(sources, tmp_path: Path) -> None:
    mapping = class_map(tmp_path, "sources:\n  b:\n    Car: car\n    cars: car\n")
    assert run("merge", *sources, "--out", tmp_path / "out", "--classes", mapping, "--to", "yolo")[0] == 0
    image = tmp_path / "out" / "images" / "b2.png"
    assert image.stat().st_ino == (sources[1] / "images" / "b2.png").stat().st_ino
    assert not any(p.name.startswith(".detlint") for p in (tmp_path / "out").iterdir())
    assert len(load(tmp_path / "out").images) == 9


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "one key 'sources'"),
    ("sources:\n  nowhere:\n    car: vehicle\n", "is none of the sources"),
    ("sources:\n  a:\n    car: [vehicle]\n", "to a name or null"),
    ("sources: {a: {car: vehicle}", "cannot read it"),
])
def test_bad_class_map_is_one_line(sources, tmp_path: Path, text: str, message: str) -> None:
    code, output = run("merge", *sources, "--out", tmp_path / "out", "--classes", class_map(tmp_path, text))
    assert code == 2 and message in output and len(output.strip().splitlines()) == 1


def test_one_source_is_refused(sources, tmp_path: Path) -> None:
    code, output = run("merge", sources[0], "--out", tmp_path / "out")
    assert code == 2 and "two datasets or more" in output


def test_variant_key_folds_case_separators_and_plurals() -> None:
    assert {variant_key(n) for n in ("Car", "cars", "car")} == {"car"}
    assert variant_key("Traffic_Lights") == variant_key("traffic light")
    assert variant_key("boxes") == "box" and variant_key("categories") == "category"
    assert variant_key("glass") == "glass" and variant_key("dog") != variant_key("dot")


def test_sources_of_two_formats(sources, tmp_path: Path) -> None:
    yolo = Path(__file__).resolve().parent.parent / "fixtures" / "yolo_clean"
    code, output = run("merge", sources[0], yolo, "--out", tmp_path / "out", "--to", "coco")
    assert code == 0, output
    merged, first, second = load(tmp_path / "out"), load(sources[0]), load(yolo)
    assert len(merged.images) == len(first.images) + len(second.images)
    assert len(merged.annotations) == len(first.annotations) + len(second.annotations)
    assert merged.categories.names == first.categories.names + second.categories.names
    check_clean(tmp_path / "out")


def test_sources_of_two_formats_merge_with_the_second_source_in_pixels(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    code, _ = run("merge", fixtures / "yolo_clean", fixtures / "rules" / "coco_clean", "--out", tmp_path / "m",
                  "--keep-variants")
    assert code == 0
    report = json.loads((tmp_path / "m" / REPORT_NAME).read_text())
    assert any("several formats" in note for note in report["notes"])
    yolo, coco = load(fixtures / "yolo_clean"), load(fixtures / "rules" / "coco_clean")
    assert (report["images"], report["annotations"]) == (len(yolo.images) + len(coco.images),
                                                         len(yolo.annotations) + len(coco.annotations))
    written = [p for p in (tmp_path / "m" / "images").rglob("*") if p.is_file()]
    labels = sum(len(p.read_text().split()) // 5 for p in (tmp_path / "m" / "labels").rglob("*.txt"))
    assert (len(written), labels) == (report["images"], report["annotations"])  # the COCO boxes as YOLO rows
