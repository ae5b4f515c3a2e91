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


def test_hostile_prediction_files_give_located_findings_or_one_line(tmp_path: Path) -> None:
    import os

    secret = tmp_path / "secret.txt"
    secret.write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    folder = tmp_path / "preds" / "labels"
    folder.mkdir(parents=True)
    (folder / "a.txt").symlink_to(secret)  # leaves the predictions folder: not read
    os.mkfifo(folder / "b.txt")  # would block a plain open: refused
    (folder / "c.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\x1b[2J\n")
    _, report = check(FIXTURES / "predictions_yolo", tmp_path / "preds", "--select", "P001")
    messages = {Path(f["file"]).name: f["message"] for f in report["findings"]}
    assert "outside the predictions folder" in messages["a.txt"] and "FIFO" in messages["b.txt"]
    assert "not a number" in messages["c.txt"]
    (tmp_path / "deep.json").write_text("[" * 100_000)
    _, report = check(FIXTURES / "predictions_coco", tmp_path / "deep.json", "--select", "P001")
    assert [f["pointer"] for f in report["findings"]] == [None] and report["findings"][0]["line"] == 1


def test_control_characters_in_ids_never_reach_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "preds.json").write_text(json.dumps([{"image_id": "\x1b[2J\nP999 fake", "category_id": 1,
                                                      "bbox": [1, 2, 3, 4], "score": 0.5}]))
    result = CliRunner().invoke(main, ["check", str(FIXTURES / "predictions_coco"), "--predictions",
                                       str(tmp_path / "preds.json"), "--images", "none", "--no-cache"])
    assert "\x1b" not in result.stdout and "\nP999" not in result.stdout
    assert "P002" in result.stdout


def test_one_dataset_and_existing_predictions_or_one_line(tmp_path: Path) -> None:
    two = CliRunner().invoke(main, ["check", str(FIXTURES / "predictions_coco"), str(FIXTURES / "predictions_coco"),
                                    "--predictions", str(FIXTURES / "P003" / "preds.json")])
    missing = CliRunner().invoke(main, ["check", str(FIXTURES / "predictions_coco"), "--predictions",
                                        str(tmp_path / "nope.json")])
    alone = CliRunner().invoke(main, ["check", str(FIXTURES / "predictions_coco"), "--label-issues"])
    for result, words in ((two, "exactly one PATH"), (missing, "no such file"), (alone, "--predictions FILE")):
        assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output
