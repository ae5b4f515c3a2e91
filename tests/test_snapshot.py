"""Snapshots never change a result: a re-check of passed files from a snapshot reports exactly
what a full uncached check of the same files reports, after random in-place edits; a changed
layout, a class-list change or a corrupt snapshot falls back to the full read."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
from test_incremental import _label_text, _voc, _xml_text, _yolo

from detlint.checking import CheckRequest, run_check
from detlint.incremental import snapshot
from detlint.model import Annotations

PAST_NS = 1_600_000_000 * 10**9


def _age(root: Path) -> None:
    """Old mtimes for every file and folder, as a dataset checked out yesterday."""
    entries = sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True) + [root]
    for i, path in enumerate(entries):
        os.utime(path, ns=(PAST_NS + i, PAST_NS + i))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def fast_paths(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per snapshot attempt: True when the snapshot answered."""
    answered: list[bool] = []
    real = snapshot.patched

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(snapshot, "patched", spy)
    return answered


def _report(files: list[Path], use_cache: bool, images: str = "header") -> tuple[str, int]:
    return run_check(CheckRequest(paths=list(files), output_format="json", images=images, use_cache=use_cache))


_EDITS = iter(range(10**9))


def _in_place(path: Path, text: str) -> None:
    """Rewrite a file's content in place (as most editors and `>` do): no folder entry changes.
    Its new mtime is in the past (but later than the dataset's), as for an edit made before the
    commit: a file changed within seconds of a read is never trusted to it, and re-read."""
    with open(path, "r+", encoding="utf-8") as fh:
        fh.seek(0)
        fh.write(text)
        fh.truncate()
    mtime = PAST_NS + 10**12 + next(_EDITS)
    os.utime(path, ns=(mtime, mtime))


@pytest.mark.parametrize("seed", range(4))
def test_yolo_recheck_from_snapshot_equals_full_check(tmp_path: Path, seed: int, fast_paths: list[bool]) -> None:
    rng = random.Random(seed)
    root = _yolo(tmp_path / "ds", rng)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    _age(root)
    first = rng.sample(labels, 2)
    assert _report(first, True) == _report(first, False)  # a full read: writes the snapshot
    assert fast_paths == [False]
    for _ in range(6):
        passed = rng.sample(labels, rng.randint(1, 3))
        for label in passed:
            _in_place(label, _label_text(rng))
        assert _report(passed, True) == _report(passed, False)
    assert fast_paths[1:] == [True] * 6  # every re-check came from the snapshot


@pytest.mark.parametrize("seed", range(3))
def test_voc_recheck_from_snapshot_equals_full_check(tmp_path: Path, seed: int, fast_paths: list[bool]) -> None:
    rng = random.Random(50 + seed)
    root = _voc(tmp_path / "voc", rng)
    xmls = sorted((root / "Annotations").glob("*.xml"))
    _age(root)
    assert _report(xmls[:1], True) == _report(xmls[:1], False)
    for _ in range(6):
        passed = rng.sample(xmls, rng.randint(1, 2))
        for xml in passed:
            _in_place(xml, _xml_text(rng, xml.stem + ".jpg"))
        assert _report(passed, True) == _report(passed, False)
    assert any(fast_paths[1:])  # unparseable XML or a changed class list take the full read


def test_edits_made_through_earlier_rechecks_stay_visible(tmp_path: Path, fast_paths: list[bool]) -> None:
    """A file re-read by one fast re-check is re-read by the next ones (the snapshot is not
    rewritten): its new rows keep counting for dataset-wide rules (here: unused classes)."""
    root = _yolo(tmp_path / "ds", random.Random(1), n=3)
    a, b, c = sorted((root / "labels" / "train").glob("*.txt"))
    for label in (a, b, c):
        label.write_text("0 0.5 0.5 0.2 0.2\n")
    _age(root)
    _report([a], True)
    _in_place(b, "2 0.5 0.5 0.2 0.2\n")  # class 2 ("bird") gets used: C002 goes away
    assert _report([b], True) == _report([b], False)
    assert _report([c], True) == _report([c], False)
    report = _report([c], True)[0]
    assert "class 'bird'" not in report and "class 'dog'" in report
    assert fast_paths == [False, True, True, True]


@pytest.mark.parametrize("change", ["add", "delete", "data_yaml", "image_folder"])
def test_layout_changes_fall_back_to_a_full_read(tmp_path: Path, change: str, fast_paths: list[bool]) -> None:
    root = _yolo(tmp_path / "ds", random.Random(2), n=5)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    _age(root)
    _report(labels[:1], True)
    passed = [labels[1]]
    if change == "add":
        (root / "labels" / "train" / "extra.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    elif change == "delete":
        labels[4].unlink()
    elif change == "data_yaml":
        _in_place(root / "data.yaml", "path: .\ntrain: images/train\nval: images/train\nnames: [cat]\n")
        os.utime(root / "data.yaml", ns=(PAST_NS, PAST_NS))  # same mtime as before would be a lie; size differs
    else:
        (root / "images" / "train" / "im0.jpg").unlink()
    assert _report(passed, True) == _report(passed, False)
    assert fast_paths == [False, False]


def _rename_edit(path: Path, text: str) -> None:
    """Save as vim and `sed -i` do: write a new file, rename it over the old one."""
    temporary = path.with_name(path.name + ".swp")
    temporary.write_text(text)
    os.replace(temporary, path)


def test_files_saved_by_rename_are_found_by_their_stats(tmp_path: Path, fast_paths: list[bool]) -> None:
    """A folder whose names did not change (only a file replaced by a rename) keeps the snapshot:
    its per-image files are stat'ed and the changed ones re-read, passed or not."""
    root = _yolo(tmp_path / "ds", random.Random(8), n=6)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    for label in labels:
        label.write_text("0 0.5 0.5 0.2 0.2\n")
    _age(root)
    assert "class 'bird'" in _report(labels[:1], True)[0]  # C002: nothing uses class 2 yet
    _rename_edit(labels[1], "1 0.5 0.5 0.2 0.2\n9 0.1 0.1 0.1 0.1\n")  # passed
    _rename_edit(labels[2], "2 0.5 0.5 0.2 0.2\n")  # not passed: dataset-wide rules must see it
    first = _report([labels[1]], True)
    assert first == _report([labels[1]], False) and "class 'bird'" not in first[0]
    assert _report([labels[3]], True) == _report([labels[3]], False)
    assert fast_paths == [False, True, True]


def test_voc_new_class_name_falls_back(tmp_path: Path, fast_paths: list[bool]) -> None:
    root = _voc(tmp_path / "voc", random.Random(3), n=4)
    xmls = sorted((root / "Annotations").glob("*.xml"))
    for xml in xmls:
        xml.write_text(_voc_xml(xml.stem, "cat"))
    _age(root)
    _report(xmls[:1], True)
    _in_place(xmls[1], _voc_xml(xmls[1].stem, "zebra"))  # a class the snapshot never saw
    assert _report([xmls[1]], True) == _report([xmls[1]], False)
    _in_place(xmls[2], _voc_xml(xmls[2].stem, "cat", xmin=0))  # F010, same classes: from the snapshot
    assert _report([xmls[2]], True) == _report([xmls[2]], False)
    assert fast_paths == [False, False, True]


def _voc_xml(stem: str, name: str, xmin: int = 2) -> str:
    return (f"<annotation><filename>{stem}.jpg</filename><size><width>40</width><height>30</height>"
            f"<depth>3</depth></size><object><name>{name}</name><bndbox><xmin>{xmin}</xmin><ymin>2</ymin>"
            "<xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")


def test_corrupt_snapshot_falls_back(tmp_path: Path, cache_dir: Path, fast_paths: list[bool]) -> None:
    root = _yolo(tmp_path / "ds", random.Random(4), n=4)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    _age(root)
    _report(labels[:1], True)
    [stored] = list(cache_dir.glob("snapshot-*.columns"))
    data = stored.read_bytes()
    expected = _report(labels[:1], False)
    for garbage in (b"", b"DLSNAP01", data[:100], data[:-100], data[:200] + b"\xff" * (len(data) - 200)):
        stored.write_bytes(garbage)
        assert _report(labels[:1], True) == expected
        stored.write_bytes(data)
    assert fast_paths == [False] * 6  # garbage never answers
    assert _report(labels[:1], True) == expected and fast_paths[-1] is True  # the restored one does


def test_fixes_and_whole_dataset_checks_never_use_snapshots(tmp_path: Path, fast_paths: list[bool]) -> None:
    root = _yolo(tmp_path / "ds", random.Random(5), n=3)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    _age(root)
    _report(labels[:1], True)
    run_check(CheckRequest(paths=[root], output_format="json", use_cache=True))
    run_check(CheckRequest(paths=labels[:1], output_format="json", use_cache=True, fix=True))
    assert fast_paths == [False]


def test_merged_rows_match_a_stable_sort() -> None:
    """The slice-based splice puts rows where a stable sort by image would."""
    from detlint.incremental.snapshot import _merged

    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 30))
        old = Annotations.empty(n)
        old.image = np.sort(rng.integers(0, 8, n)).astype(np.int32)
        old.src_file = rng.integers(0, 5, n).astype(np.int32)
        removed = np.flatnonzero(np.isin(old.src_file, rng.choice(5, int(rng.integers(0, 4)), replace=False)))
        m = int(rng.integers(0, 6))
        new = Annotations.empty(m)
        new.image = np.sort(rng.integers(0, 9, m)).astype(np.int32)
        new.id = 1000 + np.arange(m)
        got = _merged(old, removed, new)
        keep = np.ones(n, bool)
        keep[removed] = False
        expected = Annotations.concat([old.take(keep), new])
        expected = expected.take(np.argsort(expected.image, kind="stable"))
        assert np.array_equal(got.id, expected.id) and np.array_equal(got.image, expected.image)


def test_an_image_replaced_in_place_is_measured_again(tmp_path: Path, fast_paths: list[bool]) -> None:
    """YOLO boxes are scaled by their image's size: a passed label's image is probed again, since
    overwriting an image in place changes no folder."""
    from PIL import Image

    root = _yolo(tmp_path / "ds", random.Random(11), n=3)
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    _age(root)
    _report(labels[:1], True)
    image = root / "images" / "train" / (labels[1].stem + ".jpg")
    with open(image, "r+b") as fh:  # same file, new content: a 10 x 10 picture
        buffer = io.BytesIO()
        Image.new("RGB", (10, 10), "gray").save(buffer, format="JPEG")
        fh.seek(0)
        fh.write(buffer.getvalue())
        fh.truncate()
    _in_place(labels[1], "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.21 0.2\n")
    assert _report([labels[1]], True) == _report([labels[1]], False)
    assert fast_paths == [False, True]


def test_an_unparseable_xml_fixed_by_a_rename_means_a_full_read(tmp_path: Path, fast_paths: list[bool]) -> None:
    root = _voc(tmp_path / "voc", random.Random(12), n=3)
    xmls = sorted((root / "Annotations").glob("*.xml"))
    for xml in xmls:
        xml.write_text(_voc_xml(xml.stem, "cat"))
    xmls[2].write_text("<annotation><filename>broken")
    _age(root)
    _report(xmls[:1], True)
    _rename_edit(xmls[2], _voc_xml(xmls[2].stem, "dog"))  # not passed; its image and a class appear
    assert _report([xmls[0]], True) == _report([xmls[0]], False)
    assert fast_paths == [False, False]
