"""DOTA: the fixture read as its facts say, sniffed without --format, converted both ways."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import detlint
from detlint.cli import main
from detlint.formats import save, sniff
from detlint.model import Annotations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DOTA = FIXTURES / "formats" / "dota"
FACTS = json.loads((DOTA / "expected.json").read_text())


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout


def test_read_gives_the_fixtures_facts() -> None:
    ds = detlint.load(DOTA)
    ann = ds.annotations
    assert (ds.format, len(ds.images), len(ann), ds.categories.names) == (
        FACTS["format"], FACTS["images"], FACTS["annotations"], FACTS["classes"])
    assert {s: int((ds.images.split == s).sum()) for s in ds.splits} == FACTS["splits"]
    assert {(int(w), int(h)) for w, h in zip(ds.images.width, ds.images.height)} == {tuple(FACTS["sizes"])}
    assert (ann.kind == Annotations.KIND_OBB).all()
    where = {f"{ds.files[f]}:{line}": int(d) for f, line, d in zip(ann.src_file, ann.src_line, ann.difficult)}
    assert {key: where[key] for key in FACTS["difficult"]} == FACTS["difficult"]
    assert sorted(where.values()) == [-1, 0, 0, 0, 0, 0, 1]  # -1: the line without a difficult column
    headers = {str(p): e["dota_header"] for p, e in zip(ds.images.path, ds.images.extra) if e}
    assert headers == FACTS["header"]


def test_check_sniffs_dota_and_locates_findings() -> None:
    assert sniff(DOTA) == "dota"
    code, out = _cli("check", str(DOTA), "--output-format", "json", "--no-cache")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert sorted(f"{f['code']} {f['file']}:{f['line']}" for f in findings) == FACTS["findings"]
    f006 = next(f for f in findings if f["code"] == "F006")
    assert "'1 2 3 4 5 6 plane 0'" in f006["message"]


def test_round_trip_keeps_headers_difficult_and_order(tmp_path: Path) -> None:
    code, _ = _cli("convert", str(DOTA), str(tmp_path / "out"), "--to", "dota")
    assert code == 0
    again = detlint.load(tmp_path / "out")
    source = detlint.load(DOTA)
    label = (tmp_path / "out" / "train" / "labelTxt" / "P0001.txt").read_text().splitlines()
    assert label[:2] == ["imagesource:GoogleEarth", "gsd:0.146343590398"]
    assert label[3] == "60 20 80 30 75 40 55 30 ship 1"
    assert label[4] == "10 40 10 70 40 70 40 40 small-vehicle 0"  # counter-clockwise, as written
    assert list(again.annotations.segmentation) == list(source.annotations.segmentation)
    assert os.path.samefile(tmp_path / "out" / "train" / "images" / "P0001.png",
                            DOTA / "train" / "images" / "P0001.png")  # linked, never rewritten


def test_axis_aligned_boxes_become_clockwise_corners(tmp_path: Path) -> None:
    source = detlint.load(FIXTURES / "voc_clean")
    save(source, tmp_path / "dota", "dota")
    dota = detlint.load(tmp_path / "dota")
    corners = np.array(list(dota.annotations.segmentation), np.float64)
    boxes = np.array(source.annotations.boxes)
    assert len(corners) == len(boxes)
    np.testing.assert_allclose(corners[:, [0, 1, 4, 5]], boxes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(corners[:, [2, 3, 6, 7]], boxes[:, [2, 1, 0, 3]], rtol=0, atol=1e-9)
    losses = {loss["what"]: loss for loss in save(dota, tmp_path / "voc", "voc").losses}
    loss = losses["oriented box written as its enclosing axis-aligned box"]  # the corner order goes
    assert loss["detail"] == f"area grew by 0.0% on average, 0.0% at most; {len(boxes)} already axis-aligned (exact)"


def test_stats_and_convert_to_coco(tmp_path: Path) -> None:
    code, out = _cli("stats", str(DOTA))
    assert code == 1 and "3 images, 7 annotations" in out  # 1: the F006 line stats leave out
    code, _ = _cli("convert", str(DOTA), str(tmp_path / "coco"), "--to", "coco")
    assert code == 0
    report = json.loads((tmp_path / "coco" / "detlint-conversion.json").read_text())
    loss = next(x for x in report["losses"] if x["what"] == "oriented box written as its enclosing axis-aligned box")
    assert loss["count"] == 7 and loss["detail"].startswith("area grew by 14.3% on average, 100.0% at most")
    coco = detlint.load(tmp_path / "coco")
    np.testing.assert_allclose(np.sort(coco.annotations.boxes, axis=0),
                               np.sort(detlint.load(DOTA).annotations.boxes, axis=0))


def test_label_without_image_and_link_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "set"
    shutil.copytree(DOTA, root)
    (root / "train" / "labelTxt" / "P0009.txt").write_text("1 1 9 1 9 9 1 9 plane 0\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("1 1 9 1 9 9 1 9 plane 0\n")
    (root / "train" / "labelTxt" / "P0010.txt").symlink_to(outside)
    ds = detlint.load(root)
    codes = {(p.code, p.file) for p in ds.problems}
    assert ("I006", "train/labelTxt/P0009.txt") in codes
    assert ("F008", "train/labelTxt/P0010.txt") in codes
    assert "P0010" not in " ".join(ds.files)


def test_versioned_label_folders_are_read(tmp_path: Path) -> None:
    """The downloads nest labels as ``labelTxt-v1.5/<one folder>/`` or ``labelTxt-v1.0/*.txt``."""
    root = tmp_path / "v15"
    shutil.copytree(DOTA, root)
    (root / "train" / "labelTxt").rename(tmp_path / "moved")
    (root / "train" / "labelTxt-v1.5").mkdir()
    (tmp_path / "moved").rename(root / "train" / "labelTxt-v1.5" / "DOTA-v1.5_train")
    (root / "val" / "labelTxt").rename(root / "val" / "labelTxt-v1.0")
    assert sniff(root) == "dota"
    ds = detlint.load(root)
    assert len(ds.annotations) == FACTS["annotations"] and not [p for p in ds.problems if p.code == "I006"]
    assert "train/labelTxt-v1.5/DOTA-v1.5_train/P0001.txt" in ds.files


def test_a_label_file_passed_alone_is_checked_in_its_dataset() -> None:
    """pre-commit passes files: a DOTA label finds its dataset root above its split folder."""
    code, out = _cli("check", str(DOTA / "train" / "labelTxt" / "P0002.txt"), "--output-format", "json",
                     "--no-cache")
    assert code == 1
    assert sorted(f"{f['code']} {f['file']}:{f['line']}" for f in json.loads(out)["findings"]) == [
        "B012 train/labelTxt/P0002.txt:2", "B013 train/labelTxt/P0002.txt:1"]
