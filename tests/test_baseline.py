"""Baselines and ``fail-on`` belong to one dataset: checking several datasets together judges each by
its own config, exactly as checking it alone does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from helpers import write_image

from detlint.cli import main

CLEAN = Path(__file__).resolve().parents[1] / "fixtures" / "yolo_clean"


def _dataset(root: Path, bad_rows: list[str], config: str | None = None) -> Path:
    shutil.copytree(CLEAN, root)
    label = root / "labels" / "train" / "a.txt"
    label.write_text(label.read_text() + "".join(row + "\n" for row in bad_rows))
    if config is not None:
        (root / "detlint.toml").write_text(config)
    return root


def _check(*paths: Path) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["check", *map(str, paths), "--output-format", "json", "--no-cache"])
    return result.exit_code, json.loads(result.stdout)["findings"]


def _with_baseline_of_itself(root: Path) -> Path:
    """``root`` with a config whose baseline holds every finding it has today."""
    result = CliRunner().invoke(main, ["check", str(root), "--no-cache", "--write-baseline",
                                       str(root / "baseline.json")])
    assert result.exit_code == 0, result.output
    (root / "detlint.toml").write_text('baseline = "baseline.json"\n')
    return root


def test_one_datasets_baseline_does_not_hide_another_datasets_findings(tmp_path: Path) -> None:
    b = _dataset(tmp_path / "b", ["0 0.5 0.5 0 0.2", "1 1.5 0.5 0.2 0.2", "7 0.5 0.5 0.1 0.1"])
    alone_status, alone = _check(b)
    assert alone_status == 1 and len([f for f in alone if f["severity"] == "error"]) >= 3
    a = _with_baseline_of_itself(_dataset(tmp_path / "a", ["0 0.5 0.5 0 0.2", "1 1.5 0.5 0.2 0.2"]))
    assert _check(a) == (0, [])
    status, together = _check(b, a)
    assert status == 1
    assert sorted(map(json.dumps, together)) == sorted(map(json.dumps, alone))


def test_each_dataset_fails_by_its_own_fail_on(tmp_path: Path) -> None:
    strict = _dataset(tmp_path / "strict", [], config='fail-on = "warning"\n')
    lenient = _dataset(tmp_path / "lenient", ["0 0.5 0.5 0.001 0.001"])  # B005 tiny-box: a warning
    assert _check(lenient)[0] == 0
    status, findings = _check(strict, lenient)
    assert {f["code"] for f in findings if f["severity"] != "info"} == {"B005"}
    assert status == 0  # the warning is the lenient dataset's, judged by its default fail-on = error
    assert _check(lenient, strict)[0] == 0


# ------------------------------------------------------------------ identity (#15 item 4)

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "baseline_v1"


def _baselined(root: Path) -> Path:
    result = CliRunner().invoke(main, ["check", str(root), "--no-cache", "--write-baseline", str(root / "bl.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((root / "bl.json").read_text())["version"] == 2
    return root / "bl.json"


def _new(root: Path, baseline: Path) -> list[tuple[str, int | None]]:
    result = CliRunner().invoke(main, ["check", str(root), "--output-format", "json", "--no-cache",
                                       "--baseline", str(baseline)])
    return [(f["code"], f["line"]) for f in json.loads(result.stdout)["findings"]]


def test_a_baseline_written_before_version_2_is_still_read(tmp_path: Path) -> None:
    root = tmp_path / "legacy"
    shutil.copytree(LEGACY, root)
    assert len(_check(root)[1]) == 4
    assert _check_with(root, root / "baseline.json") == (0, [])


def _check_with(root: Path, baseline: Path) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["check", str(root), "--output-format", "json", "--no-cache",
                                       "--baseline", str(baseline)])
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_yolo_baseline_survives_inserted_deleted_and_reordered_lines(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "y", ["0 0.5 0.5 0 0.2", "1 1.5 0.5 0.2 0.2", "7 0.5 0.5 0.1 0.1", "0 0.5 0.5 0 0.2"])
    baseline = _baselined(root)
    label = root / "labels" / "train" / "a.txt"
    lines = label.read_text().splitlines(keepends=True)
    label.write_text("2 0.4 0.4 0.1 0.1\n" + lines[1] + "".join(reversed(lines[2:])))  # insert, delete one, reorder
    assert _new(root, baseline) == []
    label.write_text(label.read_text() + "0 0.5 0.5 0 0.2\n")  # a third copy of the twice-baselined row is new
    assert _new(root, baseline) == [("B001", 7)]


def test_voc_baseline_survives_an_object_inserted_before(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    write_image(root / "a.jpg", (100, 80))
    obj = "<object><name>{}</name><bndbox><xmin>{}</xmin><ymin>10</ymin><xmax>{}</xmax><ymax>40</ymax></bndbox></object>\n"
    head = "<annotation>\n<filename>a.jpg</filename><size><width>100</width><height>80</height></size>\n"
    (root / "a.xml").write_text(head + obj.format("cat", 10, 50) + obj.format("dog", 60, 110) + "</annotation>\n")
    baseline = _baselined(root)
    assert _check(root)[1]  # B002 on the second object
    (root / "a.xml").write_text(head + obj.format("dog", 60, 110) + obj.format("cat", 5, 9) + obj.format("cat", 10, 50)
                                + "</annotation>\n")
    assert _new(root, baseline) == []


def test_coco_baseline_survives_entries_inserted_before(tmp_path: Path) -> None:
    """Annotations were keyed by their id already; image findings were keyed by their pointer
    (``/images/0``), which an image inserted before moves."""
    root = tmp_path / "c"
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_image(root / "images" / name, (100, 80))
    sized = {"file_name": "a.jpg", "width": 100, "height": 80}
    unsized = {"id": 2, "file_name": "b.jpg", "width": 0, "height": 0}  # F011

    def write(images: list[dict], annotations: list[dict]) -> None:
        (root / "annotations.json").write_text(json.dumps({
            "images": images, "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"image_id": 1, "category_id": 1, "iscrowd": 0, **a} for a in annotations]}))

    bad = {"id": 9, "bbox": [60, 10, 50, 20], "area": 1000}  # B002
    write([{"id": 1, **sized}, unsized], [{"id": 1, "bbox": [10, 10, 20, 20], "area": 400}, bad])
    baseline = _baselined(root)
    write([{"id": 3, "file_name": "c.jpg", "width": 100, "height": 80}, {"id": 1, **sized}, unsized],
          [{"id": 5, "bbox": [1, 1, 5, 5], "area": 25}, {"id": 6, "image_id": 3, "bbox": [2, 2, 5, 5], "area": 25}, bad])
    assert _new(root, baseline) == []
