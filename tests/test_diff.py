"""detlint diff on real git repositories: a YOLO and a COCO dataset committed, then changed in
planted ways; the diff reports exactly the planted changes, folder against folder and against a
git revision (read from blobs, the working tree untouched)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from detlint.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "rules"
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
KEYS = ("code", "file", "line", "pointer", "annotation")


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def diff_json(*args: str | Path) -> tuple[int, dict]:
    result = run("diff", *args, "--output-format", "json")
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    return result.exit_code, doc


def found(doc: dict) -> set[tuple]:
    return {tuple(f[k] for k in KEYS) for f in doc["findings"]}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                          capture_output=True, text=True, check=True)
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def replace_tree(target: Path, source: Path) -> None:
    """``source``'s files in place of ``target``'s, each written now: ``copytree``'s default would
    keep the fixtures' mtimes, and an edit of the same size, the same mtime second and a reused
    inode is one that git's own stat check (``git status`` too) takes for unchanged."""
    shutil.rmtree(target)
    shutil.copytree(source, target, copy_function=shutil.copyfile)


YOLO_PLANTED = {
    ("D001", "labels/val/f.txt", None, None, None),
    ("D002", "labels/val/e.txt", None, None, None),
    ("D003", "labels/train/c_renamed.txt", None, None, None),
    ("D004", "labels/train/d.txt", None, None, None),
    ("D005", "labels/train/b.txt", 1, None, "1"),
    ("D006", "labels/train/b.txt", 1, None, "1"),
    ("D007", "labels/train/a.txt", 1, None, "1"),
    ("D008", "labels/train/a.txt", 2, None, "2"),
    ("D009", "data.yaml", 5, None, None),
}


def test_yolo_folders_give_exactly_the_planted_changes() -> None:
    old, new = FIXTURES / "diff_yolo_old", FIXTURES / "diff_yolo_new"
    code, doc = diff_json(old, new)
    assert code == 0
    assert found(doc) == YOLO_PLANTED
    summary = doc["diff"]
    assert summary["images"] == {"matched": 4, "added": 1, "removed": 1, "renamed": 1, "split_changed": 1}
    assert summary["boxes"] == {"unchanged": 2, "added": 1, "removed": 1, "moved": 1, "relabelled": 1,
                                "attribute_changed": 0}
    # boxes of the added (f: a dog) and removed (e: a cat) images count in + and -
    assert summary["classes"]["dog"] == {"old": 2, "new": 2, "added": 1, "removed": 0, "moved": 0, "relabelled": 1}
    assert summary["classes"]["cat"] == {"old": 3, "new": 3, "added": 1, "removed": 1, "moved": 1, "relabelled": 0}
    moved = next(f for f in doc["findings"] if f["code"] == "D007")
    assert "IoU 0.88" in moved["message"] and "(+1.0, +0.0) px" in moved["message"]


def test_removals_are_located_in_the_old_version() -> None:
    result = run("diff", FIXTURES / "diff_yolo_old", FIXTURES / "diff_yolo_new")
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{FIXTURES / 'diff_yolo_old'}/labels/train/b.txt:1: D006") for line in lines)
    assert any(line.startswith(f"{FIXTURES / 'diff_yolo_new'}/labels/train/b.txt:1: D005") for line in lines)
    assert "| class | old | new | + | - | moved | relabelled |" in lines


@pytest.fixture()
def yolo_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copytree(FIXTURES / "diff_yolo_old", repo / "data")
    (repo / "README.md").write_text("an annotation repository\n")
    commit_all(repo, "v1")
    replace_tree(repo / "data", FIXTURES / "diff_yolo_new")
    return repo


def test_rev_of_the_working_tree_matches_the_folder_diff(yolo_repo: Path) -> None:
    before = git(yolo_repo, "status", "--porcelain")
    _, doc = diff_json(yolo_repo / "data", "--rev", "HEAD")
    assert found(doc) == YOLO_PLANTED
    assert git(yolo_repo, "status", "--porcelain") == before  # nothing checked out, stashed or staged
    assert not list((yolo_repo / ".git").glob("detlint-diff-*"))  # the rebuilt revision is gone
    # only the changed blobs were read: data.yaml, a.txt, b.txt, the c/d/e files that moved or went
    changed = git(yolo_repo, "diff", "--name-only", "HEAD", "--", "data").split()
    assert 0 < doc["diff"]["blobs_read"] <= len(changed)
    assert doc["diff"]["old"] == f"{yolo_repo / 'data'}@HEAD"


def test_rev_between_commits(yolo_repo: Path) -> None:
    commit_all(yolo_repo, "v2")
    _, doc = diff_json(yolo_repo / "data", "--rev", "HEAD~1")
    assert found(doc) == YOLO_PLANTED
    _, same = diff_json(yolo_repo / "data", "--rev", "HEAD")
    assert same["findings"] == []


def test_bad_rev_and_bad_arguments_are_one_line_errors(yolo_repo: Path, tmp_path: Path) -> None:
    for args in (("diff", yolo_repo / "data", "--rev", "no-such-rev"), ("diff", yolo_repo / "data"),
                 ("diff", yolo_repo / "data", "--rev", "--output-format")):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    outside = tmp_path / "plain"
    shutil.copytree(FIXTURES / "diff_yolo_new", outside)
    result = run("diff", outside, "--rev", "HEAD")
    assert result.exit_code == 2 and "git" in result.stderr


def test_fail_on_change_kinds() -> None:
    old, new = FIXTURES / "diff_yolo_old", FIXTURES / "diff_yolo_new"
    assert run("diff", old, new, "--fail-on-change", "class-map").exit_code == 1
    assert run("diff", old, new, "--fail-on-change", "any").exit_code == 1
    assert run("diff", old, new, "--fail-on-change", "attribute").exit_code == 0
    coco_old, coco_new = FIXTURES / "diff_coco_old", FIXTURES / "diff_coco_new"
    assert run("diff", coco_old, coco_new, "--fail-on-change", "box-removed,class-map").exit_code == 0
    assert run("diff", coco_old, coco_new, "--fail-on-change", "D010").exit_code == 1
    bad = run("diff", old, new, "--fail-on-change", "boxes-gone")
    assert bad.exit_code == 2 and "boxes-gone" in bad.stderr


def _coco(root: Path, categories: list[dict], images: list[tuple[int, str]], annotations: list[dict]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    doc = {"images": [{"id": i, "file_name": name, "width": 64, "height": 48} for i, name in images],
           "categories": categories, "annotations": annotations}
    (root / "annotations.json").write_text(json.dumps(doc, indent=1) + "\n")


def _ann(id_: int, image: int, category: int, bbox: list[float], crowd: int = 0) -> dict:
    return {"id": id_, "image_id": image, "category_id": category, "bbox": bbox, "area": bbox[2] * bbox[3],
            "iscrowd": crowd}


def test_coco_repository_with_planted_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    data = repo / "coco"
    (data / "images").mkdir(parents=True)
    git(repo, "init", "-q")
    for k, name in enumerate(("a", "b", "c")):
        Image.new("RGB", (64, 48), (60 * k, 200, 90)).save(data / "images" / f"{name}.png")
    cats = [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "bike"}]
    images = [(1, "images/a.png"), (2, "images/b.png"), (3, "images/c.png")]
    anns = [_ann(1, 1, 1, [1, 1, 10, 10]), _ann(2, 1, 2, [30, 5, 20, 20]), _ann(3, 2, 3, [5, 5, 30, 30]),
            _ann(4, 2, 1, [40, 10, 10, 20]), _ann(5, 3, 2, [0, 0, 64, 48])]
    _coco(data, cats, images, anns)
    commit_all(repo, "v1")
    (data / "images" / "c.png").rename(data / "images" / "c_moved.png")  # renamed image
    # COCO classes are their ids: a reordered array with the same ids changes nothing, a new name
    # at the same id is a rename, and the boxes of that class follow it (no relabel)
    renamed = [cats[0], cats[1], {"id": 3, "name": "bicycle"}]
    images = [(1, "images/a.png"), (2, "images/b.png"), (3, "images/c_moved.png")]
    anns = [_ann(1, 1, 1, [3, 1, 10, 10]),  # moved 2 px right
            _ann(2, 1, 3, [30, 5, 20, 20]),  # car -> bike
            _ann(3, 2, 3, [5, 5, 30, 30], crowd=1),  # iscrowd flipped
            # id 4 removed; id 6 added
            _ann(5, 3, 2, [0, 0, 64, 48]), _ann(6, 3, 1, [50, 30, 8, 8])]
    _coco(data, [renamed[1], renamed[0], renamed[2]], images, anns)
    commit_all(repo, "v2")
    _, doc = diff_json(data, "--rev", "HEAD~1")
    file = "annotations.json"
    assert found(doc) == {
        ("D003", file, None, "/images/2", None),
        ("D007", file, None, "/annotations/0/bbox", "1"),
        ("D008", file, None, "/annotations/1/bbox", "2"),
        ("D010", file, None, "/annotations/2/iscrowd", "3"),
        ("D006", file, None, "/annotations/3/bbox", "4"),
        ("D005", file, None, "/annotations/4/bbox", "6"),
        ("D009", file, None, "/categories/2", None),
    }
    messages = {f["code"]: f["message"] for f in doc["findings"]}
    assert messages["D008"] == "box relabelled: car -> bicycle (IoU 1.00)"
    assert messages["D009"] == "class 'bike' renamed to 'bicycle' (index 2)"
    assert "renamed from images/c.png" in messages["D003"]
    # the same two versions as folders: the same changes
    old = tmp_path / "old"
    old.mkdir()
    git(repo, "worktree", "add", "-q", str(old / "tree"), "HEAD~1")
    _, folders = diff_json(old / "tree" / "coco", data)
    assert found(folders) == found(doc)


def test_reordered_yolo_class_list_with_rewritten_labels_is_one_change_per_class(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "diff_yolo_old", repo / "data")
    git(repo, "init", "-q")
    commit_all(repo, "v1")
    yaml = repo / "data" / "data.yaml"
    yaml.write_text(yaml.read_text().replace("[cat, dog, bird]", "[dog, cat, bird]"))
    swap = {"0": "1", "1": "0", "2": "2"}
    for label in (repo / "data" / "labels").rglob("*.txt"):
        label.write_text("".join(swap[line[0]] + line[1:] + "\n" for line in label.read_text().splitlines()))
    _, doc = diff_json(repo / "data", "--rev", "HEAD")
    assert {f["code"] for f in doc["findings"]} == {"D009"}
    assert sorted(f["message"] for f in doc["findings"]) == [
        "class 'cat' moved from index 0 to 1 (shift +1); YOLO labels that still say 0 now mean 'dog'",
        "class 'dog' moved from index 1 to 0 (shift -1); YOLO labels that still say 1 now mean 'cat'"]
    # the list reordered but the labels not rewritten: every cat and dog box is relabelled
    for label in (repo / "data" / "labels").rglob("*.txt"):
        label.write_text("".join(swap[line[0]] + line[1:] + "\n" for line in label.read_text().splitlines()))
    _, doc = diff_json(repo / "data", "--rev", "HEAD")
    assert {f["code"] for f in doc["findings"]} == {"D008", "D009"}
    assert sum(f["code"] == "D008" for f in doc["findings"]) == 5  # a.txt's two, c, d, e


@pytest.mark.parametrize("fmt", ["concise", "full", "sarif", "github", "gitlab", "html"])
def test_every_output_format(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    result = run("diff", FIXTURES / "diff_yolo_old", FIXTURES / "diff_yolo_new", "--output-format", fmt, "-o", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "D007" in text
    if fmt == "html":
        assert "<section id='diff'>" in text
        for code in ("D001", "D002", "D006", "D007", "D008"):  # removals drawn from the old version
            start = text.index(f"id='rule-{code}'")
            end = text.find("<section", start + 1)
            assert "data:image/jpeg" in text[start:end if end > 0 else len(text)], code
    if fmt == "github":
        assert "::notice file=" in text and "labels/train/a.txt,line=1" in text


def test_check_never_reports_d_codes() -> None:
    result = run("check", FIXTURES / "diff_yolo_new", "--output-format", "json", "--select", "D", "--images", "none")
    assert json.loads(result.stdout)["findings"] == []


def test_rev_with_images_kept_out_of_git(tmp_path: Path) -> None:
    """Annotation repositories often commit labels only: the ignored images are taken as they
    are now, so a YOLO dataset at REV still has its images (and only the label edits show). A
    new label for a new ignored image reads as boxes added to an image that had none: with the
    images out of git, nothing says the image was not there before."""
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "diff_yolo_old", repo / "data")
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("*.png\n")
    commit_all(repo, "labels only")
    assert "png" not in git(repo, "ls-files")
    label = repo / "data" / "labels" / "train" / "a.txt"
    label.write_text(label.read_text().replace("0 0.25 0.5", "0 0.275 0.5"))
    new_label = repo / "data" / "labels" / "val" / "e2.txt"  # untracked, not ignored: new, not taken as old
    shutil.copyfile(repo / "data" / "images" / "val" / "e.png", repo / "data" / "images" / "val" / "e2.png")
    new_label.write_text("2 0.5 0.5 0.2 0.2\n")
    _, doc = diff_json(repo / "data", "--rev", "HEAD")
    assert found(doc) == {("D007", "labels/train/a.txt", 1, None, "1"), ("D005", "labels/val/e2.txt", 1, None, "1")}


def test_an_unreadable_image_does_not_move_its_boxes(tmp_path: Path) -> None:
    """NEW's a.png no longer decodes, so its YOLO boxes stay normalised: they are compared with
    OLD's pixel boxes in one unit, and only the planted added box shows."""
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(FIXTURES / "diff_yolo_old", old)
    shutil.copytree(FIXTURES / "diff_yolo_old", new)
    (new / "images" / "train" / "a.png").write_bytes(b"not an image")
    with (new / "labels" / "train" / "a.txt").open("a") as label:
        label.write("0 0.3 0.5 0.4 0.4\n")
    _, doc = diff_json(old, new)
    assert found(doc) == {("D005", "labels/train/a.txt", 3, None, "3")}


def test_a_class_name_cannot_break_the_summary_table(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        shutil.copytree(FIXTURES / "diff_yolo_old", root)
        yaml = root / "data.yaml"
        yaml.write_text(yaml.read_text().replace("[cat, dog, bird]", "[cat, \"d|g\\a\", bird]"))
    with (new / "labels" / "train" / "a.txt").open("a") as label:
        label.write("1 0.3 0.5 0.4 0.4\n")
    lines = run("diff", old, new).stdout.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3 and all(line.count("|") == 8 for line in table), table  # 7 columns
    assert "d&#124;g" in table[2] and "\a" not in "".join(lines)


def test_the_readme_example_is_what_detlint_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    command = "detlint diff fixtures/rules/diff_yolo_old fixtures/rules/diff_yolo_new"
    block = readme.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(repo)  # the paths as the README names them
    result = CliRunner().invoke(main, command.split()[1:])
    assert result.exit_code == 0 and result.stdout == block


def test_a_crafted_tree_entry_never_writes_outside_the_rebuild(tmp_path: Path) -> None:
    """A tree entry named ``..`` (``git mktree`` accepts one; checkout refuses it) is skipped."""
    def git(*args: str, data: bytes | None = None) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, input=data, capture_output=True, check=True).stdout.decode()

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    (tmp_path / "data" / "labels").mkdir(parents=True)
    (tmp_path / "data" / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "data" / "data.yaml").write_text("train: images\nnames: [cat]\n")
    blob = git("hash-object", "-w", "data/labels/a.txt").strip()
    labels = git("mktree", data=f"100644 blob {blob}\ta.txt\n100644 blob {blob}\t..\n".encode()).strip()
    yaml = git("hash-object", "-w", "data/data.yaml").strip()
    data = git("mktree", data=f"100644 blob {yaml}\tdata.yaml\n040000 tree {labels}\tlabels\n".encode()).strip()
    top = git("mktree", data=f"040000 tree {data}\tdata\n".encode()).strip()
    commit = git("commit-tree", top, "-m", "crafted").strip()
    result = CliRunner().invoke(main, ["diff", str(tmp_path / "data"), "--rev", commit, "--output-format", "json"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.stderr
