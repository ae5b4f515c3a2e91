"""Adding a format is one package and one registration: a toy CSV format, registered only here,
is sniffed, checked with located findings, and written and read by ``convert``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from detlint import formats
from detlint.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def toy() -> Iterator[formats.Format]:
    from toy_format import FORMAT

    formats.register(FORMAT)
    yield FORMAT
    formats.unregister(FORMAT.name)


def _toy_dataset(root: Path) -> Path:
    root.mkdir(parents=True)
    Image.new("RGB", (64, 48)).save(root / "a.jpg")
    Image.new("RGB", (32, 32)).save(root / "b.jpg")
    (root / "boxes.csv").write_text("image,width,height,class,x1,y1,x2,y2\n"
                                    "a.jpg,64,48,cat,4,4,20,30\n"
                                    "a.jpg,64,48,dog,50,10,80,40\n"  # 16 px past the right edge
                                    "b.jpg,32,32,cat,5,5,5,20\n")  # zero width
    return root


def _check(root: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", str(root), "--output-format", "json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_a_registered_format_is_sniffed_and_checked_with_locations(tmp_path: Path, toy: formats.Format) -> None:
    root = _toy_dataset(tmp_path / "toy")
    assert formats.sniff(root) == "toycsv"
    status, report = _check(root)
    assert status == 1
    assert report["datasets"][0]["format"] == "toycsv"
    found = {(f["code"], f["file"], f["line"]) for f in report["findings"] if f["severity"] == "error"}
    assert found == {("B002", "boxes.csv", 3), ("B001", "boxes.csv", 4)}
    assert all(f["pointer"] is None for f in report["findings"])  # the default locate: no pointers


def test_rules_that_need_other_traits_do_not_run(tmp_path: Path, toy: formats.Format) -> None:
    root = _toy_dataset(tmp_path / "toy")
    (root / "boxes.csv").write_text("image,width,height,class,x1,y1,x2,y2\na.jpg,64,48,cat,0.1,0.1,0.5,0.5\n")
    status, report = _check(root, "--select", "F007,F003,F005,B009,F012")  # YOLO and COCO rules
    assert status == 0 and report["findings"] == []


def test_convert_writes_and_reads_the_registered_format(tmp_path: Path, toy: formats.Format) -> None:
    out = tmp_path / "as_toy"
    result = CliRunner().invoke(main, ["convert", str(REPO / "fixtures" / "yolo_clean"), str(out), "--to", "toycsv"])
    assert result.exit_code == 0, result.output
    source = formats.load(REPO / "fixtures" / "yolo_clean")
    written = formats.load(out)
    assert written.format == "toycsv"
    assert len(written.annotations) == len(source.annotations)
    assert sorted(written.categories.names) == sorted({source.categories.names[i]
                                                         for i in source.annotations.category.tolist()})
    back = tmp_path / "back_to_yolo"
    result = CliRunner().invoke(main, ["convert", str(out), str(back), "--to", "yolo"])
    assert result.exit_code == 0, result.output
    assert len(formats.load(back).annotations) == len(source.annotations)


def test_an_unregistered_name_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(REPO / "fixtures" / "yolo_clean"), str(tmp_path / "x"),
                                       "--to", "toycsv"])
    assert result.exit_code == 2 and "toycsv" in result.output


def test_register_refuses_an_object_that_is_not_a_format() -> None:
    with pytest.raises(TypeError):
        formats.register(object())  # type: ignore[arg-type]
