"""``check --predictions``: each prediction rule's fixture holds exactly its planted defects (no
other P code fires on the clean detections around them), and the readers, paths and messages
on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from detlint.cli import main
from detlint.rules import RULES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
P_CODES = sorted(code for code in RULES if code.startswith("P") and (FIXTURES / code / "expected.json").exists())
KEYS = ("file", "line", "pointer", "annotation")


def check(dataset: Path, predictions: Path, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", str(dataset), "--predictions", str(predictions), "--images", "none",
                                       "--no-cache", "--output-format", "json", *extra])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


# P013 (evaluation-readiness) summarises every predictions file, defect or not: the defect
# fixtures leave it out, and its own cases select it alone
SUMMARY = "P013"


def _selection(code: str) -> tuple[str, ...]:
    return ("--select", code) if code == SUMMARY else ("--select", "P", "--ignore", SUMMARY)


def _cases() -> list[tuple[str, dict]]:
    return [(code, case) for code in P_CODES
            for case in json.loads((FIXTURES / code / "expected.json").read_text())["cases"]]


@pytest.mark.parametrize(("code", "case"), _cases(), ids=lambda v: v if isinstance(v, str) else v["predictions"])
def test_only_the_planted_defect_fires(code: str, case: dict) -> None:
    _, report = check(FIXTURES / code / case["dataset"], FIXTURES / code / case["predictions"], *_selection(code))
    found = sorted((f["code"], *(f[k] for k in KEYS)) for f in report["findings"])
    assert found == sorted((code, *(e[k] for k in KEYS)) for e in case["findings"])


def test_clean_predictions_give_no_finding(tmp_path: Path) -> None:
    import make_prediction_fixtures as make

    (tmp_path / "preds.json").write_text(json.dumps(make.clean()))
    code, report = check(FIXTURES / "predictions_coco", tmp_path / "preds.json", *_selection("P"))
    assert (code, report["findings"]) == (0, [])


@pytest.fixture(autouse=True)
def _fixture_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))


def test_the_readme_example_is_what_detlint_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (FIXTURES.parents[1] / "README.md").read_text(encoding="utf-8")
    command = "detlint check fixtures/rules/predictions_coco --predictions fixtures/rules/predictions_demo.json"
    block = readme.split(f"$ {command} --images none\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(FIXTURES.parents[1])  # the paths as the README names them
    result = CliRunner().invoke(main, command.split()[1:] + ["--images", "none", "--no-cache"])
    assert result.stdout == block
