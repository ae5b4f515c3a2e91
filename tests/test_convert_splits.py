"""What `convert --to yolo` writes for the splits (#15 item 2): never `val:` on the training
images, a note where data.yaml lacks a key ultralytics requires, and `--val-fraction` for a
deterministic split. The data.yaml is checked the way ultralytics' `check_det_dataset` and
its image finder read it: `train` and `val` keys required, each folder read recursively."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import write_image

import detlint
from detlint.cli import main
from detlint.converting import REPORT_NAME, convert

IMAGE_SUFFIXES = {".png", ".jpg"}


def trainer_images(root: Path, key: str) -> set[str]:
    """The images ultralytics reads for ``key``: every image under the folder, recursively."""
    data = yaml.safe_load((root / "data.yaml").read_text())
    folder = root / data.get("path", ".") / data[key]
    return {p.relative_to(root).as_posix() for p in folder.rglob("*") if p.suffix in IMAGE_SUFFIXES}


def unsplit_yolo(root: Path, stems: list[str]) -> Path:
    """A bare ``images/`` + ``labels/`` set with ``classes.txt``: no split at all (a data.yaml
    naming one folder as train and val would be a leak, S001, not an unsplit set)."""
    (root / "labels").mkdir(parents=True)
    (root / "classes.txt").write_text("cat\n")
    for stem in stems:
        write_image(root / "images" / f"{stem}.png", (32, 24))
        (root / "labels" / f"{stem}.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    return root


def coco_splits(root: Path, splits: dict[str, int]) -> Path:
    for split, count in splits.items():
        doc = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "cat"}]}
        for k in range(1, count + 1):
            write_image(root / "images" / split / f"{split}_{k}.png", (32, 24))
            doc["images"].append({"id": k, "file_name": f"{split}_{k}.png", "width": 32, "height": 24})
            doc["annotations"].append({"id": k, "image_id": k, "category_id": 1, "bbox": [1, 1, 8, 8],
                                       "area": 64, "iscrowd": 0})
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
    return root


def test_unsplit_source_gets_no_val_on_its_training_images_and_a_note(tmp_path: Path) -> None:
    report = convert(unsplit_yolo(tmp_path / "src", ["a", "b", "c"]), tmp_path / "out", "yolo")
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["train"] == "images" and "val" not in data
    assert len(trainer_images(tmp_path / "out", "train")) == 3
    [note] = report.notes
    assert "no val: key" in note and "ultralytics refuses" in note and "--val-fraction" in note
    assert json.loads((tmp_path / "out" / REPORT_NAME).read_text())["notes"] == report.notes


def test_train_only_coco_gets_a_note_saying_ultralytics_refuses_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(coco_splits(tmp_path / "src", {"train": 2})),
                                       str(tmp_path / "out"), "--to", "yolo"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["train"] == "images/train" and "val" not in data
    assert "note: data.yaml has no val: key" in result.stderr and "'train' and 'val' are required" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("source", ["unsplit", "train_only"])
def test_val_fraction_makes_a_disjoint_deterministic_split_ultralytics_accepts(tmp_path: Path, source: str) -> None:
    stems = [f"im{k:02d}" for k in range(40)]
    src = unsplit_yolo(tmp_path / "src", stems) if source == "unsplit" else coco_splits(tmp_path / "src", {"train": 40})
    report = convert(src, tmp_path / "out", "yolo", val_fraction=0.25)
    again = convert(src, tmp_path / "again", "yolo", val_fraction=0.25)
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert {"train", "val"} <= set(data)  # check_det_dataset's requirement
    train, val = trainer_images(tmp_path / "out", "train"), trainer_images(tmp_path / "out", "val")
    assert train and val and not (train & val) and len(train | val) == 40
    assert 4 <= len(val) <= 18  # about a quarter
    assert val == trainer_images(tmp_path / "again", "val")  # deterministic
    assert not [n for n in report.notes if "no val: key" in n] and "--val-fraction 0.25" in report.notes[0]
    assert again.notes == report.notes
    back = detlint.load(tmp_path / "out")
    assert sorted(set(back.splits)) == ["train", "val"]


def test_val_fraction_moves_no_image_when_others_are_added(tmp_path: Path) -> None:
    small = convert(unsplit_yolo(tmp_path / "small", [f"im{k}" for k in range(20)]), tmp_path / "a", "yolo",
                    val_fraction=0.3)
    convert(unsplit_yolo(tmp_path / "big", [f"im{k}" for k in range(30)]), tmp_path / "b", "yolo", val_fraction=0.3)
    assert small.notes
    val_small = {Path(p).name for p in trainer_images(tmp_path / "a", "val")}
    val_big = {Path(p).name for p in trainer_images(tmp_path / "b", "val")}
    assert val_small == {name for name in val_big if int(name[2:-4]) < 20}


def test_val_fraction_refuses_a_source_with_a_val_split(tmp_path: Path) -> None:
    src = coco_splits(tmp_path / "src", {"train": 2, "val": 1})
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "out"), "--to", "yolo", "--val-fraction", "0.2"])
    assert result.exit_code == 2 and "already has a validation split" in result.output
    result = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "o2"), "--to", "yolo", "--val-fraction", "2"])
    assert result.exit_code == 2 and "between 0 and 1" in result.output


def test_split_names_map_to_the_keys_trainers_read(tmp_path: Path) -> None:
    report = convert(coco_splits(tmp_path / "src", {"train2017": 2, "val2017": 1}), tmp_path / "out", "yolo")
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert data["train"] == "images/train2017" and data["val"] == "images/val2017"
    assert not report.notes
    assert {loss["what"]: loss["detail"] for loss in report.losses}[
        "split names changed to the data.yaml keys trainers read"] == "train2017 -> train, val2017 -> val"
    assert not trainer_images(tmp_path / "out", "train") & trainer_images(tmp_path / "out", "val")


def test_unsplit_images_beside_splits_are_not_read_into_train(tmp_path: Path) -> None:
    coco_splits(tmp_path / "named", {"train": 2, "val": 1})
    both = detlint.load(tmp_path / "named")
    merged_split = both.images.split.copy()
    merged_split[0] = ""  # an image in no split, beside train and val
    both.images.split = merged_split
    detlint.save(both, tmp_path / "out", format="yolo")
    train, val = trainer_images(tmp_path / "out", "train"), trainer_images(tmp_path / "out", "val")
    assert len(train) == 1 and len(val) == 1 and not train & val  # the unsplit image is in neither


@pytest.mark.parametrize("target", ["coco", "yolo", "voc"])
def test_an_image_in_two_splits_is_a_listed_loss_where_the_target_keeps_one(tmp_path: Path, target: str) -> None:
    src = tmp_path / "src"
    unsplit_yolo(src, ["a", "b"])
    (src / "classes.txt").unlink()
    (src / "data.yaml").write_text("train: images\nval: images\nnames: [cat]\n")  # a leak: S001 per image
    report = convert(src, tmp_path / "out", target)
    lost = [loss for loss in report.losses if "more than one split" in loss["what"]]
    if target == "voc":  # ImageSets lists hold an image in both splits, as the source has it
        assert not lost
        lists = tmp_path / "out" / "ImageSets" / "Main"
        assert (lists / "train.txt").read_text().split() == (lists / "val.txt").read_text().split() == ["a", "b"]
    else:
        assert [(loss["count"], loss["detail"]) for loss in lost] == [(2, "also in val (2)")]


def test_a_file_two_coco_split_files_list_is_s001_naming_both_and_a_convert_note(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("a", "b"):
        write_image(src / "images" / f"{name}.png", (32, 24))
    for split, names in (("train", ["a", "b"]), ("val", ["a"])):  # one images/ folder: a.png in both
        doc = {"images": [{"id": k + 1, "file_name": f"{n}.png", "width": 32, "height": 24} for k, n in enumerate(names)],
               "annotations": [{"id": k + 1, "image_id": k + 1, "category_id": 1, "bbox": [1, 1, 8, 8], "area": 64,
                                "iscrowd": 0} for k in range(len(names))],
               "categories": [{"id": 1, "name": "cat"}]}
        (src / "annotations").mkdir(exist_ok=True)
        (src / "annotations" / f"instances_{split}.json").write_text(json.dumps(doc))
    checked = CliRunner().invoke(main, ["check", str(src), "--no-cache", "--output-format", "json"])
    [leak] = [f for f in json.loads(checked.stdout)["findings"] if f["code"] == "S001"]
    assert "(annotations/instances_val.json#/images/0)" in leak["message"]
    assert "(annotations/instances_train.json#/images/0)" in leak["message"] and "remove it from one split" in leak["message"]
    report = convert(src, tmp_path / "out", "yolo")
    assert any("1 image of the source is in more than one split (S001" in note for note in report.notes)


def test_val_fraction_messages_agree_in_number(tmp_path: Path) -> None:
    report = convert(unsplit_yolo(tmp_path / "two", ["a", "b"]), tmp_path / "out", "yolo", val_fraction=0.5)
    assert any("1 of the 2 unsplit images is the val split" in note for note in report.notes), report.notes
    result = CliRunner().invoke(main, ["convert", str(unsplit_yolo(tmp_path / "one", ["a"])), str(tmp_path / "o"),
                                       "--to", "yolo", "--val-fraction", "0.5"])
    assert result.exit_code == 2
    assert "the source has 1 training or unsplit image; a split needs two at least" in result.stderr
