"""The command line contract: exit codes, selection, configuration, baselines, the other commands,
and stdout carrying only the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from detlint.cli import main
from detlint.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
RULE_FIXTURES = ROOT / "fixtures" / "rules"
DEMO = ROOT / "fixtures" / "demo"

# the catalog of DESIGN.md: codes are a contract
DESIGN_CODES = ["F001", "F002", "F003", "F004", "F005", "F006", "F007", "F008", "F009", "F010", "F011", "F012", "F013", "F014", "B001", "B002", "B003", "B004", "B005", "B006", "B007", "B008", "B009", "B012", "B013", "B014", "C001", "C002", "C003", "C004", "C005", "C006", "C007", "I001", "I002", "I003", "I004", "I005", "I006", "I007", "I008", "I009", "I010", "S001", "S002"]
DESIGN_CODES += ["B010", "B011", "F016", "F015", "F017", "F018", "F020"]  # segmentation geometry (polygon rules), allotted with the labelling-tool issue


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.stderr, result.stderr
    return result


def check_json(*args: str | Path) -> tuple[int, dict]:
    result = run("check", *args, "--output-format", "json", "--no-cache")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def codes(report: dict) -> set[str]:
    return {f["code"] for f in report["findings"]}


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """The demo dataset in a temporary folder (configs written next to it stay out of the repo)."""
    target = tmp_path / "project" / "data" / "demo"
    shutil.copytree(DEMO, target)
    return target


# --------------------------------------------------------------------------- exit codes


def test_exit_0_on_a_clean_dataset() -> None:
    result = run("check", RULE_FIXTURES / "yolo_clean", "--no-cache")
    assert result.exit_code == 0


def test_exit_1_on_the_demo_with_readable_findings() -> None:
    result = run("check", DEMO, "--no-cache")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any("street_002.txt:2: B002 box [120.0, 36.0, 168.0, 60.0] extends 8 px past the right edge "
               "(width 160)" in line for line in lines)
    for where, code in (("street_003.txt:2", "C001"), ("street_004.txt:2", "B001"),
                        ("street_005.txt:2", "F006"), ("street_006.jpg", "I005")):
        assert any(where + ": " + code in line for line in lines), (where, code)
    assert lines[-1].startswith("Found 4 errors, 1 info")


def exits_2(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.strip(), "a usage error explains itself on stderr"
    for fragment in fragments:
        assert fragment in result.stderr


def test_exit_2_for_a_path_that_does_not_exist(tmp_path: Path) -> None:
    exits_2(run("check", tmp_path / "nowhere"), "no such file or directory")


def test_exit_2_for_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello\n")
    result = run("check", tmp_path)
    from detlint.formats import every

    titles = [fmt.title for fmt in every()]  # every registered format (the registry grows)
    exits_2(result, f"not a {', '.join(titles[:-1])} or {titles[-1]} dataset")
    assert len(result.stderr.strip().splitlines()) == 1


def test_exit_2_for_an_unknown_output_format() -> None:
    exits_2(run("check", DEMO, "--output-format", "yaml"), "yaml")


def test_exit_2_for_a_config_file_that_does_not_parse(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text("select = [\n")
    exits_2(run("check", demo_copy), "detlint.toml")


def test_exit_2_for_an_unknown_config_key(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text("min-box-sise = 2\n")
    exits_2(run("check", demo_copy), "min-box-sise")


def test_exit_2_for_an_unknown_code_in_select() -> None:
    exits_2(run("check", DEMO, "--select", "B099"), "B099")
    exits_2(run("check", DEMO, "--ignore", "X1"), "X1")


def test_exit_2_for_a_coco_results_list(tmp_path: Path) -> None:
    detections = [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}] * 3
    results = tmp_path / "results.json"
    results.write_text(json.dumps(detections))
    exits_2(run("check", results), "results list")


# --------------------------------------------------------------------------- --fail-on, --select, --ignore


def test_fail_on_warning_and_info() -> None:
    f010_only = RULE_FIXTURES / "voc_origin0"  # one warning, nothing else
    assert run("check", f010_only, "--no-cache").exit_code == 0
    assert run("check", f010_only, "--no-cache", "--fail-on", "warning").exit_code == 1
    clean = RULE_FIXTURES / "yolo_clean"  # one info (a negative image)
    assert run("check", clean, "--no-cache", "--fail-on", "warning").exit_code == 0
    assert run("check", clean, "--no-cache", "--fail-on", "info").exit_code == 1


def test_select_and_ignore_by_code_and_prefix() -> None:
    _, report = check_json(DEMO, "--select", "B")
    assert codes(report) == {"B001", "B002"}
    _, report = check_json(DEMO, "--select", "B,C001", "--ignore", "B001")
    assert codes(report) == {"B002", "C001"}
    status, report = check_json(DEMO, "--ignore", "B,C,F")
    assert codes(report) == {"I005"} and status == 0


# --------------------------------------------------------------------------- configuration


def test_detlint_toml_beside_the_dataset(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text('ignore = ["B"]\n')
    _, report = check_json(demo_copy)
    assert not codes(report) & {"B001", "B002"}


def test_dot_detlint_toml(demo_copy: Path) -> None:
    (demo_copy / ".detlint.toml").write_text('select = ["C"]\n')
    _, report = check_json(demo_copy)
    assert codes(report) == {"C001"}


def test_pyproject_tool_detlint_above_the_dataset(demo_copy: Path) -> None:
    project = demo_copy.parents[1]
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.detlint]\nselect = ["F006"]\n')
    _, report = check_json(demo_copy)
    assert codes(report) == {"F006"}


def test_pyproject_without_a_detlint_table_is_skipped(demo_copy: Path) -> None:
    project = demo_copy.parents[1]
    (project / "detlint.toml").write_text('select = ["F006"]\n')
    (demo_copy.parent / "pyproject.toml").write_text('[project]\nname = "x"\n')
    _, report = check_json(demo_copy)
    assert codes(report) == {"F006"}


def test_the_nearest_config_wins(demo_copy: Path) -> None:
    project = demo_copy.parents[1]
    (project / "pyproject.toml").write_text('[tool.detlint]\nselect = ["F006"]\n')
    (demo_copy.parent / "detlint.toml").write_text('select = ["C001"]\n')
    _, report = check_json(demo_copy)
    assert codes(report) == {"C001"}


def test_the_command_line_overrides_the_config(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text('select = ["C001"]\nfail-on = "error"\n')
    _, report = check_json(demo_copy, "--select", "B001")
    assert codes(report) == {"B001"}
    (demo_copy / "detlint.toml").write_text('select = ["I005"]\nfail-on = "info"\n')
    assert run("check", demo_copy, "--no-cache").exit_code == 1
    assert run("check", demo_copy, "--no-cache", "--fail-on", "error").exit_code == 0


def test_explicit_config_file(demo_copy: Path, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('select = ["B002"]\n')
    _, report = check_json(demo_copy, "--config", config)
    assert codes(report) == {"B002"}
    exits_2(run("check", demo_copy, "--config", tmp_path / "missing.toml"), "missing.toml")


def test_rule_options_from_the_config(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text('select = ["B002"]\nout-of-image-tolerance = 10\n')
    status, report = check_json(demo_copy)
    assert codes(report) == set() and status == 0


def test_per_file_ignores(demo_copy: Path) -> None:
    (demo_copy / "detlint.toml").write_text('[per-file-ignores]\n"labels/val/*" = ["B001", "F"]\n')
    _, report = check_json(demo_copy)
    assert codes(report) == {"B002", "C001", "I005"}


# --------------------------------------------------------------------------- baseline


def test_baseline_reports_only_new_findings(demo_copy: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    result = run("check", demo_copy, "--no-cache", "--write-baseline", baseline)
    assert result.exit_code == 0 and baseline.is_file()
    status, report = check_json(demo_copy, "--baseline", baseline)
    assert report["findings"] == [] and status == 0
    label = demo_copy / "labels" / "train" / "street_001.txt"
    label.write_text(label.read_text() + "7 0.5 0.5 0.1 0.1\n")
    status, report = check_json(demo_copy, "--baseline", baseline)
    assert status == 1
    assert [(f["code"], f["file"], f["line"]) for f in report["findings"]] == [
        ("C001", "labels/train/street_001.txt", 3)]


def test_a_broken_baseline_is_a_usage_error(demo_copy: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text("not json")
    exits_2(run("check", demo_copy, "--baseline", baseline), "baseline")


# --------------------------------------------------------------------------- other commands


def test_rule_prints_the_documentation() -> None:
    result = run("rule", "B002")
    assert result.exit_code == 0
    assert result.stdout.startswith("B002 box-out-of-image (error; fix: unsafe)")
    assert "0.5 px" in result.stdout and "out-of-image-tolerance" in result.stdout
    assert run("rule", "box-out-of-image").stdout == result.stdout
    exits_2(run("rule", "B099"), "B099")


def test_rule_all_lists_every_design_code() -> None:
    result = run("rule", "--all")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    # R codes: the reserved range of trainer rules (--target), each naming its target; P codes
    # (predictions) and L codes (label issues ranked from them) run only with what they need; D
    # codes (changes between two versions) come from detlint diff alone
    reserved = ("R", "P", "L", "D")
    assert {c for c in listed if not c.startswith(reserved)} == {code for code in DESIGN_CODES if code in RULES}
    assert all(getattr(RULES[c], "TARGET", None) for c in listed if c.startswith("R"))
    assert all(getattr(RULES[c], "NEEDS", None) == "predictions" for c in listed if c.startswith("P"))
    assert all(getattr(RULES[c], "NEEDS", None) == "label-issues" for c in listed if c.startswith("L"))
    assert all(getattr(RULES[c], "NEEDS", None) == "diff" for c in listed if c.startswith("D"))
    assert set(DESIGN_CODES) - {"I002", "I003", "I004", "I007", "I008", "I009", "I010", "S002"} <= set(listed)
    b002 = next(line for line in result.stdout.splitlines() if line.startswith("B002"))
    assert "box-out-of-image" in b002 and "error" in b002


def test_stats_text_and_json() -> None:
    text = run("stats", DEMO)
    assert text.exit_code == 1  # the demo's malformed label line (F006) is left out, and said so
    assert text.stderr.endswith("stats leave out 1 label line that could not be parsed\n")
    assert "6 images" in text.stdout and "person" in text.stdout and "train" in text.stdout
    result = run("stats", DEMO, "--output-format", "json")
    stats = json.loads(result.stdout)
    assert stats["images"] == 6 and stats["format"] == "yolo"
    assert stats["classes"] == {"person": 3, "car": 4, "bicycle": 1}  # the zero-width box counts
    assert stats["unknown_class_annotations"] == 1
    assert stats["splits"]["train"]["images"] == 3 and stats["splits"]["val"]["unannotated_images"] == 1
    coco = json.loads(run("stats", RULE_FIXTURES / "coco_clean", "--output-format", "json").stdout)
    assert coco["images"] == 3 and coco["boxes"] == 4


def test_convert_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "keep.txt").write_text("mine\n")
    exits_2(run("convert", DEMO, destination, "--to", "coco"), "destination")
    assert [p.name for p in destination.iterdir()] == ["keep.txt"]


def test_convert_into_a_new_folder(tmp_path: Path) -> None:
    result = run("convert", RULE_FIXTURES / "yolo_clean", tmp_path / "coco", "--to", "coco")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the conversion summary is a log: stderr
    assert "converted" in result.stderr
    _, report = check_json(tmp_path / "coco")
    assert report["datasets"][0]["format"] == "coco" and report["datasets"][0]["images"] == 4


# --------------------------------------------------------------------------- stdout is the report only


def test_stdout_is_only_the_report() -> None:
    result = run("-v", "check", DEMO, "--output-format", "json", "--no-cache")
    report = json.loads(result.stdout)  # nothing else mixed in
    assert report["summary"] == {"error": 4, "warning": 0, "info": 1, "fixable": 2}
    assert "Traceback" not in result.stderr


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run("check", DEMO, "--output-format", "json", "-o", out, "--no-cache")
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(out.read_text())["summary"]["error"] == 4
