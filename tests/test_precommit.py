"""pre-commit hooks: files mapped to their datasets, findings filtered to the passed files, the
hook definitions, the README's CI recipes, and a real ``pre-commit try-repo`` run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from detlint.checking import CheckRequest, run_check
from detlint.selection import dataset_of, plan_targets

REPO = Path(__file__).resolve().parents[1]


def _yolo(root: Path, bad: bool = False) -> Path:
    """data.yaml + images/ + labels/ with two images, one per split (train.txt, val.txt: ultralytics
    needs both keys); ``bad`` plants an out-of-image box in b.txt."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "data.yaml").write_text("path: .\ntrain: train.txt\nval: val.txt\nnames: [cat, dog]\n")
    (root / "train.txt").write_text("images/a.jpg\n")
    (root / "val.txt").write_text("images/b.jpg\n")
    for name in ("a", "b"):
        Image.new("RGB", (32, 24), "gray").save(root / "images" / f"{name}.jpg")
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.95 0.5 0.3 0.2\n")  # B002 in a.txt
    (root / "labels" / "b.txt").write_text("1 0.95 0.5 0.3 0.2\n" if bad else "1 0.5 0.5 0.3 0.2\n")
    return root


def _check(*paths: Path, fmt: str = "json") -> tuple[dict | str, int]:
    text, code = run_check(CheckRequest(paths=list(paths), output_format=fmt, images="none", use_cache=False))
    return (json.loads(text) if fmt == "json" else text), code


def _located(report: dict) -> set[tuple[str, str | None]]:
    return {(f["code"], f["file"]) for f in report["findings"]}


# ----------------------------------------------------------------------------- root discovery


def test_label_file_reports_only_its_own_and_dataset_findings(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds", bad=True)
    report, code = _check(root / "labels" / "b.txt")
    assert code == 1
    assert ("B002", "labels/b.txt") in _located(report)
    assert all(f["file"] in (None, "labels/b.txt", "data.yaml") for f in report["findings"])
    whole, _ = _check(root)
    assert ("B002", "labels/a.txt") in _located(whole)


def test_class_map_change_reports_every_file(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds", bad=True)
    report, _ = _check(root / "data.yaml", root / "labels" / "b.txt")
    assert {("B002", "labels/a.txt"), ("B002", "labels/b.txt")} <= _located(report)
    assert len(report["datasets"]) == 1  # one dataset, checked once


def test_single_data_yaml_and_coco_json_work_as_before(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds", bad=True)
    (by_yaml, code_yaml), (by_folder, code_folder) = _check(root / "data.yaml"), _check(root)
    assert by_yaml["findings"] == by_folder["findings"] and code_yaml == code_folder == 1
    coco = tmp_path / "coco"
    coco.mkdir()
    Image.new("RGB", (32, 24)).save(coco / "a.jpg")
    (coco / "instances.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 2, 30, 5], "area": 150,
                         "iscrowd": 0}],
        "categories": [{"id": 1, "name": "cat"}]}))
    report, code = _check(coco / "instances.json")
    assert code == 1 and ("B002", "instances.json") in _located(report)


def test_files_of_no_dataset_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("hello\n")
    (tmp_path / "package.json").write_text('{"name": "x"}')
    (tmp_path / "ci.yml").write_text("jobs: {}\n")
    (tmp_path / ".git").mkdir()
    report, code = _check(tmp_path / "README.txt", tmp_path / "package.json", tmp_path / "ci.yml")
    assert code == 0 and report["findings"] == [] and report["datasets"] == []


def test_dataset_at_the_repository_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _yolo(tmp_path, bad=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "README.txt").write_text("about this dataset\n")
    monkeypatch.chdir(tmp_path)
    report, code = _check(Path("labels/b.txt"), Path("README.txt"))
    assert code == 1 and ("B002", "labels/b.txt") in _located(report)
    assert report["datasets"][0]["path"] == "."
    text, _ = _check(Path("labels/b.txt"), fmt="concise")
    assert "labels/b.txt:1: B002" in text and str(tmp_path) not in text


def test_roots_of_each_layout(tmp_path: Path) -> None:
    # ultralytics split folders under a data.yaml two levels up
    ultra = tmp_path / "ultra"
    (ultra / "train" / "labels").mkdir(parents=True)
    (ultra / "data.yaml").write_text("train: train/images\nnames: [a]\n")
    (ultra / "train" / "labels" / "x.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert dataset_of(ultra / "train" / "labels" / "x.txt")[1] == ultra
    # VOC devkit: the parent of Annotations/
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "Annotations" / "1.xml").write_text("<annotation><filename>1.jpg</filename></annotation>")
    assert dataset_of(voc / "Annotations" / "1.xml")[1] == voc
    # darknet obj.data
    dark = tmp_path / "dark"
    (dark / "obj_train_data").mkdir(parents=True)
    (dark / "obj.data").write_text("classes = 1\nnames = obj.names\n")
    (dark / "obj.names").write_text("a\n")
    (dark / "obj_train_data" / "1.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert dataset_of(dark / "obj_train_data" / "1.txt")[1] == dark
    assert dataset_of(dark / "obj.names")[1] == dark
    # a configured dataset holds the file
    repo = tmp_path / "repo"
    (repo / "data" / "set1" / "sub").mkdir(parents=True)
    (repo / "detlint.toml").write_text('datasets = ["data/set1"]\n')
    (repo / "data" / "set1" / "sub" / "1.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert dataset_of(repo / "data" / "set1" / "sub" / "1.txt")[1] == repo / "data" / "set1"
    # not annotations
    assert dataset_of(tmp_path / "README.txt") is None
    (tmp_path / "other.xml").write_text("<project/>")
    assert dataset_of(tmp_path / "other.xml") is None


def test_plan_keeps_folders_and_groups_files(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds")
    targets = plan_targets([root, root / "labels" / "a.txt", root / "labels" / "b.txt"])
    assert [t.passed for t in targets][0] is None
    assert len(targets) == 2 and len(targets[1].passed or ()) == 2


def test_voc_xml_file_in_a_devkit(tmp_path: Path) -> None:
    voc = tmp_path / "voc"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    for name, xmax in (("ok", 20), ("bad", 60)):
        Image.new("RGB", (40, 30)).save(voc / "JPEGImages" / f"{name}.jpg")
        (voc / "Annotations" / f"{name}.xml").write_text(
            f"<annotation><filename>{name}.jpg</filename><size><width>40</width><height>30</height></size>"
            f"<object><name>cat</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>{xmax}</xmax><ymax>20</ymax>"
            "</bndbox></object></annotation>")
    report, code = _check(voc / "Annotations" / "ok.xml")
    assert code == 0 and not any(f["code"] == "B002" for f in report["findings"])
    report, code = _check(voc / "Annotations" / "bad.xml")
    assert code == 1 and ("B002", "Annotations/bad.xml") in _located(report)


# ------------------------------------------------------------------------- hooks and recipes


def test_hook_definitions() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"detlint", "detlint-dataset", "detlint-diff"}
    files = re.compile(hooks["detlint"]["files"])
    for name in ("labels/train/1.txt", "Annotations/1.xml", "data.yaml", "a/instances.json", "obj.data",
                 "obj.names", "x.yml"):
        assert files.search(name), name
    assert not files.search("images/1.jpg")
    assert hooks["detlint"]["language"] == "python" and hooks["detlint"]["require_serial"] is True
    assert hooks["detlint-dataset"]["pass_filenames"] is False and hooks["detlint-dataset"]["always_run"] is True
    # detlint diff compares a dataset with a revision named in args: run by hand (manual stage)
    assert hooks["detlint-diff"]["entry"] == "detlint diff" and hooks["detlint-diff"]["stages"] == ["manual"]
    assert hooks["detlint-diff"]["pass_filenames"] is False


def test_readme_yaml_snippets_parse() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```ya?ml\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) >= 3  # pre-commit config, GitHub Actions, GitLab CI
    parsed = [yaml.safe_load(block) for block in blocks]
    text = "\n".join(blocks)
    assert "github/codeql-action/upload-sarif" in text and "--output-format github" in text
    assert "codequality" in text and "gl-code-quality-report.json" in text
    assert any(isinstance(p, dict) and "repos" in p for p in parsed)


def test_check_path_does_not_import_torch_or_matplotlib(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds", bad=True)
    code = ("import sys; from detlint.cli import main\n"
            "try:\n    main(['check', sys.argv[1], '--images', 'header'])\n"
            "except SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'matplotlib'))\n"
            "print('IMPORTED', bad)")
    done = subprocess.run([sys.executable, "-c", code, str(root / "labels" / "b.txt")], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "PRE_COMMIT": "1"})
    assert "IMPORTED []" in done.stdout, done.stdout + done.stderr


def test_pre_commit_env_gives_concise_output_without_progress(tmp_path: Path) -> None:
    root = _yolo(tmp_path / "ds", bad=True)
    done = subprocess.run([sys.executable, "-m", "detlint.cli", "check", str(root / "labels" / "b.txt")],
                          capture_output=True, text=True, env={**os.environ, "PRE_COMMIT": "1"})
    assert done.returncode == 1
    assert re.search(r"labels/b\.txt:1: B002 ", done.stdout)
    assert "\r" not in done.stderr and "it/s" not in done.stderr


# --------------------------------------------------------------------------- pre-commit try-repo


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


OFFLINE_MARKERS = ("Could not find a version", "No matching distribution", "Temporary failure in name resolution",
                   "Failed to establish a new connection", "Network is unreachable", "ConnectionError",
                   "ProxyError", "Max retries exceeded", "Name or service not known")


def _snapshot_of_this_checkout(dst: Path) -> Path:
    """This working tree (tracked and new files, not ignored ones) committed in a fresh repository.

    ``pre-commit try-repo`` on a dirty checkout snapshots tracked changes only; a copy makes the
    test run exactly the code under test.
    """
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("the project is not a git checkout (pre-commit needs one)")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dst / name)
    _git(dst, "init", "-q")
    _git(dst, "add", "-A")
    _git(dst, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "snapshot")
    return dst


def test_pre_commit_try_repo(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    hooks_repo = _snapshot_of_this_checkout(tmp_path / "detlint-src")
    repo = tmp_path / "annotations"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "detlint test")
    _git(repo, "config", "user.email", "test@example.com")
    _yolo(repo, bad=True)
    (repo / "README.txt").write_text("annotation repository\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "dataset")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        selection = ["--files", *files] if files else ["--all-files"]
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks_repo), "detlint", *selection],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=1200)

    first = try_repo("labels/b.txt", "README.txt")
    output = first.stdout + first.stderr
    if first.returncode not in (0, 1) or "An unexpected error has occurred" in output:
        if any(marker in output for marker in OFFLINE_MARKERS):
            pytest.skip("pre-commit could not build the hook environment offline (no access to PyPI)")
        pytest.fail(output[-4000:])
    assert first.returncode == 1, output[-4000:]
    assert "labels/b.txt:1: B002" in output and "labels/a.txt" not in output
    (repo / "labels" / "b.txt").write_text("1 0.5 0.5 0.3 0.2\n")
    second = try_repo("labels/b.txt")
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    every = try_repo()
    assert every.returncode == 1 and "labels/a.txt:2: B002" in every.stdout + every.stderr


def test_marker_names_of_a_big_folder_are_cached_by_its_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A labels folder of 2,000+ files is listed once; a new marker in it (a new mtime) is seen."""
    import os

    from detlint import selection as precommit

    monkeypatch.setenv("DETLINT_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "repo" / "ds"
    labels = root / "labels"
    labels.mkdir(parents=True)
    (root / "data.yaml").write_text("train: images\nval: images\nnames: [cat]\n")
    for i in range(2100):
        (labels / f"{i}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    old = 1_600_000_000 * 10**9
    os.utime(labels, ns=(old, old))
    listed: list[str] = []
    real = precommit._MarkerNames.listing
    monkeypatch.setattr(precommit._MarkerNames, "listing", lambda self, folder: listed.append(folder) or real(self, folder))
    label = labels / "7.txt"
    assert precommit.plan_targets([label], use_cache=True)[0].path.resolve() == root.resolve()
    assert str(labels) in listed
    listed.clear()
    assert precommit.plan_targets([label], use_cache=True)[0].path.resolve() == root.resolve()
    assert str(labels) not in listed  # from the cache
    (labels / "data.yaml").write_text("train: .\nval: .\nnames: [dog]\n")  # now the labels folder is a root
    assert precommit.plan_targets([label], use_cache=True)[0].path.resolve() == labels.resolve()
