"""``--fix`` ends with a summary on stderr, ``--diff`` exits 1 when it would change a file, as
ruff does (#15 item 13); stdout keeps carrying only the report or the diff."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from helpers import make_yolo

from detlint.cli import main

FINE = "0 0.5 0.5 0.2 0.2\n"
ZERO_WIDTH = "0 0.3 0.3 0.0 0.1\n"  # B001, safe fix: drop
NAN = "0 0.5 nan 0.2 0.2\n"  # B004, unsafe fix: drop


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--no-cache"])
    return result.exit_code, result.stdout, result.stderr


def test_fix_summary_counts_fixes_files_and_what_remains(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "ds", {"a": FINE + ZERO_WIDTH + ZERO_WIDTH, "b": ZERO_WIDTH + NAN, "c": FINE},
                     ["thing"])
    status, stdout, stderr = _run("check", str(root), "--fix", "--output-format", "json")
    assert stderr.strip().splitlines()[-1] == ("fixed 3 findings in 2 files, 1 remaining "
                                               "(1 fixable with --unsafe-fixes)")
    assert [f["code"] for f in json.loads(stdout)["findings"]] == ["B004"]  # stdout: the report alone
    assert status == 1
    status, _, stderr = _run("check", str(root), "--fix", "--unsafe-fixes")
    # b.txt has no box left: its I005 (info) remains
    assert stderr.strip().splitlines()[-1] == "fixed 1 finding in 1 file, 1 remaining"
    assert status == 0
    status, _, stderr = _run("check", str(root), "--fix")
    assert stderr.strip().splitlines()[-1] == "fixed 0 findings in 0 files, 1 remaining"


def test_no_summary_without_fix(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "ds", {"a": FINE + ZERO_WIDTH}, ["thing"])
    _, _, stderr = _run("check", str(root))
    assert "fixed" not in stderr


def test_diff_exits_1_when_it_would_change_a_file_and_0_when_not(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "ds", {"a": FINE + ZERO_WIDTH, "b": NAN}, ["thing"])
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    status, stdout, stderr = _run("check", str(root), "--diff")
    assert status == 1
    assert stdout.startswith("--- a/labels/train/a.txt\n") and "-0 0.3 0.3 0.0 0.1\n" in stdout
    assert stderr.strip().splitlines()[-1] == "would fix 1 finding in 1 file (1 fixable with --unsafe-fixes)"
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    clean = make_yolo(tmp_path / "clean", {"a": FINE}, ["thing"])
    assert _run("check", str(clean), "--diff")[:2] == (0, "")
    # findings whose fixes are all unsafe change nothing without --unsafe-fixes: exit 0
    unsafe_only = make_yolo(tmp_path / "unsafe", {"a": FINE + NAN}, ["thing"])
    assert _run("check", str(unsafe_only), "--diff")[0] == 0
    assert _run("check", str(unsafe_only), "--diff", "--unsafe-fixes")[0] == 1


def test_the_help_documents_the_summary_and_the_diff_status() -> None:
    text = " ".join(CliRunner().invoke(main, ["check", "--help"]).stdout.split())
    assert "fixed N findings in M files, K remaining" in text
    assert "exit 1 when it would change a file" in text
