"""Baselines and ``fail-on`` belong to one dataset: checking several datasets together judges each by
its own config, exactly as checking it alone does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

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
