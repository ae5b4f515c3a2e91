"""``--fix`` writes all of its files or none, and a failure says exactly what was changed.

The failures are real ones that hold for root too (which ignores read-only folders): a label
file whose name leaves no room for the temporary file's (NAME_MAX is 255 bytes), and a target
that is a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import write_image

from detlint.cli import main
from detlint.fileio import PartialWriteError, replace_files

LONG_STEM = "b" * 246  # "<stem>.txt" is 250 bytes: fine; ".<name>.XXXXXXXX.tmp" is over 255
BROKEN = "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.0 0.1\n"  # the second line is B001 (zero width): safe fix drops it


def temp_files(root: Path) -> list[Path]:
    return list(root.rglob(".*.tmp"))


@pytest.mark.skipif(os.pathconf("/", "PC_NAME_MAX") != 255, reason="needs a 255-byte NAME_MAX")
def test_fix_that_cannot_write_one_file_changes_none(tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [cat]\n")
    for stem in ("a", LONG_STEM):
        write_image(root / "images" / f"{stem}.png", (40, 30))
        (root / "labels" / f"{stem}.txt").write_text(BROKEN)
    result = CliRunner().invoke(main, ["check", str(root), "--fix"])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "nothing was changed" in message and f"{LONG_STEM}.txt" in message
    assert (root / "labels" / "a.txt").read_text() == BROKEN  # not half-applied
    assert (root / "labels" / f"{LONG_STEM}.txt").read_text() == BROKEN
    assert temp_files(root) == []


def test_rename_failing_part_way_names_the_files_already_replaced(tmp_path: Path) -> None:
    for name in ("one.txt", "three.txt"):
        (tmp_path / name).write_text("old\n")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "keep.txt").write_text("x")  # a folder: no file can be renamed over it
    with pytest.raises(PartialWriteError) as error:
        replace_files(tmp_path, [("one.txt", b"new\n"), ("two", b"new\n"), ("three.txt", b"new\n")])
    assert str(error.value) == (f"{tmp_path}: cannot replace two (Is a directory): "
                                "already replaced: one.txt; not changed: two, three.txt")
    assert (tmp_path / "one.txt").read_text() == "new\n"
    assert (tmp_path / "three.txt").read_text() == "old\n"
    assert (tmp_path / "two" / "keep.txt").read_text() == "x"
    assert temp_files(tmp_path) == []


def test_replace_files_writes_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("old\n")
    os.chmod(tmp_path / "a.txt", 0o640)
    replace_files(tmp_path, [("a.txt", b"new\n")])
    assert (tmp_path / "a.txt").read_text() == "new\n"
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert temp_files(tmp_path) == []
