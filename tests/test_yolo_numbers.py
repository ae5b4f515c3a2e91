"""YOLO numbers are ASCII (issue 14): what Python's float() takes beyond that is a located F006."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from detlint.formats import load
from tests.helpers import make_yolo

GOOD = "0 0.5 0.5 0.2 0.2"


def problems_of(tmp_path: Path, *lines: str) -> dict[int, str]:
    """F006 messages by line of a one-label dataset whose first line is a good row; numpy warnings
    are errors here (none may reach stderr)."""
    root = make_yolo(tmp_path / "ds", {"a": "\n".join((GOOD, *lines)) + "\n"}, ["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load(root)
    assert ds.annotations.class_id.tolist()[0] == 0
    return {p.line: p.message for p in ds.problems if p.code == "F006"}


def test_a_huge_class_is_a_finding_naming_it_as_written(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "1e23 0.5 0.5 0.2 0.2", "99999999999 0.5 0.5 0.2 0.2")
    assert found.keys() == {2, 3}
    assert "'1e23'" in found[2] and "not a class index" in found[2]
    assert "'99999999999'" in found[3]


@pytest.mark.parametrize("token", ["1_0", "\u0661", "\uff11"])
@pytest.mark.parametrize("where", ["class", "coordinate"])
def test_numbers_python_takes_but_yolo_does_not(tmp_path: Path, token: str, where: str) -> None:
    line = f"{token} 0.5 0.5 0.2 0.2" if where == "class" else f"0 0.5 0.{token} 0.2 0.2"
    found = problems_of(tmp_path, line)
    assert list(found) == [2]
    assert repr(token if where == "class" else f"0.{token}") in found[2]
    assert "ASCII" in found[2]


def test_a_non_ascii_space_is_a_finding(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "0\u00a00.5 0.5 0.2 0.2")
    assert list(found) == [2]
    assert "'\\xa0'" in found[2]


def test_infinite_and_overflowing_values_warn_nothing(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "ds", {"a": "0 inf 0.5 inf 0.2\n0 1e308 0.5 1e308 0.2\n0 -inf 0.5 0.2 0.2\n"},
                     ["a"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load(root)
    assert len(ds.annotations) == 3  # B004 and F007 report them; the reader keeps the rows


def test_ascii_numbers_keep_working(tmp_path: Path) -> None:
    # an integral float class ("1.0") is what ultralytics' float parse accepts too
    assert problems_of(tmp_path, "1.0 .5 5e-1 +0.2 0.2", "1 0.5 0.5 0.2 0.2") == {}
