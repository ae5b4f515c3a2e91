"""End to end on the five real-world shapes a new user met (issue #15, "Done when"): each one
goes through ``check``, ``convert`` and back, and ``stats --plot``, with the outcome asserted.
The shapes are built by ``fixtures/real_world/build.py`` (see its docstring for whose export
each one copies); pycocotools and ultralytics' data.yaml rules are the independent readers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result
from lxml import etree
from PIL import Image
from pycocotools.coco import COCO

from detlint.cli import main

SHAPES = Path(__file__).resolve().parent.parent / "fixtures" / "real_world"


def detlint(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.output
    return result


@pytest.fixture
def shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of one shape in a temporary folder, which becomes the current folder."""
    monkeypatch.chdir(tmp_path)

    def copy(name: str) -> Path:
        shutil.copytree(SHAPES / name, tmp_path / name)
        return Path(name)
    return copy


def codes(result: Result) -> list[str]:
    return [f["code"] for f in json.loads(result.stdout)["findings"]]


def check_json(path: Path, *extra: str) -> Result:
    return detlint("check", path, "--no-cache", "--output-format", "json", *extra)


def coco_boxes(path: Path) -> list[tuple[str, str, list[float]]]:
    """(file name, class, bbox) of every annotation, read by pycocotools."""
    coco = COCO(str(path))
    rows = [(coco.imgs[a["image_id"]]["file_name"].rsplit("/", 1)[-1], coco.cats[a["category_id"]]["name"],
             [round(v, 4) for v in a["bbox"]]) for a in coco.anns.values()]
    return sorted(rows)


def voc_objects(folder: Path) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """(xml, name, difficult, truncated, box) of every object of the XML files in ``folder``."""
    rows = []
    for xml in sorted(folder.glob("*.xml")):
        for obj in etree.parse(str(xml)).getroot().iter("object"):
            box = tuple(obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax"))
            rows.append((xml.name, obj.findtext("name"), obj.findtext("difficult"), obj.findtext("truncated"), box))
    return rows


@pytest.mark.parametrize("name", ["flat_voc", "coco_data_dir", "yolo_80", "voc_difficult", "yolo_unsplit"])
def test_stats_plot_of_every_shape_is_a_png_and_text_counts_the_same_boxes(shape, name: str) -> None:
    path = shape(name)
    text = detlint("stats", path, "--plot", "plot.png")
    data = detlint("stats", path, "--output-format", "json")
    assert text.exit_code == data.exit_code == 0, text.output
    with Image.open("plot.png") as png:
        assert png.format == "PNG" and png.size[0] >= 800
    stats = json.loads(data.stdout)
    assert f"({stats['boxes']} boxes, 0 polygons)" in text.stdout
    assert stats["boxes"] == stats["annotations"] > 0


def test_flat_voc_with_an_image_and_no_xml(shape) -> None:
    src = shape("flat_voc")
    result = check_json(src)
    assert result.exit_code == 0 and codes(result) == ["I005"]
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["image"] == "2011_000025.jpg" and "trainers" in finding["message"]
    out = detlint("convert", src, "coco", "--to", "coco")
    assert out.exit_code == 0
    assert "lost: 1 x images without an annotation file" in out.stderr  # not converted, and said so
    assert [row[0] for row in coco_boxes("coco/annotations.json")] == ["2011_000003.jpg", "2011_000006.jpg"]
    assert detlint("convert", "coco", "back", "--to", "voc").exit_code == 0
    assert voc_objects(Path("back/Annotations")) == [
        (f"{stem}.xml", "person", "0", "0", ("5", "6", "30", "40")) for stem in ("2011_000003", "2011_000006")]
    assert codes(check_json(Path("back"))) == []


def test_coco_with_its_images_in_data_is_found_and_round_trips(shape) -> None:
    src = shape("coco_data_dir")
    assert codes(check_json(src)) == []  # no I001: data/ is one of the folders searched
    before = coco_boxes(src / "train.json")
    assert detlint("convert", src, "voc", "--to", "voc").exit_code == 0
    assert detlint("convert", "voc", "back", "--to", "coco").exit_code == 0
    [written] = Path("back/annotations").glob("*.json")
    assert coco_boxes(written) == before
    assert codes(check_json(Path("back"))) == []


def test_yolo_with_80_dict_names(shape) -> None:
    src = shape("yolo_80")
    result = check_json(src)
    assert result.exit_code == 0  # unused classes are warnings
    findings = json.loads(result.stdout)["findings"]
    names = yaml.safe_load((src / "data.yaml").read_text())["names"]
    unused = sorted(set(names) - {0, 23, 45})
    assert [f["code"] for f in findings] == ["C002"] * len(unused)
    # each at its own line of the dict (names: is line 5, class k is line 6 + k)
    assert sorted(f["line"] for f in findings) == [6 + k for k in unused]
    assert detlint("convert", src, "coco", "--to", "coco").exit_code == 0
    assert {name for _, name, _ in coco_boxes("coco/annotations/instances_train.json")} == {"person", "bowl", "giraffe"}
    assert detlint("convert", "coco", "back", "--to", "yolo").exit_code == 0
    data = yaml.safe_load(Path("back/data.yaml").read_text())
    assert data["names"] == [names[k] for k in range(80)] and data["train"] and data["val"]
    for label in (src / "labels").rglob("*.txt"):
        again = Path("back") / label.relative_to(src)
        assert np.allclose(np.loadtxt(again, ndmin=2), np.loadtxt(label, ndmin=2), atol=1e-6), label
    assert codes(check_json(Path("back"), "--select", "F,B,C001,I,S")) == []


def test_voc_round_trip_keeps_difficult_and_truncated(shape) -> None:
    src = shape("voc_difficult")
    assert codes(check_json(src)) == []
    assert detlint("convert", src, "coco", "--to", "coco").exit_code == 0
    train = json.loads(Path("coco/annotations/instances_train.json").read_text())
    assert sorted(a["attributes"]["difficult"] for a in train["annotations"]) == [0, 0, 1]
    assert detlint("convert", "coco", "back", "--to", "voc").exit_code == 0
    assert voc_objects(Path("back/Annotations")) == voc_objects(src / "Annotations")
    for split in ("train", "val"):
        assert (Path("back/ImageSets/Main") / f"{split}.txt").read_text().split() == \
               (src / "ImageSets/Main" / f"{split}.txt").read_text().split()
    assert codes(check_json(Path("back"))) == []


def test_unsplit_yolo_conversion_never_leaks_and_says_how_to_split(shape) -> None:
    src = shape("yolo_unsplit")
    assert codes(check_json(src)) == []
    plain = detlint("convert", src, "plain", "--to", "yolo")
    assert plain.exit_code == 0 and "--val-fraction" in plain.stderr
    data = yaml.safe_load(Path("plain/data.yaml").read_text())
    assert "val" not in data  # never val: on the training images
    refused = check_json(Path("plain"))
    assert refused.exit_code == 1 and codes(refused) == ["F002"]
    assert json.loads(refused.stdout)["findings"][0]["file"] == "data.yaml"
    split = detlint("convert", src, "split", "--to", "yolo", "--val-fraction", "0.5")
    assert split.exit_code == 0
    data = yaml.safe_load(Path("split/data.yaml").read_text())
    train = {p.name for p in (Path("split") / data["train"]).rglob("*.jpg")}
    val = {p.name for p in (Path("split") / data["val"]).rglob("*.jpg")}
    assert train and val and not train & val and train | val == {f"img{k}.jpg" for k in range(4)}
    assert codes(check_json(Path("split"))) == []
    assert detlint("convert", "split", "back", "--to", "coco").exit_code == 0
    boxes = coco_boxes("back/annotations/instances_train.json") + coco_boxes("back/annotations/instances_val.json")
    assert sorted(name for name, _, _ in boxes) == [f"img{k}.jpg" for k in range(4)]
