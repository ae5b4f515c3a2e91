"""`detlint split` (issue 18 part 2): on generated COCO and YOLO sets with planted groups
(identical copies, resized copies, the frames of one video), no group crosses a split, each
class's share per split stays near the ratio, a seed makes it deterministic, `--keep test` is
respected, and `check --images decode` on the result finds no S001/S002."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detlint.cli import main
from detlint.formats import load
from detlint.splitting import REPORT_NAME, components

VIDEO = r"regex:(vid\d+)_frame"
GROUPS = f"hash,phash,{VIDEO}"


def smooth_image(path: Path, seed: int, size: tuple[int, int] = (64, 48)) -> None:
    """A smooth random picture (an 8x6 noise upscaled): perceptual hashes of two seeds differ
    in about half their bits, a resized copy's in a few."""
    path.parent.mkdir(parents=True, exist_ok=True)
    small = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC).save(path)


def planted(folder: Path, videos: int = 10, frames: int = 6, singles: int = 40) -> list[set[str]]:
    """Images under ``folder``: video frames, singles, 5 byte copies and 5 resized copies;
    returns the groups that must stay together (file names)."""
    groups, seed = [], 1
    for v in range(videos):
        names = {f"vid{v:02d}_frame{f:04d}.png" for f in range(frames)}
        for name in sorted(names):
            smooth_image(folder / name, seed)
            seed += 1
        groups.append(names)
    for k in range(singles):
        smooth_image(folder / f"single{k:03d}.png", seed)
        seed += 1
    for k in range(5):
        shutil.copyfile(folder / f"single{k:03d}.png", folder / f"single{k:03d}_copy.png")
        groups.append({f"single{k:03d}.png", f"single{k:03d}_copy.png"})
        with Image.open(folder / f"single{k + 10:03d}.png") as im:
            im.resize((48, 36), Image.Resampling.BICUBIC).save(folder / f"single{k + 10:03d}_small.png")
        groups.append({f"single{k + 10:03d}.png", f"single{k + 10:03d}_small.png"})
    return groups


def boxes_for(rng: np.random.Generator) -> list[int]:
    """1 to 3 classes per image, class 0 common, 2 rare."""
    return [int(rng.choice(3, p=[0.6, 0.3, 0.1])) for _ in range(int(rng.integers(1, 4)))]


def coco_source(root: Path) -> list[set[str]]:
    groups = planted(root / "images")
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i, path in enumerate(sorted((root / "images").iterdir())):
        with Image.open(path) as im:
            width, height = im.size
        images.append({"id": i + 1, "file_name": path.name, "width": width, "height": height})
        for c in boxes_for(rng):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c + 1, "bbox": [2, 2, 10, 10 + c],
                         "area": 100.0 + 10 * c, "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(["car", "person", "dog"])]
    (root / "annotations.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return groups


def yolo_source(root: Path, test: set[str]) -> list[set[str]]:
    """YOLO train/val/test (``test`` names go to images/test, the rest to images/train)."""
    scratch = root / "scratch"
    groups = planted(scratch)
    rng = np.random.default_rng(1)
    for path in sorted(scratch.iterdir()):
        split = "test" if path.name in test else "train"
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        path.rename(root / "images" / split / path.name)
        lines = [f"{c} 0.5 0.5 0.2 0.{2 + c}" for c in boxes_for(rng)]
        (root / "labels" / split / f"{path.stem}.txt").write_text("\n".join(lines) + "\n")
    scratch.rmdir()
    (root / "images" / "val").mkdir()
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\ntest: images/test\n"
                                    "names: [car, person, dog]\n")
    return groups


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def split_of(root: Path) -> dict[str, str]:
    """Image file name -> split, as the written dataset says."""
    ds = load(root)
    return {Path(str(p)).name: str(s) for p, s in zip(ds.images.path.tolist(), ds.images.split.tolist())}


def findings(root: Path) -> Counter:
    code, output = run("check", root, "--images", "decode", "--output-format", "json", "--no-cache")
    assert code in (0, 1), output
    return Counter(f["code"] for f in json.loads(output)["findings"])


@pytest.fixture
def coco(tmp_path: Path) -> tuple[Path, list[set[str]]]:
    root = tmp_path / "coco"
    return root, coco_source(root)


def test_no_group_crosses_a_split_and_classes_stay_balanced(coco, tmp_path: Path) -> None:
    src, groups = coco
    code, output = run("split", src, "--out", tmp_path / "out", "--group-by", GROUPS, "--seed", "7")
    assert code == 0, output
    where = split_of(tmp_path / "out")
    assert len(where) == 110
    for group in groups:
        assert len({where[name] for name in group}) == 1, group
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["groups"] == 50  # 10 videos + 40 singles (each copy joined to its original)
    assert [s["images"] for s in report["splits"]] == [Counter(where.values())[n] for n in ("train", "val", "test")]
    assert max(abs(c["deviation"]) for c in report["classes"]) <= 0.05
    assert all(abs(s["images"] / 110 - s["ratio"]) <= 0.03 for s in report["splits"])
    assert report["splits"][0]["largest_group"] == 6
    assert "largest class deviation" in output


def test_result_passes_check_decode_without_leaks(coco, tmp_path: Path) -> None:
    src, _ = coco
    assert run("split", src, "--out", tmp_path / "grouped", "--group-by", GROUPS)[0] == 0
    found = findings(tmp_path / "grouped")
    assert not found["S001"] and not found["S002"], found
    # the same split with no grouping but the path leaks the planted copies: the check can fail
    assert run("split", src, "--out", tmp_path / "naive", "--group-by", "regex:^$")[0] == 0
    naive = findings(tmp_path / "naive")
    assert naive["S001"] + naive["S002"] > 0, naive


def test_deterministic_with_a_seed(coco, tmp_path: Path) -> None:
    src, _ = coco
    outs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert run("split", src, "--out", tmp_path / name, "--group-by", GROUPS, "--seed", seed)[0] == 0
        outs.append(split_of(tmp_path / name))
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_keep_test_stays_and_pulls_its_groups(tmp_path: Path) -> None:
    kept = {"vid00_frame0002.png", "single020.png", "single021.png", "single022.png"}
    groups = yolo_source(tmp_path / "yolo", kept)
    code, output = run("split", tmp_path / "yolo", "--out", tmp_path / "out", "--ratios", "0.8,0.1,0.1",
                       "--group-by", GROUPS, "--keep", "test", "--to", "coco")
    assert code == 0, output
    where = split_of(tmp_path / "out")
    assert all(where[name] == "test" for name in kept)
    # vid00's other frames join its kept frame; no other image moves into test
    assert {n for n, s in where.items() if s == "test"} == kept | {f"vid00_frame{f:04d}.png" for f in range(6)}
    for group in groups:
        assert len({where[name] for name in group}) == 1, group
    assert {"train", "val"} <= set(where.values())
    assert not findings(tmp_path / "out")["S001"]


def test_yolo_to_yolo_writes_split_folders(tmp_path: Path) -> None:
    yolo_source(tmp_path / "yolo", set())
    assert run("split", tmp_path / "yolo", "--out", tmp_path / "out", "--ratios", "0.7,0.3",
               "--group-by", GROUPS)[0] == 0
    assert {p.name for p in (tmp_path / "out" / "images").iterdir()} == {"train", "val"}
    assert sum(1 for _ in (tmp_path / "out" / "labels").rglob("*.txt")) == 110
    src_image = tmp_path / "yolo" / "images" / "train" / "single001.png"
    copy = next((tmp_path / "out" / "images").rglob("single001.png"))
    assert copy.stat().st_ino == src_image.stat().st_ino  # hard-linked, never rewritten


def test_lists_only_writes_the_formats_own_lists(coco, tmp_path: Path) -> None:
    yolo_source(tmp_path / "yolo", set())
    assert run("split", tmp_path / "yolo", "--out", tmp_path / "lists", "--lists-only", "--group-by", GROUPS)[0] == 0
    listed = {name: (tmp_path / "lists" / f"{name}.txt").read_text().split() for name in ("train", "val", "test")}
    assert sum(map(len, listed.values())) == 110
    assert all((tmp_path / "yolo" / line).is_file() for lines in listed.values() for line in lines)
    assert not (tmp_path / "lists" / "images").exists()
    src, _ = coco
    assert run("split", src, "--out", tmp_path / "cocolists", "--lists-only", "--group-by", GROUPS)[0] == 0
    written = sorted(p.name for p in (tmp_path / "cocolists" / "annotations").iterdir())
    assert written == ["instances_test.json", "instances_train.json", "instances_val.json"]
    assert not (tmp_path / "cocolists" / "images").exists()
    total = sum(len(json.loads(p.read_text())["images"]) for p in (tmp_path / "cocolists" / "annotations").iterdir())
    assert total == 110


@pytest.mark.parametrize(("args", "message"), [
    (["--ratios", "0.5,0.2"], "sum to 1"),
    (["--ratios", "0.8,0.2", "--names", "a,b,c"], "one name per ratio"),
    (["--group-by", "colour"], "choose from"),
    (["--group-by", "regex:("], "not a regular expression"),
    (["--keep", "test"], "no split of that name"),
    (["--lists-only", "--to", "yolo"], "leave out --to"),
])
def test_bad_input_is_one_line_and_exit_2(coco, tmp_path: Path, args: list[str], message: str) -> None:
    src, _ = coco
    code, output = run("split", src, "--out", tmp_path / "out", *args)
    assert code == 2
    assert message in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_components_join_chains() -> None:
    labels = components(6, np.array([4, 3, 1]), np.array([5, 4, 0]))
    assert labels.tolist() == [0, 0, 1, 2, 2, 2]


def test_phash_distance_from_the_config_and_the_flag(coco, tmp_path: Path) -> None:
    src, _ = coco
    (src / "detlint.toml").write_text("near-duplicate-distance = 0\n")  # I010's option: resized copies apart

    def groups(name: str, *flag: str) -> int:
        assert run("split", src, "--out", tmp_path / name, "--group-by", "hash,phash", *flag)[0] == 0
        return json.loads((tmp_path / name / REPORT_NAME).read_text())["groups"]

    # 110 images less 5 byte copies: 105; each resized copy joined at 6 bits: 100
    assert (groups("config"), groups("flag", "--near-duplicate-distance", "6")) == (105, 100)


def test_group_by_folder_keeps_each_folder_whole(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    coco_source(root)
    document = json.loads((root / "annotations.json").read_text())
    for image in document["images"]:  # a scene folder per ten images
        scene = f"scene{image['id'] % 11}"
        (root / "images" / scene).mkdir(exist_ok=True)
        (root / "images" / image["file_name"]).rename(root / "images" / scene / image["file_name"])
        image["file_name"] = f"{scene}/{image['file_name']}"
    (root / "annotations.json").write_text(json.dumps(document))
    assert run("split", root, "--out", tmp_path / "out", "--group-by", "folder", "--ratios", "0.6,0.4")[0] == 0
    ds = load(tmp_path / "out")
    scenes = {}
    for name, split in zip(ds.images.file_name.tolist(), ds.images.split.tolist()):
        scenes.setdefault(str(name).split("/")[0], set()).add(split)
    assert len(scenes) == 11 and all(len(splits) == 1 for splits in scenes.values())


def test_voc_lists_only_name_the_annotation_files(tmp_path: Path) -> None:
    voc = Path(__file__).resolve().parent.parent / "fixtures" / "voc_clean"
    code, output = run("split", voc, "--out", tmp_path / "lists", "--lists-only", "--ratios", "0.5,0.5")
    assert code == 0, output
    main_lists = tmp_path / "lists" / "ImageSets" / "Main"
    stems = [line for name in ("train", "val") for line in (main_lists / f"{name}.txt").read_text().split()]
    assert sorted(stems) == sorted(p.stem for p in (voc / "Annotations").glob("*.xml"))
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["ImageSets", REPORT_NAME]


def test_lists_only_for_a_format_without_split_lists(tmp_path: Path) -> None:
    labelme = Path(__file__).resolve().parent.parent / "fixtures" / "formats" / "labelme"
    code, output = run("split", labelme, "--out", tmp_path / "out", "--lists-only", "--ratios", "0.5,0.5")
    assert code == 2 and "has no split lists of its own" in output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
