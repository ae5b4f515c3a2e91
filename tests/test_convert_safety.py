"""``detlint convert`` on hostile or broken sources: nothing outside the source root is ever
linked or copied, no annotation lands on a wrong image, bad text never crashes a writer, and
every such case is a listed loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from helpers import write_image

import detlint
from detlint.cli import main
from detlint.converting import REPORT_NAME
from detlint.formats.prewrite import check_links
from detlint.placing import Placement, SourceRoot, place_image

PASSWD = Path("/etc/passwd")
FIXTURE_YOLO = Path(__file__).resolve().parents[1] / "fixtures" / "yolo_clean"
TARGETS = ["coco", "voc", "yolo"]


def convert_cli(src: Path, dst: Path, target: str, *extra: str) -> dict:
    """Run ``detlint convert`` and return its conversion report (exit 0 expected)."""
    result = CliRunner().invoke(main, ["convert", str(src), str(dst), "--to", target, *extra])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return orjson.loads((dst / REPORT_NAME).read_bytes())


def losses(report: dict) -> dict[str, int]:
    return {loss["what"]: loss["count"] for loss in report["losses"]}


def hostile_yolo(root: Path) -> Path:
    """A YOLO dataset whose split list names /etc/passwd, with a symlink leaving the root and
    one staying inside it."""
    write_image(root / "images" / "a.png", (32, 24))
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (root / "images" / "inside.png").symlink_to("a.png")
    (root / "images" / "escape.png").symlink_to(PASSWD)
    (root / "train.txt").write_text(f"{PASSWD}\nimages/a.png\nimages/inside.png\nimages/escape.png\n")
    (root / "data.yaml").write_text("path: .\ntrain: train.txt\nnc: 1\nnames: [thing]\n")
    return root


@pytest.mark.skipif(not PASSWD.is_file(), reason="needs /etc/passwd (a POSIX system)")
@pytest.mark.parametrize("copy", [False, True], ids=["link", "copy"])
@pytest.mark.parametrize("target", TARGETS)
def test_convert_never_places_a_file_from_outside_the_root(tmp_path: Path, target: str, copy: bool) -> None:
    src = hostile_yolo(tmp_path / "src")
    links_before = os.stat(PASSWD).st_nlink
    secret = PASSWD.read_bytes()
    dst = tmp_path / "out"
    report = convert_cli(src, dst, target, *(["--copy"] if copy else []))
    assert os.stat(PASSWD).st_nlink == links_before
    passwd_id = (os.stat(PASSWD).st_dev, os.stat(PASSWD).st_ino)
    files = [p for p in dst.rglob("*") if p.is_file() or p.is_symlink()]
    assert not any(p.is_symlink() for p in files)
    assert all((p.stat().st_dev, p.stat().st_ino) != passwd_id for p in files)
    assert all(p.read_bytes() != secret for p in files)
    lost = losses(report)
    # the path and the symlink: left out by the reader (F008 at the list line) or by the writer
    assert lost.get("image file outside the dataset root, not copied", 0) + \
        lost.get("files or listed entries outside the dataset root (not read)", 0) == 2
    placed = {p.name: p for p in files if p.suffix == ".png"}
    assert sorted(placed) == ["a.png", "inside.png"]  # the inside symlink's real file is placed
    assert placed["inside.png"].read_bytes() == (src / "images" / "a.png").read_bytes()


def test_place_image_refuses_fifos_and_escaping_paths(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_image(root / "a.png")
    os.mkfifo(root / "pipe.png")
    outside = tmp_path / "outside.png"
    write_image(outside)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(tmp_path)  # a folder symlink leading out of the root
    source_root = SourceRoot(root)
    out = tmp_path / "out"
    assert place_image(root / "pipe.png", out / "pipe.png", source_root) is Placement.NOT_REGULAR
    assert place_image(root / "sub", out / "sub.png", source_root) is Placement.NOT_REGULAR
    assert place_image(root / ".." / "outside.png", out / "o1.png", source_root) is Placement.OUTSIDE_ROOT
    assert place_image(root / "sub" / "up" / "outside.png", out / "o2.png", source_root) is Placement.OUTSIDE_ROOT
    assert place_image(root / "nope.png", out / "nope.png", source_root) is Placement.MISSING
    assert place_image(root / "a.png", out / "a.png", source_root, link=False) is Placement.PLACED
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert (out / "a.png").read_bytes() == (root / "a.png").read_bytes()


def test_an_image_that_cannot_be_linked_is_copied_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source file at the hard-link limit (EMLINK) is copied once; its other entries are
    links of that copy, as they were links of one file in the source. ``--copy`` copies each."""
    root = tmp_path / "root"
    write_image(root / "a.png")
    os.link(root / "a.png", root / "b.png")  # two entries of one file
    write_image(root / "c.png", size=(5, 4))
    real_link = os.link

    def saturated(src: str, dst: str, **kwargs: object) -> None:
        if os.fspath(src).startswith(os.fspath(root.resolve())):
            raise OSError(31, "Too many links")
        real_link(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", saturated)
    for link, shared in ((True, 1), (False, 0)):
        out, source_root = tmp_path / f"out-{link}", SourceRoot(root)
        for name in ("a.png", "b.png", "c.png"):
            assert place_image(root / name, out / name, source_root, link=link) is Placement.PLACED
        placed = {name: os.lstat(out / name) for name in ("a.png", "b.png", "c.png")}
        assert [placed[name].st_nlink for name in placed] == [1 + shared, 1 + shared, 1]
        assert (placed["a.png"].st_ino == placed["b.png"].st_ino) is bool(shared)
        assert placed["a.png"].st_ino != os.stat(root / "a.png").st_ino
        assert all((out / name).read_bytes() == (root / name).read_bytes() for name in placed)


def coco_with_dangling(root: Path, images: object = "default") -> Path:
    """A COCO dataset of two images; annotation 3 references image 99, which does not exist."""
    write_image(root / "images" / "1.png", (40, 30))
    write_image(root / "images" / "2.png", (40, 30))
    doc: dict = {
        "images": [{"id": 1, "file_name": "1.png", "width": 40, "height": 30},
                   {"id": 2, "file_name": "2.png", "width": 40, "height": 30}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 8], "area": 80, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [3, 4, 10, 8], "area": 80, "iscrowd": 0},
            {"id": 3, "image_id": 99, "category_id": 1, "bbox": [20, 10, 5, 5], "area": 25, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "thing"}]}
    if images is None:
        del doc["images"]
    elif images != "default":
        doc["images"] = images
    (root / "annotations.json").write_text(json.dumps(doc))
    return root


def stem_boxes(ds: detlint.model.Dataset) -> list[tuple[str, tuple[float, ...]]]:
    """(image stem, pixel box) of every annotation, sorted."""
    ann = ds.annotations
    out = []
    for row in range(len(ann)):
        image = int(ann.image[row])
        stem = Path(str(ds.images.path[image] or ds.images.file_name[image])).stem
        out.append((stem, tuple(np.round(ann.boxes[row], 3).tolist())))
    return sorted(out)


DANGLING = "annotations that reference no image (dropped: their image_id matches no image entry)"


@pytest.mark.parametrize("target", TARGETS)
def test_dangling_image_id_is_a_loss_never_a_box_on_another_image(tmp_path: Path, target: str) -> None:
    report = convert_cli(coco_with_dangling(tmp_path / "src"), tmp_path / "out", target)
    assert losses(report)[DANGLING] == 1
    back = detlint.load(tmp_path / "out")
    assert stem_boxes(back) == [("1", (1.0, 2.0, 11.0, 10.0)), ("2", (3.0, 4.0, 13.0, 12.0))]


@pytest.mark.parametrize("images", [None, [], "oops"], ids=["missing", "empty", "not-a-list"])
@pytest.mark.parametrize("target", TARGETS)
def test_annotations_without_an_images_list_are_lost_not_a_crash(tmp_path: Path, target: str, images: object) -> None:
    report = convert_cli(coco_with_dangling(tmp_path / "src", images), tmp_path / "out", target)
    assert losses(report)[DANGLING] == 3
    assert DANGLING in CliRunner().invoke(main, ["convert", str(tmp_path / "src"), str(tmp_path / "again"),
                                                 "--to", target]).stderr


def test_check_links_refuses_an_out_of_range_image_index(tmp_path: Path) -> None:
    ds = detlint.load(coco_with_dangling(tmp_path / "src"))
    assert int(ds.annotations.image.min()) == -1  # the model's "no such image"
    with pytest.raises(ValueError, match="refusing to write: annotation row 2 links image -1"):
        check_links(ds)
    ds.annotations.image[2] = len(ds.images)
    with pytest.raises(ValueError, match="outside the 2 images"):
        check_links(ds)


@pytest.mark.parametrize("target", TARGETS)
def test_unparseable_label_and_xml_files_are_listed_losses(tmp_path: Path, target: str) -> None:
    yolo = tmp_path / "yolo"
    for stem in ("a", "b"):
        write_image(yolo / "images" / f"{stem}.png", (32, 24))
    (yolo / "labels").mkdir()
    (yolo / "labels" / "a.txt").write_text("0 0.5 0.5 0.25 0.25\n0 0.5 0.5\n")  # a short line: F006
    (yolo / "labels" / "b.txt").write_bytes(b"\xff\xfe0 0.5 0.5 0.1 0.1\n")  # not UTF-8: F001
    (yolo / "data.yaml").write_text("path: .\ntrain: images\nnc: 1\nnames: [thing]\n")
    report = convert_cli(yolo, tmp_path / "out", target)
    assert losses(report)["annotation files that could not be parsed (no annotations read from them)"] == 1
    assert losses(report)["label lines that could not be parsed (not converted)"] == 1
    voc = tmp_path / "voc"
    convert_cli(yolo, voc, "voc")
    (voc / "Annotations" / "a.xml").write_text("<annotation><object>")  # truncated XML
    (voc / REPORT_NAME).unlink()
    report = convert_cli(voc, tmp_path / "from_voc", target)
    assert losses(report)["annotation files that could not be parsed (no annotations read from them)"] == 1


@pytest.mark.parametrize("target", TARGETS)
def test_lone_surrogate_in_a_class_name_is_replaced_and_listed(tmp_path: Path, target: str) -> None:
    src = tmp_path / "src"
    write_image(src / "images" / "1.png", (40, 30))
    (src / "annotations.json").write_text(
        '{"images": [{"id": 1, "file_name": "1.png", "width": 40, "height": 30}], "annotations": '
        '[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 8], "area": 80, "iscrowd": 0}], '
        '"categories": [{"id": 1, "name": "car\\ud800"}]}')
    check = CliRunner().invoke(main, ["check", str(src)])
    assert check.exit_code == 1 and "F001" in check.stdout
    report = convert_cli(src, tmp_path / "out", target)
    assert losses(report)["class name not valid Unicode, replaced"] == 1
    assert report["class_mapping"][0]["name"] == "car\ufffd"
    back = detlint.load(tmp_path / "out")
    assert back.categories.names == ["car\ufffd"]
    assert len(back.annotations) == 1


STAGE_AND = """
import os, signal, sys, time
from pathlib import Path
from detlint.fileio import staged_folder
with staged_folder(Path(sys.argv[1])) as staging:
    (staging / "images").mkdir()
    (staging / "images" / "copy.png").write_bytes(b"x" * 4096)  # a --copy convert's image copies
    print(staging, flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
"""


def staging_process(dst: Path, action: str) -> tuple[subprocess.Popen, Path]:
    """A real process writing a staged ``dst``: killed inside the block, or still at work."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-c", STAGE_AND, str(dst), action], stdout=subprocess.PIPE,
                               text=True, env=env)
    staging = Path(process.stdout.readline().strip())
    assert staging.is_dir()
    return process, staging


def test_convert_removes_the_staging_folder_of_a_killed_convert(tmp_path: Path) -> None:
    dst = tmp_path / "out"
    killed, stale = staging_process(dst, "die")
    assert killed.wait(timeout=30) == -signal.SIGKILL
    alive, busy = staging_process(dst, "sleep")
    foreign = tmp_path / ".out.someone-else.tmp"  # not of our naming: never touched
    foreign.mkdir()
    try:
        result = CliRunner().invoke(main, ["convert", str(FIXTURE_YOLO), str(dst), "--to", "coco", "--copy"])
        assert result.exit_code == 0, result.output
        assert not stale.exists()
        assert f"removed {stale}" in result.stderr and result.stdout == ""
        assert busy.is_dir() and foreign.is_dir()  # its process is alive / not ours
        assert (dst / REPORT_NAME).is_file()
    finally:
        alive.kill()
        alive.wait()
