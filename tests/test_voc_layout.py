"""VOC layouts: split lists of any name, leakage between them (S001), and images that no XML
declares (I005), on real folders built in a tmp folder, checked through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_image

from detlint.checking import CheckRequest, check_dataset, run_check
from detlint.cli import main
from detlint.formats.protocol import ReadOptions
from detlint.formats.voc import FORMAT as voc
from detlint.incremental import snapshot
from detlint.model import Dataset

LONG_SPLIT = "validation_holdout_2024_long_name"
PAST_NS = 1_600_000_000 * 10**9


def xml_text(image: str, objects: int = 1) -> str:
    boxes = "".join("<object><name>cat</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>30</xmax>"
                    "<ymax>20</ymax></bndbox></object>" for _ in range(objects))
    return (f"<annotation><filename>{image}</filename><size><width>64</width><height>48</height>"
            f"<depth>3</depth></size>{boxes}</annotation>\n")


def devkit(root: Path, lists: dict[str, str], stems: tuple[str, ...] = ("a", "b", "c", "d"),
           base: Path | None = None) -> Path:
    """A devkit: one image and XML per stem, and ``ImageSets/Main/<name>.txt`` per list."""
    base = base or root
    (base / "Annotations").mkdir(parents=True)
    (base / "ImageSets" / "Main").mkdir(parents=True)
    for seed, stem in enumerate(stems):
        write_image(base / "JPEGImages" / f"{stem}.jpg", noise_seed=seed)  # distinct bytes: no S001 by content
        (base / "Annotations" / f"{stem}.xml").write_text(xml_text(f"{stem}.jpg"))
    for name, text in lists.items():
        (base / "ImageSets" / "Main" / f"{name}.txt").write_text(text)
    return root


def age(root: Path) -> None:
    """Old mtimes for every file and folder, as a dataset checked out yesterday."""
    entries = sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True) + [root]
    for i, path in enumerate(entries):
        os.utime(path, ns=(PAST_NS + i, PAST_NS + i))


def read(path: Path) -> Dataset:
    return voc.read(path, ReadOptions(progress=False)).validate()


def check_json(path: Path, images: str = "none", use_cache: bool = False) -> tuple[dict, int]:
    text, code = run_check(CheckRequest(paths=[path], output_format="json", images=images, use_cache=use_cache))
    return json.loads(text), code


def of_code(report: dict, code: str) -> list[dict]:
    return [f for f in report["findings"] if f["code"] == code]


# --- item 1: an image in two split lists is S001 ---------------------------------------------


@pytest.mark.parametrize("images", ["none", "header", "decode"])
def test_an_image_in_train_and_val_lists_is_s001_at_the_repeating_line(tmp_path: Path, images: str) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nb\nc\n", "val": "# held out\nd\nb\n"})
    report, code = check_json(root, images)
    leaks = of_code(report, "S001")
    assert code == 1
    assert [(f["file"], f["line"], f["image"]) for f in leaks] == [("ImageSets/Main/val.txt", 3, "JPEGImages/b.jpg")]
    message = leaks[0]["message"]
    for part in ("'b'", "'train'", "ImageSets/Main/train.txt:2", "'val'", "ImageSets/Main/val.txt:3"):
        assert part in message
    ds = read(root)  # one image row per file, in its first split; the rest is remembered
    row = ds.images.path.tolist().index("JPEGImages/b.jpg")
    assert ds.images.split[row] == "train" and ds.images.extra[row]["also_in_splits"] == ["val"]
    assert len(ds.images) == 4


def test_an_image_in_three_splits_is_one_s001_per_repeat(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nb\n", "val": "b\nc\n", "test": "d\nb\nb\n"})
    leaks = of_code(check_json(root)[0], "S001")
    assert [(f["file"], f["line"]) for f in leaks] == [("ImageSets/Main/test.txt", 2), ("ImageSets/Main/val.txt", 1)]
    assert all("ImageSets/Main/train.txt:2" in f["message"] for f in leaks)


def test_trainval_is_the_union_of_train_and_val_not_a_leak(tmp_path: Path) -> None:
    """VOC2007/2012 ship train, val and trainval (their union) and per-class lists: no S001,
    and torchvision's VOCDetection reaches the same images per split as the read says."""
    lists = {"train": "a\nb\n", "val": "c\n", "trainval": "a\nb\nc\n", "test": "d\n",
             "cat_train": "a  1\nb -1\n", "cat_val": "c  0\n", "cat_trainval": "a  1\nb -1\nc  0\n"}
    base = tmp_path / "VOCdevkit" / "VOC2012"
    devkit(tmp_path, lists, base=base)
    report, code = check_json(tmp_path)
    assert of_code(report, "S001") == [] and code == 0
    ds = read(tmp_path)
    split_of = dict(zip([p.rsplit("/", 1)[-1][0] for p in ds.images.path.tolist()], ds.images.split.tolist()))
    assert split_of == {"a": "train", "b": "train", "c": "val", "d": "test"}
    torchvision = pytest.importorskip("torchvision")
    for split in ("train", "val", "trainval"):
        reached = torchvision.datasets.VOCDetection(str(tmp_path), year="2012", image_set=split).images
        ours = {p for p, s in zip(ds.images.path.tolist(), ds.images.split.tolist())
                if s in (("train", "val") if split == "trainval" else (split,))}
        assert {Path(p).relative_to(base).as_posix() for p in reached} == {p.split("/", 2)[-1] for p in ours}


def test_a_union_list_that_also_holds_a_test_image_leaks_that_one(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\n", "val": "b\n", "test": "d\n", "train+val": "a\nb\nd\nc\n"})
    report, _ = check_json(root)
    assert [(f["file"], f["line"], f["image"]) for f in of_code(report, "S001")] == [
        ("ImageSets/Main/train+val.txt", 3, "JPEGImages/d.jpg")]
    ds = read(root)
    assert ds.images.split[ds.images.path == "JPEGImages/c.jpg"].tolist() == ["train+val"]  # its own entry


def test_identical_train_and_val_lists_leak_every_image(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nb\n", "val": "a\nb\n"}, stems=("a", "b"))
    leaks = of_code(check_json(root)[0], "S001")
    assert [(f["line"], f["image"]) for f in leaks] == [(1, "JPEGImages/a.jpg"), (2, "JPEGImages/b.jpg")]


def test_leak_of_a_listed_image_without_xml(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nz\n", "val": "z\n"}, stems=("a",))
    write_image(root / "JPEGImages" / "z.jpg")
    leaks = of_code(check_json(root)[0], "S001")
    assert [(f["file"], f["line"], f["image"]) for f in leaks] == [("ImageSets/Main/val.txt", 1, "JPEGImages/z.jpg")]


def test_s001_survives_the_parse_cache_and_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(tmp_path / "cache"))
    root = devkit(tmp_path / "voc", {"train": "a\nb\n", "val": "c\nb\n"})
    age(root)  # files edited just now are never trusted to a cache
    uncached = check_json(root)
    assert len(of_code(uncached[0], "S001")) == 1
    assert check_json(root, use_cache=True) == uncached  # fills the parse cache
    assert check_json(root, use_cache=True) == uncached  # answered from it
    answered: list[bool] = []
    real = snapshot.patched
    monkeypatch.setattr(snapshot, "patched", lambda *a, **k: answered.append(r := real(*a, **k)) or r)
    passed = {str((root / "Annotations" / "b.xml").resolve())}
    request = CheckRequest(paths=[root], output_format="json", images="none", use_cache=True)
    full = check_dataset(root, request, passed)  # a full read that writes the snapshot
    fast = check_dataset(root, request, passed)  # a re-check of b.xml from the snapshot
    assert answered[0] is None and answered[1] is not None
    for result in (full, fast):
        leaks = [f for f in result.findings if f.code == "S001"]
        assert [(f.file, f.line, f.image) for f in leaks] == [("ImageSets/Main/val.txt", 2, "JPEGImages/b.jpg")]
    assert fast.ds.images.extra[1]["also_in_splits"] == ["val"]


# --- item 23: split lists of any name ---------------------------------------------------------


def test_a_split_list_with_a_long_underscored_name_is_read_whole(tmp_path: Path) -> None:
    lists = {"train": "a\nb\n", LONG_SPLIT: "c\nd\n", f"cat_{LONG_SPLIT}": "c  1\nd -1\n",
             "dog_train": "a 0\n# comment\n\nb 1\n"}
    root = devkit(tmp_path / "voc", lists)
    ds = read(root)
    assert ds.splits == ["train", LONG_SPLIT]
    assert ds.images.split.tolist() == ["train", "train", LONG_SPLIT, LONG_SPLIT]
    assert ds.meta["voc_split_files"] == ["ImageSets/Main/train.txt", f"ImageSets/Main/{LONG_SPLIT}.txt"]
    result = CliRunner().invoke(main, ["stats", str(root), "--output-format", "json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["splits"]) == {"train", LONG_SPLIT}


def test_an_underscored_list_of_plain_ids_is_a_split_and_one_with_flags_is_per_class(tmp_path: Path) -> None:
    lists = {"hold_out": "a\nb  # reviewed\n", "cat_hold_out": "a  1\nb -1\n", "weird_flags": "c 2\nd 1\n"}
    root = devkit(tmp_path / "voc", lists)
    ds = read(root)
    assert dict(zip(ds.images.path.tolist(), ds.images.split.tolist())) == {
        "JPEGImages/a.jpg": "hold_out", "JPEGImages/b.jpg": "hold_out",
        "JPEGImages/c.jpg": "weird_flags", "JPEGImages/d.jpg": "weird_flags"}


# --- item 8: an image that no XML declares ------------------------------------------------------


def flat(root: Path) -> Path:
    """A LabelImg folder: a.jpg with a.xml, a broken c.xml beside c.jpg, e.xml naming d.jpg,
    and b.jpg with no XML at all."""
    for stem in "abcd":
        write_image(root / f"{stem}.jpg")
    (root / "a.xml").write_text(xml_text("a.jpg"))
    (root / "c.xml").write_text("<annotation><filename>c.jpg")
    (root / "e.xml").write_text(xml_text("d.jpg"))
    return root


@pytest.mark.parametrize("images", ["none", "header"])
def test_flat_folder_image_without_xml_is_i005_that_says_trainers_never_see_it(tmp_path: Path, images: str) -> None:
    root = flat(tmp_path / "flat")
    report, _ = check_json(root, images)
    unannotated = of_code(report, "I005")
    assert [(f["file"], f["image"]) for f in unannotated] == [("b.jpg", "b.jpg")]
    assert "no annotation XML" in unannotated[0]["message"] and "never see it" in unannotated[0]["message"]
    assert report["datasets"][0]["images"] == 2  # a.jpg, d.jpg: b.jpg is no image row


def test_an_image_without_xml_is_not_converted_into_a_negative(tmp_path: Path) -> None:
    root = flat(tmp_path / "flat")
    result = CliRunner().invoke(main, ["convert", str(root), str(tmp_path / "coco"), "--to", "coco"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert sorted(image["file_name"].rsplit("/", 1)[-1] for image in written["images"]) == ["a.jpg", "d.jpg"]
    assert sorted(p.name for p in (tmp_path / "coco" / "images").iterdir()) == ["a.jpg", "d.jpg"]


def test_split_subfolders_report_their_own_images_only(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    for split in ("train", "val"):
        write_image(root / split / f"{split}_1.jpg")
        (root / split / f"{split}_1.xml").write_text(xml_text(f"{split}_1.jpg"))
    write_image(root / "val" / "lost.png")
    write_image(root / "docs" / "diagram.png")  # a folder without XML is no annotation folder
    report, _ = check_json(root)
    assert [f["file"] for f in of_code(report, "I005")] == ["val/lost.png"]


def test_devkit_image_that_no_xml_and_no_list_names_is_i005(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nb\nlisted\n"}, stems=("a", "b"))
    write_image(root / "JPEGImages" / "listed.jpg")  # listed without XML: an image row without objects
    write_image(root / "JPEGImages" / "stray.jpg")
    (root / "JPEGImages" / "notes.txt").write_text("not an image")
    report, _ = check_json(root)
    by_file = {f["image"]: f["message"] for f in of_code(report, "I005")}
    assert set(by_file) == {"JPEGImages/listed.jpg", "JPEGImages/stray.jpg"}
    assert "no ImageSets/Main list names it" in by_file["JPEGImages/stray.jpg"]
    assert "negative" in by_file["JPEGImages/listed.jpg"]  # the rule's own message for a real row
    assert report["datasets"][0]["images"] == 3


def test_clean_devkit_and_flat_folder_have_no_i005(tmp_path: Path) -> None:
    root = devkit(tmp_path / "voc", {"train": "a\nb\n", "val": "c\nd\n"})
    assert of_code(check_json(root)[0], "I005") == []
    write_image(tmp_path / "flat" / "x.jpg")
    (tmp_path / "flat" / "x.xml").write_text(xml_text("x.jpg"))
    assert check_json(tmp_path / "flat") == check_json(tmp_path / "flat", use_cache=True)
    assert of_code(check_json(tmp_path / "flat")[0], "I005") == []
