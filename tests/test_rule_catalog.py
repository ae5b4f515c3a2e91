"""The rule catalog, rule by rule: each rule has its fixture folder (``fixtures/rules/<CODE>/``)
whose ``expected.json`` lists exactly where it fires on real files, and each per-image rule
(``SCOPE = "image"``) says the same about an image whether it runs on the whole dataset or on
``ds.subset(rows)`` (what a pre-commit re-check does)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import detlint
from detlint.cli import main
from detlint.config import Config
from detlint.engine import run_rules
from detlint.rules import RULES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
CODE_FOLDER = re.compile(r"^[A-Z]\d{3}$")


def expected(code: str) -> dict:
    return json.loads((FIXTURES / code / "expected.json").read_text())


def _check(dataset: Path, images: str, target: str | None = None, predictions: Path | None = None,
           label_issues: int | None = None, diff_old: Path | None = None) -> list[dict]:
    # a trainer's rule (R codes, TARGET) runs only when its target is asked for; a prediction rule
    # (P codes) only with --predictions, a label-issue rule (L codes) only with --label-issues too
    extra = [*(["--target", target] if target else []), *(["--predictions", str(predictions)] if predictions else []),
             *(["--label-issues", str(label_issues)] if label_issues else [])]
    # a change between versions (D codes) is found by detlint diff OLD NEW, never by check
    command = ["diff", str(diff_old), str(dataset)] if diff_old else ["check", str(dataset), "--no-cache",
                                                                     "--images", images, *extra]
    result = CliRunner().invoke(main, [*command, "--output-format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["findings"]


def test_every_rule_has_a_fixture_folder_and_every_folder_is_a_rule() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and CODE_FOLDER.match(p.name)}
    assert folders == set(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_fires_exactly_where_its_fixture_says(code: str) -> None:
    doc = expected(code)
    assert (doc["name"], doc["severity"]) == (RULES[code].NAME, RULES[code].SEVERITY)
    assert doc["cases"], f"{code}: a rule needs at least one case where it fires"
    for case in doc["cases"]:
        predictions = FIXTURES / code / case["predictions"] if "predictions" in case else None
        diff_old = FIXTURES / code / case["diff_old"] if "diff_old" in case else None
        found = [f for f in _check(FIXTURES / code / case["dataset"], case["images"], case.get("target"), predictions,
                                   case.get("label_issues"), diff_old) if f["code"] == code]
        assert all((f["name"], f["severity"]) == (doc["name"], doc["severity"]) for f in found)
        if case.get("match") == "image":
            assert {f["image"] for f in found} == {e["image"] for e in case["findings"]}, case["dataset"]
        else:
            keys = ("file", "line", "pointer", "annotation")
            assert sorted(tuple(f[k] for k in keys) for f in found) == \
                sorted(tuple(e[k] for k in keys) for e in case["findings"]), case["dataset"]


IMAGE_SCOPED = sorted(code for code, rule in RULES.items() if getattr(rule, "SCOPE", None) == "image")
SUBSET_DATASETS = [("coco_boxes", "header"), ("coco_ids", "header"), ("voc_boxes", "header"),
                   ("yolo_rows", "header"), ("images_defects", "decode")]


def _about(findings: list, images: set[str]) -> set[tuple]:
    return {(f.code, f.file, f.line, f.pointer, f.annotation, f.image, f.message) for f in findings
            if f.code in IMAGE_SCOPED and f.image in images}


@pytest.mark.parametrize(("case", "images"), SUBSET_DATASETS)
def test_per_image_rules_say_the_same_on_a_subset(case: str, images: str) -> None:
    ds = detlint.load(FIXTURES / case)
    config = Config(images=images, select=IMAGE_SCOPED)
    whole = run_rules(ds, config)
    rows = np.arange(0, len(ds.images), 2)  # every other image
    names = {str(ds.images.path[r] or ds.images.file_name[r]) for r in rows.tolist()}
    part = run_rules(ds, config, focus=rows)
    assert _about(part, names) == _about(whole, names)
    assert _about(whole, names), f"{case}: no per-image finding on the chosen images, the test would prove nothing"
