"""The YOLO dataset description (data.yaml, obj.data, list files): split leakage through it
(S001), the keys ultralytics requires (F002), entries that do not exist (I001 at every image
level), entries that are image files, and the class lines findings point at (#15 items 1, 2, 5,
14, 30). Every dataset is built in a tmp folder and checked through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_image

from detlint.cli import main

LEVELS = ["none", "header", "decode"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def check(root: Path, *args: str) -> tuple[int, list[dict]]:
    code, out = run("check", str(root), "--output-format", "json", "--no-cache", *args)
    assert code in (0, 1), out
    return code, json.loads(out)["findings"]


def of(findings: list[dict], code: str) -> list[dict]:
    return [f for f in findings if f["code"] == code]


def stats(root: Path) -> dict:
    code, out = run("stats", str(root), "--output-format", "json")
    assert code == 0, out
    return json.loads(out)


def dataset(root: Path, yaml: str, images: dict[str, str]) -> Path:
    """``images``: image path (relative, under some ``images/`` folder) -> its label text."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml)
    for name, label in images.items():
        write_image(root / name, noise_seed=sum(map(ord, name)))
        label_path = root / name.replace("images/", "labels/", 1).rsplit(".", 1)[0]
        label_path = label_path.with_suffix(".txt")
        label_path.parent.mkdir(parents=True, exist_ok=True)
        label_path.write_text(label)
    return root


BOX = "0 0.5 0.5 0.25 0.25\n"


# ------------------------------------------------------------------------------ item 1: S001


@pytest.mark.parametrize("level", LEVELS)
def test_val_naming_the_train_folder_is_s001_per_image_at_the_val_line(tmp_path: Path, level: str) -> None:
    root = dataset(tmp_path / "ds", "path: .\ntrain: images/train\nval: images/train\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/train/b.png": BOX})
    code, findings = check(root, "--images", level)
    leaks = of(findings, "S001")
    assert code == 1
    assert sorted(f["image"] for f in leaks) == ["images/train/a.png", "images/train/b.png"]  # once each
    for finding in leaks:
        assert (finding["file"], finding["line"]) == ("data.yaml", 3)
        assert "'train' (data.yaml:2)" in finding["message"] and "'val' (data.yaml:3)" in finding["message"]


def test_one_row_per_leaked_file_and_its_other_split_recorded(tmp_path: Path) -> None:
    import detlint

    root = dataset(tmp_path / "ds", "train: images/train\nval: images/train\nnames: [cat]\n",
                   {"images/train/a.png": BOX})
    ds = detlint.load(root)
    assert ds.images.path.tolist() == ["images/train/a.png"]
    assert ds.images.split.tolist() == ["train"]
    assert ds.images.extra[0] == {"also_in_splits": ["val"]}
    assert len(ds.annotations) == 1  # the rows are not read twice


def test_stats_shows_both_splits_of_a_leaked_description(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nval: images/train\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/train/b.png": ""})
    result = stats(root)
    assert result["images"] == 2
    assert result["splits"] == {
        "train": {"images": 2, "annotations": 1, "unannotated_images": 1},
        "val": {"images": 2, "annotations": 1, "unannotated_images": 1}}


def test_overlapping_folders_leak_only_the_shared_images(tmp_path: Path) -> None:
    # ultralytics globs a folder recursively: train: images reaches images/val too
    root = dataset(tmp_path / "ds", "train: images\nval: images/val\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/val/b.png": BOX})
    _, findings = check(root, "--images", "none")
    assert [(f["image"], f["file"], f["line"]) for f in of(findings, "S001")] == [
        ("images/val/b.png", "data.yaml", 2)]


def test_two_list_files_naming_one_image_point_at_the_second_lists_line(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: train.txt\nval: val.txt\nnames: [cat]\n",
                   {"images/all/a.png": BOX, "images/all/b.png": BOX, "images/all/c.png": BOX})
    (root / "train.txt").write_text("images/all/a.png\nimages/all/b.png\n")
    (root / "val.txt").write_text("images/all/c.png\n./images/all/b.png\n")
    _, findings = check(root, "--images", "none")
    [leak] = of(findings, "S001")
    assert (leak["image"], leak["file"], leak["line"]) == ("images/all/b.png", "val.txt", 2)
    assert "train.txt:2" in leak["message"] and "val.txt:2" in leak["message"]


def test_a_list_entry_and_a_folder_reaching_one_file(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nval: val.txt\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/val/b.png": BOX})
    (root / "val.txt").write_text("images/val/b.png\nimages/train/a.png\n")
    _, findings = check(root, "--images", "none")
    assert [(f["image"], f["file"], f["line"]) for f in of(findings, "S001")] == [
        ("images/train/a.png", "val.txt", 2)]


def test_darknet_train_and_valid_lists_naming_one_image(tmp_path: Path) -> None:
    root = tmp_path / "dk"
    for stem in ("a", "b"):
        write_image(root / "obj_train_data" / f"{stem}.png", noise_seed=ord(stem))
        (root / "obj_train_data" / f"{stem}.txt").write_text(BOX)
    (root / "obj.names").write_text("cat\n")
    (root / "obj.data").write_text("classes = 1\ntrain = train.txt\nvalid = valid.txt\nnames = obj.names\n")
    (root / "train.txt").write_text("data/obj_train_data/a.png\ndata/obj_train_data/b.png\n")
    (root / "valid.txt").write_text("data/obj_train_data/b.png\n")
    _, findings = check(root, "--images", "none")
    assert [(f["image"], f["file"], f["line"]) for f in of(findings, "S001")] == [
        ("obj_train_data/b.png", "valid.txt", 1)]


def test_separate_splits_are_not_leakage(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nval: images/val\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/val/b.png": BOX})
    code, findings = check(root, "--images", "decode")
    assert (code, findings) == (0, [])
    assert list(stats(root)["splits"]) == ["train", "val"]


# ------------------------------------------------------------------------ item 2: F002 keys


@pytest.mark.parametrize(("yaml", "missing"), [
    ("train: images/train\nnames: [cat]\n", "'val:'"),
    ("val: images/train\nnames: [cat]\n", "'train:'"),
])
def test_a_data_yaml_without_train_or_val_is_f002_at_the_yaml(tmp_path: Path, yaml: str, missing: str) -> None:
    root = dataset(tmp_path / "ds", yaml, {"images/train/a.png": BOX})
    code, findings = check(root, "--images", "none")
    [problem] = of(findings, "F002")
    assert code == 1 and problem["file"] == "data.yaml" and problem["line"] == 1
    assert f"no {missing} key" in problem["message"]
    assert "'train' and 'val' are required" in problem["message"] and "add '" in problem["message"]


def test_validation_key_stands_for_val_as_in_ultralytics(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nvalidation: images/val\nnames: [cat]\n",
                   {"images/train/a.png": BOX, "images/val/b.png": BOX})
    code, findings = check(root)
    assert (code, findings) == (0, [])
    assert list(stats(root)["splits"]) == ["train", "val"]


# ------------------------------------------------------------- item 5: I001 at every level


@pytest.mark.parametrize("level", LEVELS)
def test_a_missing_split_entry_is_i001_at_the_yaml_line_at_every_level(tmp_path: Path, level: str) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nval: images/nowhere\nnames: [cat]\n",
                   {"images/train/a.png": BOX})
    code, findings = check(root, "--images", level)
    [missing] = of(findings, "I001")
    assert code == 1 and (missing["file"], missing["line"]) == ("data.yaml", 2)
    assert "'images/nowhere' does not exist" in missing["message"]


def test_a_missing_darknet_list_is_i001_with_images_none(tmp_path: Path) -> None:
    root = tmp_path / "dk"
    write_image(root / "obj_train_data" / "a.png")
    (root / "obj_train_data" / "a.txt").write_text(BOX)
    (root / "obj.names").write_text("cat\n")
    (root / "obj.data").write_text("classes = 1\ntrain = train.txt\nvalid = valid.txt\nnames = obj.names\n")
    (root / "train.txt").write_text("data/obj_train_data/a.png\n")
    _, findings = check(root, "--images", "none")
    assert [(f["file"], f["line"]) for f in of(findings, "I001")] == [("obj.data", 3)]


def test_images_none_still_looks_at_no_image(tmp_path: Path) -> None:
    # a missing image named in a list is an image check: header and up, not none
    root = dataset(tmp_path / "ds", "train: train.txt\nval: images/val\nnames: [cat]\n",
                   {"images/val/b.png": BOX})
    (root / "train.txt").write_text("images/train/gone.png\n")
    assert of(check(root, "--images", "none")[1], "I001") == []
    assert [f["image"] for f in of(check(root, "--images", "header")[1], "I001")] == ["images/train/gone.png"]


# ------------------------------------------------------------- item 30: image-file entries


def test_an_image_file_entry_is_read_as_an_image_of_its_split(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: [images/train/1.png]\nval: [images/val/2.png]\nnames: [cat]\n",
                   {"images/train/1.png": BOX, "images/train/extra.png": BOX, "images/val/2.png": BOX})
    _, findings = check(root)
    assert of(findings, "I001") == []
    result = stats(root)
    assert result["splits"] == {"train": {"images": 1, "annotations": 1, "unannotated_images": 0},
                                "val": {"images": 1, "annotations": 1, "unannotated_images": 0}}
    # ultralytics opens a file entry as a list of image paths: say so, at the entry's line
    assert [(f["file"], f["line"], f["image"]) for f in of(findings, "F002")] == [
        ("data.yaml", 1, "images/train/1.png"), ("data.yaml", 2, "images/val/2.png")]
    assert "Error loading data" in of(findings, "F002")[0]["message"]


def test_an_image_entry_of_a_block_list_points_at_its_own_line(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train:\n  - images/train\n  - images/more/9.png\nval: images/val\nnames: [cat]\n",
                   {"images/train/1.png": BOX, "images/more/9.png": BOX, "images/val/2.png": BOX})
    _, findings = check(root)
    assert [(f["file"], f["line"]) for f in of(findings, "F002")] == [("data.yaml", 3)]
    assert stats(root)["splits"]["train"]["images"] == 2


def test_a_list_file_without_txt_suffix_is_a_list(tmp_path: Path) -> None:
    root = dataset(tmp_path / "ds", "train: train.list\nval: images/val\nnames: [cat]\n",
                   {"images/train/1.png": BOX, "images/val/2.png": BOX})
    (root / "train.list").write_text("images/train/1.png\n")
    code, findings = check(root)
    assert (code, findings) == (0, [])


# ------------------------------------------------------------------ item 14: class lines


NAMES_FORMS = {
    "block list": "names:\n  - cat\n  - dog\n  - bird\n",
    "dict": "names:\n  0: cat\n  1: dog\n  2: bird\n",
}


@pytest.mark.parametrize("form", sorted(NAMES_FORMS))
def test_c002_points_at_each_unused_classs_own_line(tmp_path: Path, form: str) -> None:
    root = dataset(tmp_path / "ds", "train: images/train\nval: images/val\n" + NAMES_FORMS[form],
                   {"images/train/a.png": BOX, "images/val/b.png": BOX})
    _, findings = check(root)
    assert [(f["file"], f["line"]) for f in of(findings, "C002")] == [("data.yaml", 5), ("data.yaml", 6)]


def test_dict_names_lines_reach_c003_c004_and_c006(tmp_path: Path) -> None:
    yaml = "train: images/train\nval: images/val\nnames:\n  0: car\n  1: Car\n  2: traffic_light\n  4: traffic light\n"
    root = dataset(tmp_path / "ds", yaml, {"images/train/a.png": "0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n"
                                           "2 0.5 0.5 0.2 0.2\n4 0.5 0.5 0.2 0.2\n",
                                           "images/val/b.png": BOX})
    _, findings = check(root)
    assert sorted((f["code"], f["line"]) for f in findings if f["code"] in ("C003", "C004", "C006")) == [
        ("C003", 5), ("C004", 7), ("C006", 7)]
