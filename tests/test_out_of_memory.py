"""Running out of memory says so, and where (issue #14): ``MemoryError()`` has an empty str, and the
message used to be ``detlint: error: `` with nothing after it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import make_yolo

from detlint import boundary
from detlint.cli import main
from detlint.formats.yolo import parse


class _OsWithoutMemory:
    """``os`` for detlint.boundary (where every read is made), whose ``read`` runs out of memory
    (a huge file read whole)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def read(fd: int, size: int) -> bytes:
        raise MemoryError


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_yolo(tmp_path / "ds", {"one": "0 0.5 0.5 0.2 0.2\n"}, ["cat"])


def _error_line(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_out_of_memory_reading_a_file_names_it(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boundary, "os", _OsWithoutMemory())
    line = _error_line("check", str(dataset), "--no-cache")
    first_read = dataset / "data.yaml"  # the first file a YOLO check reads (sniffing)
    assert line == f"detlint: error: out of memory while reading {first_read} (detlint check {dataset} --no-cache)"


def test_out_of_memory_elsewhere_names_the_command(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def parse_rows(*args: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(parse, "parse_rows", parse_rows)
    line = _error_line("check", str(dataset), "--images", "none")
    assert line == f"detlint: error: out of memory while running detlint check {dataset} --images none"


def test_numpy_detail_is_kept(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def parse_rows(*args: Any) -> None:
        raise MemoryError("Unable to allocate 8.00 GiB for an array with shape (1073741824,) and data type float64")

    monkeypatch.setattr(parse, "parse_rows", parse_rows)
    line = _error_line("stats", str(dataset))
    assert line == (f"detlint: error: out of memory while running detlint stats {dataset}: Unable to allocate "
                    "8.00 GiB for an array with shape (1073741824,) and data type float64")
