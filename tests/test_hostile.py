"""Attacks on every command: nothing outside the dataset is opened, linked or printed, and no
input hangs detlint or ends in a traceback.

Each case (``CASES``) builds a dataset in a tmp folder that points outside it, or plants a
special file; each command (``COMMANDS``) runs on it in a subprocess under ``strace`` (where
available) with a time limit. See ``tests/hostile.py`` for the harness and what counts as a
breach.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.hostile import SECRET, World, breaches, coco_doc, jpeg_bytes, run_detlint, voc_xml, yolo_base

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="symlinks and FIFOs: Linux only")


# ------------------------------------------------------------------------------------ YOLO


def yolo_list_outside(w: World) -> None:
    yolo_base(w, "names: [cat]\ntrain: train.txt\nval: train.txt\n")
    w.write("train.txt", f"images/train/a.jpg\n{w.outside}/secret.jpg\n../outside/secret.jpg\n")


def yolo_obj_data_names_abs(w: World) -> None:
    yolo_base(w, None)
    w.write("obj.data", f"classes = 1\nnames = {w.outside}/secret.txt\ntrain = train.txt\n")
    w.write("train.txt", "data/images/train/a.jpg\n")


def yolo_obj_data_names_rel(w: World) -> None:
    yolo_base(w, None)
    w.write("obj.data", "classes = 1\nnames = ../outside/secret.txt\ntrain = ../outside/secret.txt\n")


def yolo_label_link(w: World) -> None:
    yolo_base(w)
    (w.ds / "labels/train/a.txt").unlink()
    w.link("labels/train/a.txt", w.outside / "secret.txt")


def yolo_labels_folder_link(w: World) -> None:
    yolo_base(w)
    w.write("images/train/c.jpg", jpeg_bytes())
    os.unlink(w.ds / "labels/train/a.txt")
    (w.ds / "labels/train").rmdir()
    w.link("labels/train", w.outside / "etc")


def yolo_image_link(w: World) -> None:
    yolo_base(w)
    w.link("images/train/b.jpg", w.outside / "secret.jpg")
    w.write("labels/train/b.txt", "0 0.5 0.5 0.2 0.2\n")


def yolo_images_folder_link(w: World) -> None:
    yolo_base(w, "names: [cat]\ntrain: images/train\nval: images/linked\n")
    w.link("images/linked", w.outside / "etc")


def yolo_train_folder_abs(w: World) -> None:
    yolo_base(w, f"names: [cat]\ntrain: images/train\nval: {w.outside}/etc\n")


def yolo_train_folder_rel(w: World) -> None:
    yolo_base(w, "names: [cat]\ntrain: ../outside/etc\nval: images/train\n")


def yolo_path_key(w: World) -> None:
    yolo_base(w, f"path: {w.outside}\nnames: [cat]\ntrain: etc\nval: etc\n")


def yolo_yaml_link(w: World) -> None:
    yolo_base(w, None)
    (w.outside / "data.yaml").write_text(f"names: [{SECRET}]\ntrain: images/train\nval: images/train\n")
    w.link("data.yaml", w.outside / "data.yaml")


def yolo_classes_link(w: World) -> None:
    yolo_base(w, None)
    w.link("classes.txt", w.outside / "secret.txt")


def yolo_device_label(w: World) -> None:
    yolo_base(w)
    (w.ds / "labels/train/a.txt").unlink()
    w.link("labels/train/a.txt", "/dev/urandom")


def yolo_fifo_label(w: World) -> None:
    yolo_base(w)
    (w.ds / "labels/train/a.txt").unlink()
    w.fifo("labels/train/a.txt")


def yolo_fifo_image(w: World) -> None:
    yolo_base(w)
    w.fifo("images/train/b.jpg")


def yolo_fifo_yaml(w: World) -> None:
    yolo_base(w, None)
    w.fifo("data.yaml")


def yolo_fifo_list(w: World) -> None:
    yolo_base(w, "names: [cat]\ntrain: train.txt\nval: train.txt\n")
    w.fifo("train.txt")


def yolo_dotdot_after_link(w: World) -> None:
    """``lnk/..`` is the link target's parent for the kernel, not ``images/``."""
    (w.outside / "etc" / "sub").mkdir()
    w.link("images/lnk", w.outside / "etc" / "sub")
    w.link("labels/lnk", w.outside / "etc" / "sub")
    w.write("data.yaml", "names: [cat]\ntrain: images/lnk/..\nval: images/lnk/..\n")


def yolo_path_dotdot_after_link(w: World) -> None:
    (w.outside / "etc" / "sub").mkdir()
    w.link("lnk", w.outside / "etc" / "sub")
    w.write("data.yaml", "path: lnk/..\nnames: [cat]\ntrain: .\nval: .\n")


def yolo_list_with_labels_link(w: World) -> None:
    w.write("images/train/a.jpg", jpeg_bytes())
    w.link("labels/train", w.outside / "etc")
    w.write("train.txt", "images/train/a.jpg\n")
    w.write("data.yaml", "names: [cat]\ntrain: train.txt\nval: train.txt\n")


# ------------------------------------------------------------------------------------- VOC


def voc_base(w: World) -> None:
    w.write("JPEGImages/a.jpg", jpeg_bytes())
    w.write("Annotations/a.xml", voc_xml("a.jpg"))


def voc_xml_link(w: World) -> None:
    voc_base(w)
    w.link("Annotations/b.xml", w.outside / "secret.xml")


def voc_annotations_folder_link(w: World) -> None:
    w.write("JPEGImages/a.jpg", jpeg_bytes())
    w.link("Annotations", w.outside)


def voc_imagesets_escape(w: World) -> None:
    voc_base(w)
    w.write("ImageSets/Main/train.txt", "a\n../../outside/secret\n")


def voc_filename_escape(w: World) -> None:
    voc_base(w)
    w.write("Annotations/b.xml", voc_xml("../outside/secret.jpg"))
    w.write("Annotations/c.xml", voc_xml(f"{w.outside}/secret.jpg"))


def voc_image_link(w: World) -> None:
    voc_base(w)
    w.link("JPEGImages/b.jpg", w.outside / "secret.jpg")
    w.write("Annotations/b.xml", voc_xml("b.jpg"))


def voc_fifo_xml(w: World) -> None:
    voc_base(w)
    w.fifo("Annotations/b.xml")


# ------------------------------------------------------------------------------------ COCO


def coco_base(w: World, files: list[str]) -> None:
    w.write("images/a.jpg", jpeg_bytes())
    w.write("annotations.json", json.dumps(coco_doc(files)))


def coco_json_link(w: World) -> None:
    w.write("images/a.jpg", jpeg_bytes())
    w.link("annotations.json", w.outside / "secret.json")


def coco_file_name_escape(w: World) -> None:
    coco_base(w, ["a.jpg", "../outside/secret.jpg", f"{w.outside}/secret.jpg"])


def coco_image_link(w: World) -> None:
    coco_base(w, ["a.jpg", "b.jpg"])
    w.link("images/b.jpg", w.outside / "secret.jpg")


def coco_case_lookup_through_link(w: World) -> None:
    """A name matched ignoring case would print the real (secret) name of a file outside."""
    w.link("images/lnk", w.outside / "etc")
    w.write("images/a.jpg", jpeg_bytes())
    w.write("annotations.json", json.dumps(coco_doc(["a.jpg", f"lnk/{SECRET.lower()}.jpg"])))


def coco_fifo_json(w: World) -> None:
    w.write("images/a.jpg", jpeg_bytes())
    w.fifo("annotations.json")


def coco_fifo_image(w: World) -> None:
    coco_base(w, ["a.jpg", "b.jpg"])
    w.fifo("images/b.jpg")


CASES = {f.__name__: f for f in (
    yolo_list_outside, yolo_obj_data_names_abs, yolo_obj_data_names_rel, yolo_label_link, yolo_labels_folder_link,
    yolo_image_link, yolo_images_folder_link, yolo_train_folder_abs, yolo_train_folder_rel, yolo_path_key,
    yolo_yaml_link, yolo_classes_link, yolo_device_label, yolo_fifo_label, yolo_fifo_image, yolo_fifo_yaml,
    yolo_fifo_list, yolo_dotdot_after_link, yolo_path_dotdot_after_link, yolo_list_with_labels_link,
    coco_case_lookup_through_link, voc_xml_link, voc_annotations_folder_link, voc_imagesets_escape, voc_filename_escape,
    voc_image_link, voc_fifo_xml, coco_json_link, coco_file_name_escape, coco_image_link, coco_fifo_json,
    coco_fifo_image)}
TARGETS = {"yolo": ("coco", "voc"), "voc": ("coco", "yolo"), "coco": ("voc", "yolo")}
IMAGE_OF = {"yolo": "b.jpg", "voc": "b.jpg", "coco": "b.jpg"}


def _commands(family: str) -> list[tuple[str, list[str], bool]]:
    """(name, arguments, traced) of every command run on a case of ``family``."""
    first, second = TARGETS[family]
    return [
        ("check", ["check", "ds", "--output-format", "json", "--images", "decode", "--no-cache"], True),
        ("check-full", ["check", "ds", "--output-format", "full"], True),
        ("stats", ["stats", "ds"], True),
        (f"convert-{first}", ["convert", "ds", f"out-{first}", "--to", first], True),
        (f"convert-{second}-copy", ["convert", "ds", f"out-{second}", "--to", second, "--copy"], True),
        ("show", ["show", "ds", IMAGE_OF[family], "-o", "shown.png"], True),
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_command_reads_outside_or_hangs(case: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    CASES[case](world)
    links_before = world.outside_links()
    family = case.split("_")[0]
    env = {"DETLINT_CACHE_DIR": str(tmp_path / "cache")}
    found: list[str] = []
    for name, args, traced in _commands(family):
        run = run_detlint(args, tmp_path, env, trace=traced)
        outputs = [tmp_path / a for a in args if a.startswith("out-")]
        found += [f"{name}: {b}" for b in breaches(world, run, [o for o in outputs if o.is_dir()])]
    if world.outside_links() != links_before:
        found.append("a file outside the dataset gained a hard link")
    assert not found, "\n".join(found)


# ---------------------------------------------------------------------------- caches, configs


def _findings(run) -> list[tuple]:
    return sorted((f["code"], f["file"], f.get("line")) for f in json.loads(run.stdout)["findings"])


@pytest.mark.parametrize("family", ["yolo", "voc", "coco"])
@pytest.mark.parametrize("replacement", ["dev-zero", "fifo"])
def test_caches_replaced_by_special_files_are_not_read(family: str, replacement: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    {"yolo": yolo_base, "voc": voc_base, "coco": lambda w: coco_base(w, ["a.jpg"])}[family](world)
    cache = tmp_path / "cache"
    env = {"DETLINT_CACHE_DIR": str(cache)}
    args = ["check", "ds", "--output-format", "json", "--images", "decode"]
    first = run_detlint(args, tmp_path, env, trace=False)
    stored = [p for p in cache.rglob("*") if p.is_file()]
    assert stored, "the first run left no cache to attack"
    for path in stored:
        path.unlink()
        if replacement == "fifo":
            os.mkfifo(path)
        else:
            os.symlink("/dev/zero", path)
    second = run_detlint(args, tmp_path, env, trace=False)
    assert not breaches(world, second)
    assert _findings(second) == _findings(first)


@pytest.mark.parametrize("name", ["detlint.toml", "pyproject.toml"])
def test_a_config_file_that_is_a_fifo_is_not_opened(name: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world)
    world.fifo(name)
    for args in (["check", "ds"], ["check", "ds/labels/train/a.txt"]):  # a folder; a file, as pre-commit passes
        run = run_detlint(args, tmp_path, trace=False)
        assert run.returncode == 0 and not breaches(world, run), run.stderr


# ------------------------------------------------------------------ values that are not what they seem


def _codes(world: World, tmp_path: Path) -> dict[str, list[str]]:
    run = run_detlint(["check", "ds", "--output-format", "json"], tmp_path, trace=False)
    assert not breaches(world, run) and run.returncode in (0, 1), run.stderr
    found: dict[str, list[str]] = {}
    for finding in json.loads(run.stdout)["findings"]:
        found.setdefault(finding["code"], []).append(finding["message"])
    return found


@pytest.mark.parametrize("content", [bytes(range(256)) * 2, b"just a scalar\n", b"- a\n- b\n"],
                         ids=["random-bytes", "scalar", "list"])
def test_a_data_yaml_that_is_no_mapping_is_f001(content: bytes, tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world, None)
    world.write("data.yaml", content)
    assert "F001" in _codes(world, tmp_path)


@pytest.mark.parametrize("value", ['"abc"', "null", "7", "true"])
def test_coco_segmentation_of_the_wrong_type_is_f002(value: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    doc = json.dumps(coco_doc(["a.jpg"])).replace('"iscrowd": 0', f'"iscrowd": 0, "segmentation": {value}')
    world.write("images/a.jpg", jpeg_bytes())
    world.write("annotations.json", doc)
    assert any("segmentation" in m for m in _codes(world, tmp_path).get("F002", []))


def test_a_coco_integer_too_long_for_python_is_a_located_f001(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write("images/a.jpg", jpeg_bytes())
    world.write("annotations.json", json.dumps(coco_doc(["a.jpg"])).replace('"id": 1,', f'"id": {"7" * 5000},', 1))
    assert any("5000 digits" in m for m in _codes(world, tmp_path)["F001"])


def test_names_leaving_the_root_are_f008_only(tmp_path: Path) -> None:
    world = World(tmp_path)
    coco_base(world, ["a.jpg", "../outside/x.jpg", "sub/../../outside/x.jpg"])
    found = _codes(world, tmp_path)
    assert len(found["F008"]) == 2 and "F009" not in found


def test_a_split_folder_outside_the_root_is_f008(tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world, f"names: [cat]\ntrain: images/train\nval: {world.outside}/etc\n")
    assert any("val:" in m and "outside the dataset root" in m for m in _codes(world, tmp_path)["F008"])


def test_a_label_over_the_configured_limit_is_f001_not_read(tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world)
    world.write("labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n" * 120_000)  # 2.1 MiB
    world.write("detlint.toml", "max-label-mib = 1\n")
    found = _codes(world, tmp_path)
    assert any("over the 1 MiB limit" in m for m in found["F001"]) and "B006" not in found


@pytest.mark.parametrize("target", ["yolo", "voc", "coco"])
def test_convert_of_a_file_name_with_a_nul_lists_the_loss(target: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write("images/a.jpg", jpeg_bytes())
    world.write("annotations.json", json.dumps(coco_doc(["a\u0000.jpg", "a.jpg"])))
    run = run_detlint(["convert", "ds", "out", "--to", target], tmp_path, trace=False)
    assert run.returncode == 0 and not breaches(world, run), run.stderr
    assert "NUL" in run.text()


def test_locations_are_normalised(tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world, "names: [cat]\ntrain: train.txt\nval: train.txt\n")
    world.write("train.txt", "images/train/../train/a.jpg\nimages/x/../../images/train/b.jpg\n")
    run = run_detlint(["check", "ds", "--output-format", "json"], tmp_path, trace=False)
    findings = json.loads(run.stdout)["findings"]
    assert findings and not breaches(world, run)
    assert not [f for f in findings if ".." in (f["file"] or "") + (f.get("image") or "")]


BOMB = "".join(f"{x}: &{x} [{', '.join(['*' + p] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("yaml", ["names: {0: a, 5000000: b}\n", "names: {0: a, 99999999999999999999: b}\n",
                                  "a: &a [x, x, x, x, x, x, x, x, x]\n" + BOMB + "names: *i\n"],
                         ids=["sparse", "huge-key", "alias-bomb"])
def test_a_names_value_that_would_eat_memory_is_c006(yaml: str, tmp_path: Path) -> None:
    world = World(tmp_path)
    yolo_base(world, "train: images/train\nval: images/train\n" + yaml)
    assert "C006" in _codes(world, tmp_path)


def test_a_json_named_on_the_command_line_that_links_out_is_not_passed(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.write("images/a.jpg", jpeg_bytes())
    world.link("annotations.json", world.outside / "secret.json")
    run = run_detlint(["check", "ds/annotations.json"], tmp_path)
    assert run.returncode == 2 and not breaches(world, run), run.text()


def test_voc_split_list_names_that_read_many_ways_end_in_time(tmp_path: Path) -> None:
    """``a``, ``aa`` and ``aaa...ab``: the union reading of the long name is tried once per suffix,
    not in each of its exponentially many decompositions (the read hung)."""
    world = World(tmp_path)
    world.write("JPEGImages/a.jpg", jpeg_bytes())
    world.write("Annotations/a.xml", voc_xml("a.jpg"))
    for name in ("a", "aa", "a" * 60 + "b"):
        world.write(f"ImageSets/Main/{name}.txt", "a\n")
    assert "S001" in _codes(world, tmp_path)


def test_voc_split_lists_not_read_are_located_findings(tmp_path: Path) -> None:
    """A split list that is a FIFO, /dev/zero, a link out of the root or not UTF-8 is refused with
    a finding on the list, not silently left out (its images would change split unannounced)."""
    world = World(tmp_path)
    world.write("JPEGImages/a.jpg", jpeg_bytes())
    world.write("Annotations/a.xml", voc_xml("a.jpg"))
    world.fifo("ImageSets/Main/train.txt")
    world.link("ImageSets/Main/val.txt", "/dev/zero")
    world.link("ImageSets/Main/test.txt", world.outside / "secret.txt")
    world.write("ImageSets/Main/extra.txt", b"a\n\xff\n")
    run = run_detlint(["check", "ds", "--output-format", "json"], tmp_path, trace=False)
    assert not breaches(world, run) and run.returncode == 1, run.stderr
    located = {(f["file"], f["code"]) for f in json.loads(run.stdout)["findings"]}
    assert {("ImageSets/Main/train.txt", "F001"), ("ImageSets/Main/val.txt", "F008"),
            ("ImageSets/Main/test.txt", "F008"), ("ImageSets/Main/extra.txt", "F001")} <= located


def test_a_coco_json_with_a_bom_is_read_and_fixed_keeping_it(tmp_path: Path) -> None:
    """A UTF-8 BOM before the ``{`` (Windows tools write one): the dataset was "not a COCO
    dataset" (the sniffer looked for ``{`` at the first byte)."""
    world = World(tmp_path)
    world.write("images/a.jpg", jpeg_bytes())
    doc = coco_doc(["a.jpg"])
    doc["images"][0]["width"] = 40  # I003: the safe fix takes the real size
    world.write("annotations.json", b"\xef\xbb\xbf" + json.dumps(doc, indent=2).encode())
    found = _codes(world, tmp_path)
    assert "I003" in found and any("BOM" in m for m in found["F001"])
    run = run_detlint(["check", "ds", "--fix"], tmp_path, trace=False)
    assert not breaches(world, run) and "fixed 1 finding" in run.stderr, run.text()  # F001 (the BOM) stays
    data = (world.ds / "annotations.json").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and json.loads(data[3:])["images"][0]["width"] == 32


@pytest.mark.parametrize("entry", ["list.lst", "x.jpg", "zero.txt"])
def test_a_yolo_split_entry_that_is_no_regular_file_is_f001_without_fallback(entry: str, tmp_path: Path) -> None:
    """A data.yaml entry naming a FIFO or a device: refused on that file (it was "does not exist",
    and the conventional images/train folder was read in its place)."""
    world = World(tmp_path)
    yolo_base(world, f"names: [cat]\ntrain: {entry}\nval: images/val\n")
    if entry == "zero.txt":
        world.link(entry, "/dev/zero")
    else:
        world.fifo(entry)
    found = _codes(world, tmp_path)
    assert "I001" not in found and ("F001" in found or "F008" in found), found
