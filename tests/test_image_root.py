"""Images stored elsewhere: the layouts the COCO reader finds by itself, ``--image-root DIR``
(and ``image-root`` in the config) on every command that reads a dataset, the boundary it keeps,
where I001 says it looked, and COCO split names with underscores (#15 items 6 and 22)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import make_yolo, write_image

import detlint
from detlint.cli import main


def write_coco(path: Path, names: list[str], size: tuple[int, int] = (64, 48)) -> Path:
    """A COCO file with one 10x10 box per image ``names``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [{"id": i + 1, "file_name": n, "width": size[0], "height": size[1]} for i, n in enumerate(names)]
    annotations = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [2, 3, 10, 10], "area": 100,
                    "iscrowd": 0} for i in range(len(names))]
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "thing"}]}))
    return path


def images_in(folder: Path, names: list[str]) -> None:
    for k, name in enumerate(names):
        write_image(folder / name, noise_seed=k + len(name))


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def check_json(*args: str | Path) -> tuple[int, list[dict]]:
    result = run("check", *args, "--output-format", "json", "--no-cache")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)["findings"]


NAMES = ["a.jpg", "b.jpg", "c.jpg"]


# ------------------------------------------------------------------ layouts found without an option


def test_coco_json_beside_a_data_folder_finds_its_images(tmp_path: Path) -> None:
    """labelformat's layout: train.json next to data/ (before: I001 for every image)."""
    write_coco(tmp_path / "train.json", NAMES)
    images_in(tmp_path / "data", NAMES)
    ds = detlint.load(tmp_path)
    assert ds.images.path.tolist() == [f"data/{n}" for n in NAMES]
    status, findings = check_json(tmp_path)
    assert status == 0 and not [f for f in findings if f["code"] == "I001"], findings


def test_images_in_the_split_folder_under_data(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations" / "instances_val.json", NAMES)
    images_in(tmp_path / "data" / "val", NAMES)
    assert detlint.load(tmp_path).images.path.tolist() == [f"data/val/{n}" for n in NAMES]


def test_the_folder_holding_most_names_wins_over_an_earlier_one(tmp_path: Path) -> None:
    """A stray copy of one image beside the JSON does not pull that image away from the folder
    that holds the whole split."""
    write_coco(tmp_path / "train.json", NAMES)
    images_in(tmp_path / "images", NAMES)
    write_image(tmp_path / "a.jpg", noise_seed=99)  # the JSON's own folder is searched first by name
    ds = detlint.load(tmp_path)
    assert ds.images.path.tolist() == [f"images/{n}" for n in NAMES]


def test_missing_images_say_once_where_detlint_looked(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations" / "instances_val2017.json", [f"{k}.jpg" for k in range(30)])
    (tmp_path / "images").mkdir()
    status, findings = check_json(tmp_path)
    missing = [f for f in findings if f["code"] == "I001"]
    assert status == 1 and len(missing) == 31
    where = [f for f in missing if "looked in" in f["message"]]
    assert len(where) == 1, "the folders are listed once, not in every message"
    assert where[0]["file"] == "annotations/instances_val2017.json" and where[0]["image"] is None
    assert "30 images not found; looked in 'annotations', '.', 'images'" in where[0]["message"]
    assert "--image-root" in where[0]["message"]
    assert str(tmp_path) not in where[0]["message"]


# ------------------------------------------------------------------------------ --image-root


@pytest.fixture
def apart(tmp_path: Path) -> tuple[Path, Path]:
    """Annotations in one folder, images on 'another disk' (a sibling folder, per split)."""
    dataset, store = tmp_path / "ann", tmp_path / "store"
    write_coco(dataset / "annotations" / "instances_val2017.json", NAMES)
    images_in(store / "val2017", NAMES)
    return dataset, store


def test_image_root_finds_coco_images_stored_elsewhere(apart: tuple[Path, Path]) -> None:
    dataset, store = apart
    status, findings = check_json(dataset)
    assert status == 1 and len([f for f in findings if f["code"] == "I001"]) == 4
    status, findings = check_json(dataset, "--image-root", store, "--images", "decode")
    assert status == 0, findings
    ds = detlint.load(dataset, image_root=store)
    assert ds.image_dir == store and ds.images.path.tolist() == [f"val2017/{n}" for n in NAMES]
    assert ds.subset(np.array([1]))[0].image_dir == store


def test_image_root_agrees_with_torchvision_coco_detection(apart: tuple[Path, Path]) -> None:
    """torchvision reads ``root/file_name``: the adapter gives the same pixels from the image root."""
    torchvision = pytest.importorskip("torchvision")
    pytest.importorskip("pycocotools")
    from detlint.torch import DetectionDataset

    dataset, store = apart
    theirs = torchvision.datasets.CocoDetection(str(store / "val2017"),
                                                str(dataset / "annotations" / "instances_val2017.json"))
    ours = DetectionDataset(detlint.load(dataset, image_root=store))
    assert len(ours) == len(theirs) == 3
    for k in range(3):
        image, target = ours[k]
        assert np.array_equal(np.asarray(image).transpose(1, 2, 0), np.asarray(theirs[k][0]))
        x, y, w, h = theirs[k][1][0]["bbox"]
        assert target["boxes"][0].tolist() == [x, y, x + w, y + h]


def test_messages_name_the_image_root_as_given(apart: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, store = apart
    (store / "val2017" / "b.jpg").unlink()
    monkeypatch.chdir(dataset.parent)
    result = run("check", "ann", "--image-root", "store", "--no-cache")
    assert result.exit_code == 1
    assert "1 image not found; looked in 'store', 'store/val2017' (the image root)" in result.stdout
    assert str(dataset.parent) not in result.stdout


def test_image_root_is_the_only_other_folder_read(apart: tuple[Path, Path], tmp_path: Path) -> None:
    """Under an image root, the boundary guarantees hold as under the dataset root: a symlink out
    of it, a FIFO and a name with .. are refused (never opened, never blocking), and images that
    sit only under the dataset root are not looked for there."""
    dataset, store = apart
    secret = tmp_path / "secret"
    write_image(secret / "s.jpg")
    os.symlink(secret / "s.jpg", store / "val2017" / "link.jpg")
    os.mkfifo(store / "val2017" / "fifo.jpg")
    write_image(dataset / "only_here.jpg")
    write_coco(dataset / "annotations" / "instances_val2017.json",
               [*NAMES, "link.jpg", "fifo.jpg", "../secret/s.jpg", "only_here.jpg"])
    status, findings = check_json(dataset, "--image-root", store, "--images", "decode")
    by_image = {(f["code"], f["image"]) for f in findings}
    assert ("I002", "val2017/link.jpg") in by_image and ("I002", "val2017/fifo.jpg") in by_image
    assert ("F008", "../secret/s.jpg") in by_image and ("I001", "only_here.jpg") in by_image
    link = next(f for f in findings if f["image"] == "val2017/link.jpg")
    assert "symbolic link" in link["message"] and str(secret) not in link["message"]


def test_image_root_from_the_config_is_relative_to_it(apart: tuple[Path, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, _ = apart
    (tmp_path / "detlint.toml").write_text('image-root = "store"\n')  # a project config above the dataset
    monkeypatch.chdir(tmp_path / "store")  # the config's folder decides, not the current one
    status, findings = check_json(dataset)
    assert status == 0, findings
    result = run("stats", dataset, "--output-format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["splits"]["val2017"]["images"] == 3


@pytest.mark.parametrize("command", ["check", "stats", "show", "convert"])
def test_a_datasets_own_config_may_not_lead_images_out_of_it(apart: tuple[Path, Path], tmp_path: Path,
                                                             command: str) -> None:
    """A config inside the dataset is data (a pull request can change it): it may not widen
    what detlint reads. The same folder named on the command line is the user's choice."""
    dataset, store = apart
    (dataset / "detlint.toml").write_text('image-root = "../store"\n')
    args = {"check": ["--no-cache"], "stats": [], "show": ["a.jpg"], "convert": [tmp_path / "out", "--to", "yolo"]}
    result = run(command, dataset, *args[command])
    assert result.exit_code == 2 and result.stdout == ""
    assert "ann/detlint.toml: image-root leads out of the dataset the config is in" in result.stderr
    assert result.stderr.count("\n") == 1
    (dataset / "inside").mkdir()
    (dataset / "detlint.toml").write_text('image-root = "inside"\n')  # within the dataset: allowed
    assert run("check", dataset, "--no-cache").exit_code in (0, 1)
    status, _ = check_json(dataset, "--image-root", store)  # the flag wins over the config
    assert status == 0


def test_image_root_on_convert_show_and_stats(apart: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, store = apart
    out = tmp_path / "out"
    result = run("convert", dataset, out, "--to", "voc", "--image-root", store)
    assert result.exit_code == 0, result.output
    losses = json.loads((out / "detlint-conversion.json").read_text())["losses"]
    assert not [loss for loss in losses if "image" in loss["what"]], losses
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == NAMES
    assert check_json(out)[0] == 0
    picture = tmp_path / "b.png"
    result = run("show", dataset, "b.jpg", "--image-root", store, "-o", picture)
    assert result.exit_code == 0 and picture.is_file(), result.output
    assert run("stats", dataset, "--image-root", store).exit_code == 0


def test_image_root_for_voc(tmp_path: Path) -> None:
    """VOC names its image files too: a devkit whose JPEGImages live elsewhere."""
    dataset, store = tmp_path / "voc", tmp_path / "pictures"
    (dataset / "Annotations").mkdir(parents=True)
    for name in NAMES:
        stem = Path(name).stem
        (dataset / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>64</width><height>48</height><depth>3</depth>"
            "</size><object><name>thing</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>12</xmax><ymax>13</ymax>"
            "</bndbox></object></annotation>")
    (dataset / "JPEGImages").mkdir()
    images_in(store, NAMES)
    status, findings = check_json(dataset)
    assert status == 1 and {f["code"] for f in findings} >= {"I001"}
    status, findings = check_json(dataset, "--image-root", store)
    assert status == 0, findings
    assert detlint.load(dataset, image_root=store).images.path.tolist() == NAMES


def test_yolo_refuses_an_image_root_in_one_line(tmp_path: Path) -> None:
    dataset = make_yolo(tmp_path / "yolo", {"a": "0 0.5 0.5 0.2 0.2\n"}, ["thing"])
    for command in (["check"], ["stats"], ["convert", "--to", "coco", tmp_path / "out"]):
        result = run(*command[:1], dataset, *command[1:], "--image-root", tmp_path)
        assert result.exit_code == 2 and "label is found from its image" in result.output and "\n" not in result.output.strip()


def test_an_image_root_that_is_no_folder_is_a_usage_error(apart: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, _ = apart
    result = run("check", dataset, "--image-root", tmp_path / "nowhere")
    assert result.exit_code == 2 and "no such folder" in result.output


def test_smoke_trains_from_an_image_root(apart: tuple[Path, Path]) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    dataset, store = apart
    light = ["--model-option", "box_batch_size_per_image=32", "--model-option", "rpn_batch_size_per_image=64"]
    args = ["smoke", dataset, "--steps", "1", "--batch-size", "1", "--image-size", "64", "--device", "cpu",
            *light, "--output-format", "json"]
    assert run(*args).exit_code == 1  # the check stops it: every image is I001
    for extra in ([], ["--no-check"]):
        result = run(*args, "--image-root", store, *extra)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["images"] == 3


# --------------------------------------------------------------------------------- split names


@pytest.mark.parametrize(("file_name", "split"), [
    ("instances_validation_holdout_2024_extra.json", "validation_holdout_2024_extra"),
    ("instances_val2017.json", "val2017"),
    ("person_keypoints_train2017.json", "train2017"),
    ("captions_val2014.json", "val2014"),
    ("panoptic_val2017.json", "val2017"),
    ("image_info_test-dev2017.json", "test-dev2017"),
    ("my_custom_set.json", "my_custom_set"),
])
def test_split_is_everything_after_the_task_prefix(tmp_path: Path, file_name: str, split: str) -> None:
    write_coco(tmp_path / "annotations" / file_name, NAMES)
    assert detlint.load(tmp_path).splits == [split]


def test_split_with_underscores_finds_its_image_folder(tmp_path: Path) -> None:
    split = "validation_holdout_2024_extra"
    write_coco(tmp_path / "annotations" / f"instances_{split}.json", NAMES)
    images_in(tmp_path / "images" / split, NAMES)
    ds = detlint.load(tmp_path)
    assert ds.splits == [split]
    assert ds.images.path.tolist() == [f"images/{split}/{n}" for n in NAMES]
    assert check_json(tmp_path)[0] == 0


@pytest.mark.parametrize("folder", ["holdout_val2017", "val2017", "extra"])
def test_an_existing_image_folder_decides_between_readings(tmp_path: Path, folder: str) -> None:
    """``instances_holdout_val2017`` reads as ``holdout_val2017`` or ``val2017``: the image folder
    that exists says which; with neither, everything after the prefix."""
    write_coco(tmp_path / "annotations" / "instances_holdout_val2017.json", NAMES)
    images_in(tmp_path / "images" / folder, NAMES)
    split = folder if folder != "extra" else "holdout_val2017"
    assert detlint.load(tmp_path).splits == [split]


def test_config_errors_name_the_config_relative_not_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    write_image(project / "ds" / "data" / "a.png")
    (project / "ds" / "train.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    monkeypatch.chdir(project / "ds")
    (project / "detlint.toml").write_text('image-root = "nowhere"\n')
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2
    assert result.stderr == "detlint: error: ../detlint.toml: image-root 'nowhere': no such folder\n"
    (project / "detlint.toml").write_text('datasets = ["ds"\n')  # not TOML
    result = CliRunner().invoke(main, ["check", "."])
    assert result.exit_code == 2 and result.stderr.startswith("detlint: error: ../detlint.toml: cannot read config:")
    assert str(tmp_path) not in result.stderr
