"""Reporters: every output format renders, validates against its schema, and escapes properly."""

from __future__ import annotations

import hashlib
import json
import types
from pathlib import Path

import jsonschema
import pytest

import detlint
import detlint.rules
from detlint.errors import UsageError
from detlint.findings import Finding, Fix
from detlint.report import REPORTERS, Report, render
from detlint.report import github as github_report

REPO = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"


def _rule(code: str, name: str, severity: str, fix: str | None, summary: str) -> types.ModuleType:
    module = types.ModuleType(f"fake_{code}", f"{name} ({code}): {summary}\n\nWhy it matters: ``{name}``.\n")
    module.CODE, module.NAME, module.SEVERITY, module.FIX = code, name, severity, fix
    return module


FAKE_RULES = {rule.CODE: rule for rule in (
    _rule("B002", "box-out-of-image", "error", "unsafe", "a box extends past its image."),
    _rule("B004", "non-finite-box", "error", "safe", "a box coordinate is NaN or infinite."),
    _rule("F001", "unparseable-file", "error", None, "a file cannot be parsed."),
    _rule("B005", "tiny-box", "warning", None, "a box side is below min-box-size."),
    _rule("I005", "unannotated-image", "info", None, "an image has no annotations."),
)}


@pytest.fixture(autouse=True)
def fake_rules(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A small rule catalog, so these tests do not depend on the real rules' wording."""
    monkeypatch.setattr(detlint.rules, "RULES", FAKE_RULES, raising=False)
    return FAKE_RULES


def sample_findings() -> list[Finding]:
    return [
        Finding("B005", "box side 0.4 px < 1 px", file="labels/a.txt", line=3, image="images/a.jpg",
                annotation="3", dataset="data/yolo"),
        Finding("B002", "box [600.0, 10.0, 700.5, 90.0] extends 60.5 px past the right edge (width 640)",
                file="Annotations/000123.xml", line=14, image="JPEGImages/000123.jpg", annotation="3",
                fix=Fix("unsafe", "clip to the image"), dataset="data/voc"),
        Finding("B004", "box has NaN coordinate", file="annotations/train.json",
                pointer="/annotations/7/bbox", image="img 1.jpg", annotation="42",
                fix=Fix("safe", "drop the annotation"), dataset="data/coco"),
        Finding("F001", "Expecting ',' delimiter", file="annotations/bad.json", line=2, column=5,
                dataset="data/coco"),
        Finding("I005", "image has no annotations", file="odd name,50%:#.txt", image="odd.jpg",
                dataset="data/yolo"),
    ]


def sample_report(**kwargs) -> Report:
    datasets = [{"path": "data/voc", "format": "voc", "images": 2, "annotations": 5, "categories": 3},
                {"path": "data/coco", "format": "coco", "images": 4, "annotations": 9, "categories": 2}]
    return Report(findings=kwargs.pop("findings", sample_findings()), datasets=datasets, **kwargs)


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_every_format_renders_and_handles_no_findings(fmt: str) -> None:
    assert render(fmt, sample_report()).endswith("\n") or fmt == "github"
    assert isinstance(render(fmt, sample_report(findings=[])), str)


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown output format 'xml'"):
        render("xml", sample_report())


def test_concise_lines_are_sorted_located_and_summarised() -> None:
    lines = render("concise", sample_report()).splitlines()
    assert lines == [
        "data/coco/annotations/bad.json:2: F001 Expecting ',' delimiter",
        "data/coco/annotations/train.json#/annotations/7/bbox: B004 box has NaN coordinate",
        "data/voc/Annotations/000123.xml:14: B002 box [600.0, 10.0, 700.5, 90.0] extends 60.5 px past "
        "the right edge (width 640)",
        "data/yolo/labels/a.txt:3: B005 box side 0.4 px < 1 px",
        "data/yolo/odd name,50%:#.txt: I005 image has no annotations",
        "Found 3 errors, 1 warning, 1 info (1 fixable with --fix, 1 more fixable with --fix --unsafe-fixes).",
    ]


def test_concise_summary_variants() -> None:
    assert render("concise", sample_report(findings=[])) == "All checks passed.\n"
    warning_only = [Finding("B005", "tiny", file="a.txt", line=1)]
    assert render("concise", sample_report(findings=warning_only)).splitlines() == [
        "a.txt:1: B005 tiny", "Found 1 warning. None at or above --fail-on error."]
    assert render("concise", sample_report(findings=warning_only, fail_on="warning")).splitlines()[-1] == (
        "Found 1 warning.")


def test_dataset_given_as_a_file_resolves_to_its_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    (tmp_path / "coco" / "annotations" / "train.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    finding = Finding("B004", "nan", file="annotations/train.json", pointer="/annotations/0/bbox",
                      dataset="coco/annotations/train.json")
    assert render("concise", sample_report(findings=[finding])).splitlines()[0] == (
        "coco/annotations/train.json#/annotations/0/bbox: B004 nan")


def test_full_shows_the_source_line_pointer_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xml = tmp_path / "voc" / "Annotations" / "1.xml"
    xml.parent.mkdir(parents=True)
    xml.write_text("<annotation>\n  <object>\n\t<xmax>700.5</xmax>\n  </object>\n</annotation>\n")
    monkeypatch.chdir(tmp_path)
    findings = [
        Finding("B002", "past the right edge", file="Annotations/1.xml", line=3, image="JPEGImages/1.jpg",
                annotation="0", fix=Fix("unsafe", "clip to the image"), dataset="voc"),
        Finding("F001", "bad token", file="Annotations/1.xml", line=2, column=3, dataset="voc"),
        Finding("B004", "nan", file="train.json", pointer="/annotations/7/bbox", annotation="42",
                dataset="gone"),
    ]
    text = render("full", sample_report(findings=findings))
    assert text.split("\n\n") == [
        "gone/train.json#/annotations/7/bbox: B004 non-finite-box [error] nan\n"
        "  = at: /annotations/7/bbox\n"
        "  = annotation: 42",
        "voc/Annotations/1.xml:2: F001 unparseable-file [error] bad token\n"
        "  |\n"
        "2 |   <object>\n"
        "  |   ^",
        "voc/Annotations/1.xml:3: B002 box-out-of-image [error] past the right edge\n"
        "  |\n"
        "3 |     <xmax>700.5</xmax>\n"
        "  |     ^^^^^^^^^^^^^^^^^^\n"
        "  = image: JPEGImages/1.jpg, annotation: 0\n"
        "  = fix (unsafe): clip to the image",
        "Found 3 errors (1 fixable with --fix --unsafe-fixes).\n",
    ]


def test_json_matches_the_contract_and_its_schema() -> None:
    document = json.loads(render("json", sample_report()))
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(document)
    assert document["tool"] == {"name": "detlint", "version": detlint.__version__}
    assert document["datasets"][0]["path"] == "data/voc"
    assert document["summary"] == {"error": 3, "warning": 1, "info": 1, "fixable": 2}
    b002 = next(f for f in document["findings"] if f["code"] == "B002")
    assert b002 == {
        "code": "B002", "name": "box-out-of-image", "severity": "error",
        "message": "box [600.0, 10.0, 700.5, 90.0] extends 60.5 px past the right edge (width 640)",
        "file": "Annotations/000123.xml", "line": 14, "pointer": None,
        "image": "JPEGImages/000123.jpg", "annotation": "3",
        "fix": {"applicability": "unsafe", "description": "clip to the image"}}


def test_json_schema_rejects_what_breaks_the_contract() -> None:
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    document = json.loads(render("json", sample_report()))
    validator = jsonschema.Draft7Validator(schema)
    for key, bad in (("code", "X12"), ("severity", "fatal"), ("line", 0), ("annotation", 3)):
        broken = json.loads(json.dumps(document))
        broken["findings"][0][key] = bad
        assert not validator.is_valid(broken), key
    broken = json.loads(json.dumps(document))
    broken["findings"][1]["fix"]["applicability"] = "maybe"
    assert not validator.is_valid(broken)


@pytest.fixture
def sarif_validator() -> jsonschema.Draft4Validator:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF schema not found at {SARIF_SCHEMA} (needs the shared/ folder beside the repo)")
    return jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text()))


def test_sarif_is_valid_and_fit_for_code_scanning(sarif_validator: jsonschema.Draft4Validator) -> None:
    document = json.loads(render("sarif", sample_report()))
    sarif_validator.validate(document)
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "detlint" and driver["version"] == detlint.__version__
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert sorted(r["id"] for r in rules) == sorted(FAKE_RULES)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[
            FAKE_RULES[rule["id"]].SEVERITY]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    b002 = next(r for r in rules if r["id"] == "B002")
    assert b002["shortDescription"]["text"] == "a box extends past its image."
    assert "`box-out-of-image`" in b002["help"]["markdown"]
    assert b002["defaultConfiguration"]["level"] == "error"
    by_code = {r["ruleId"]: r for r in run["results"]}
    coco = by_code["B004"]["locations"][0]
    assert coco["physicalLocation"] == {"artifactLocation": {"uri": "data/coco/annotations/train.json",
                                                             "uriBaseId": "%SRCROOT%"}}
    assert coco["logicalLocations"] == [{"fullyQualifiedName": "/annotations/7/bbox", "kind": "object"}]
    assert by_code["F001"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 5}
    odd = by_code["I005"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert odd == "data/yolo/odd%20name%2C50%25%3A%23.txt"


def test_sarif_fingerprints_are_stable_and_distinct(sarif_validator: jsonschema.Draft4Validator) -> None:
    twice = sample_findings() + [Finding("B005", "another", file="labels/a.txt", line=3, annotation="3",
                                         dataset="data/yolo")]
    first = json.loads(render("sarif", sample_report(findings=twice)))
    again = json.loads(render("sarif", sample_report(findings=list(reversed(twice)))))
    sarif_validator.validate(first)
    prints = [r["partialFingerprints"]["detlintFindingKey/v1"] for r in first["runs"][0]["results"]]
    assert len(set(prints)) == len(prints)
    assert prints == [r["partialFingerprints"]["detlintFindingKey/v1"] for r in again["runs"][0]["results"]]
    moved = Finding("B002", "same box, message reworded", file="Annotations/000123.xml", line=15,
                    annotation="3", dataset="data/voc")
    moved_print = json.loads(render("sarif", sample_report(findings=[moved])))["runs"][0]["results"][0]
    assert moved_print["partialFingerprints"]["detlintFindingKey/v1"] in prints


def test_sarif_with_the_real_rule_catalog(monkeypatch: pytest.MonkeyPatch,
                                          sarif_validator: jsonschema.Draft4Validator) -> None:
    monkeypatch.undo()
    catalog = getattr(detlint.rules, "RULES", None)
    if not catalog:
        pytest.skip("detlint.rules.RULES is not there yet")
    findings = [Finding(code, f"{code} here", file="a.txt", line=1) for code in catalog]
    document = json.loads(render("sarif", sample_report(findings=findings)))
    sarif_validator.validate(document)
    for rule in document["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["name"] == catalog[rule["id"]].NAME


def test_github_commands_and_escaping() -> None:
    findings = [
        Finding("B002", "50% past\r\nthe edge", file="dir,a:b/x%.xml", line=14, dataset="data/voc"),
        Finding("B004", "nan", file="annotations/train.json", pointer="/annotations/7/bbox", dataset="d"),
        Finding("B005", "tiny", file="a.txt", line=2, column=3),
        Finding("I005", "no annotations", file="b.txt"),
    ]
    assert render("github", sample_report(findings=findings)).splitlines() == [
        "::warning file=a.txt,line=2,col=3,title=B005 tiny-box::tiny",
        "::notice file=b.txt,title=I005 unannotated-image::no annotations",
        "::error file=d/annotations/train.json,title=B004 non-finite-box::nan (at /annotations/7/bbox)",
        "::error file=data/voc/dir%2Ca%3Ab/x%25.xml,line=14,title=B002 box-out-of-image::50%25 past%0D%0Athe edge",
    ]
    assert github_report.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_gitlab_code_quality_is_valid_with_unique_fingerprints() -> None:
    findings = sample_findings() + [Finding("B005", "again", file="labels/a.txt", line=3, annotation="3",
                                            dataset="data/yolo")]
    issues = json.loads(render("gitlab", sample_report(findings=findings)))
    assert isinstance(issues, list) and len(issues) == len(findings)
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert len(issue["fingerprint"]) == 32 and int(issue["fingerprint"], 16) >= 0
        assert issue["severity"] in {"blocker", "critical", "major", "minor", "info"}
        assert issue["location"]["lines"]["begin"] >= 1
    b002 = next(i for i in issues if i["check_name"].startswith("B002"))
    assert b002["severity"] == "critical"
    assert b002["location"] == {"path": "data/voc/Annotations/000123.xml", "lines": {"begin": 14}}
    assert {i["severity"] for i in issues} == {"critical", "minor", "info"}
    expected = hashlib.md5("\0".join(("B002", "data/voc/Annotations/000123.xml", "3", "1")).encode()).hexdigest()
    assert b002["fingerprint"] == expected


def test_full_skips_binary_and_missing_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "img.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0\nline two\n")
    monkeypatch.chdir(tmp_path)
    findings = [Finding("I005", "no annotations", file="img.jpg", line=2, dataset="."),
                Finding("B005", "tiny", file="gone.txt", line=1, dataset=".")]
    assert render("full", sample_report(findings=findings)).split("\n\n") == [
        "gone.txt:1: B005 tiny-box [warning] tiny",
        "img.jpg:2: I005 unannotated-image [info] no annotations",
        "Found 1 warning, 1 info. None at or above --fail-on error.\n",
    ]
