"""The parse cache never changes a result: cached and uncached reports agree after random edits;
a corrupt or unwritable cache falls back to a full parse."""

from __future__ import annotations

import os
import random
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detlint import fileio, readcache
from detlint.checking import CheckRequest, run_check
from detlint.incremental import parse_cache

PAST_NS = 1_600_000_000 * 10**9  # files "edited long ago": outside the just-modified window


def _age(root: Path) -> None:
    """Give every file an old mtime (unique per file), as a dataset checked out yesterday."""
    for i, path in enumerate(sorted(p for p in root.rglob("*") if p.is_file())):
        os.utime(path, ns=(PAST_NS + i, PAST_NS + i))


def _report(path: Path, use_cache: bool, images: str = "none") -> tuple[str, int]:
    return run_check(CheckRequest(paths=[path], output_format="json", images=images, use_cache=use_cache))


def _yolo(root: Path, rng: random.Random, n: int = 12) -> Path:
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [cat, dog, bird]\n")
    for i in range(n):
        Image.new("RGB", (rng.choice([32, 40, 48]), rng.choice([24, 32])), "gray").save(
            root / "images" / "train" / f"im{i}.jpg")
        (root / "labels" / "train" / f"im{i}.txt").write_text(_label_text(rng))
    return root


def _label_text(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.random()
        if kind < 0.1:
            lines.append("1 0.5 oops 0.2 0.2")  # F006
        elif kind < 0.2:
            points = " ".join(f"{rng.random():.3f}" for _ in range(8))
            lines.append(f"{rng.randint(0, 3)} {points}")  # a polygon row
        else:
            cx, cy, w, h = (rng.uniform(0, 1.1) for _ in range(4))
            lines.append(f"{rng.randint(0, 3)} {cx:.4f} {cy:.4f} {w:.4f} {h:.4f}")
    return "\n".join(lines) + ("\n" if lines else "")


def _voc(root: Path, rng: random.Random, n: int = 10) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for i in range(n):
        Image.new("RGB", (40, 30), "gray").save(root / "JPEGImages" / f"v{i}.jpg")
        (root / "Annotations" / f"v{i}.xml").write_text(_xml_text(rng, f"v{i}.jpg"))
    return root


def _xml_text(rng: random.Random, name: str) -> str:
    objects = []
    for _ in range(rng.randint(0, 3)):
        xmin = rng.choice(["1", "0", "5.5", "nan", "inf", "abc"])
        objects.append(f"<object><name>{rng.choice(['cat', 'dog'])}</name><difficult>{rng.randint(0, 1)}</difficult>"
                       f"<bndbox><xmin>{xmin}</xmin><ymin>2</ymin><xmax>{rng.randint(3, 45)}</xmax>"
                       f"<ymax>20</ymax></bndbox></object>")
    if rng.random() < 0.1:
        return "<annotation><filename>broken"  # F001
    return (f"<annotation><filename>{name}</filename><size><width>40</width><height>30</height>"
            f"<depth>3</depth></size>{''.join(objects)}</annotation>")


def _edit_yolo(root: Path, rng: random.Random) -> None:
    labels = sorted((root / "labels" / "train").glob("*.txt"))
    action = rng.choice(["modify", "append", "truncate", "delete", "add", "add_orphan", "image"])
    target = rng.choice(labels) if labels else None
    if action == "modify" and target is not None:
        target.write_text(_label_text(rng))
    elif action == "append" and target is not None:
        with open(target, "a") as fh:
            fh.write(_label_text(rng))
    elif action == "truncate" and target is not None:
        target.write_text("")
    elif action == "delete" and target is not None:
        target.unlink()
    elif action in ("add", "add_orphan"):
        name = f"new{rng.randint(0, 10**6)}"
        if action == "add":
            Image.new("RGB", (36, 28)).save(root / "images" / "train" / f"{name}.jpg")
        (root / "labels" / "train" / f"{name}.txt").write_text(_label_text(rng))
    elif action == "image":  # a new image size changes the normalisation of its rows
        image = rng.choice(sorted((root / "images" / "train").glob("*.jpg")))
        Image.new("RGB", (rng.choice([20, 64]), 50)).save(image)


def _edit_voc(root: Path, rng: random.Random) -> None:
    xmls = sorted((root / "Annotations").glob("*.xml"))
    action = rng.choice(["modify", "delete", "add"])
    if action == "modify" and xmls:
        target = rng.choice(xmls)
        target.write_text(_xml_text(rng, target.stem + ".jpg"))
    elif action == "delete" and xmls:
        rng.choice(xmls).unlink()
    else:
        name = f"n{rng.randint(0, 10**6)}"
        Image.new("RGB", (40, 30)).save(root / "JPEGImages" / f"{name}.jpg")
        (root / "Annotations" / f"{name}.xml").write_text(_xml_text(rng, f"{name}.jpg"))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(folder))
    return folder


@pytest.mark.parametrize("seed", range(4))
def test_yolo_cached_reports_equal_uncached_after_random_edits(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = _yolo(tmp_path / "ds", rng)
    _age(root)
    assert _report(root, use_cache=True) == _report(root, use_cache=False)  # builds the cache
    for _ in range(6):
        for _ in range(rng.randint(1, 3)):
            _edit_yolo(root, rng)
        _age(root)  # edits older than the racy window: the cache must notice them by (size, mtime)
        assert _report(root, use_cache=True) == _report(root, use_cache=False)


@pytest.mark.parametrize("seed", range(3))
def test_voc_cached_reports_equal_uncached_after_random_edits(tmp_path: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    root = _voc(tmp_path / "voc", rng)
    _age(root)
    assert _report(root, use_cache=True) == _report(root, use_cache=False)
    for _ in range(6):
        _edit_voc(root, rng)
        _age(root)
        assert _report(root, use_cache=True) == _report(root, use_cache=False)


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detlint.formats.yolo import parse as yolo_parse
    from detlint.formats.yolo import read as yolo_read

    root = _yolo(tmp_path / "ds", random.Random(7))
    _age(root)
    _report(root, use_cache=True)
    read: list[int] = []
    probed: list[str] = []
    real_read_all, real_size = yolo_parse.read_all, yolo_read.header_size
    monkeypatch.setattr(yolo_parse, "read_all", lambda labels, *a: read.append(len(labels)) or real_read_all(labels, *a))
    monkeypatch.setattr(yolo_read, "header_size", lambda p, *a: probed.append(str(p)) or real_size(p, *a))
    _report(root, use_cache=True)
    assert sum(read) == 0 and probed == []
    (root / "labels" / "train" / "im3.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    _age(root)
    _report(root, use_cache=True)
    assert sum(read) == 1 and probed == []


def test_just_modified_files_are_parsed_again(tmp_path: Path) -> None:
    """A file written within the timestamp granularity is never trusted from the cache."""
    root = _yolo(tmp_path / "ds", random.Random(3), n=3)
    label = root / "labels" / "train" / "im0.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n")
    _report(root, use_cache=True)
    before = label.stat()
    label.write_text("0 0.5 0.5 0.9 0.2\n")  # same size; mtime may not have moved
    os.utime(label, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _report(root, use_cache=True) == _report(root, use_cache=False)


def test_corrupt_cache_falls_back_to_a_full_parse(tmp_path: Path, cache_dir: Path) -> None:
    root = _yolo(tmp_path / "ds", random.Random(1))
    voc = _voc(tmp_path / "voc", random.Random(2))
    _age(root)
    _age(voc)
    expected = [_report(p, use_cache=False) for p in (root, voc)]
    for p in (root, voc):
        _report(p, use_cache=True)
    files = sorted(cache_dir.glob("parse-*.npz"))
    assert len(files) == 2
    for garbage in (b"", b"not a zip file", files[0].read_bytes()[:200]):
        for f in files:
            f.write_bytes(garbage)
        assert [_report(p, use_cache=True) for p in (root, voc)] == expected
    # well-formed npz with wrong contents: another root's key, mismatched lengths
    for f in files:
        np.savez(f, __key__=np.frombuffer(b"1\0/elsewhere", np.uint8))
    assert [_report(p, use_cache=True) for p in (root, voc)] == expected
    for f, p in zip(files, (root, voc)):
        stamp = np.frombuffer(f"{parse_cache.CACHE_VERSION}\0{os.path.abspath(p)}".encode(), np.uint8)
        np.savez(f, __key__=stamp, rows_counts=np.array([5, -1]), rows_paths=np.zeros(3, np.uint8),
                 rows_extras=np.frombuffer(b"[1,2", np.uint8))
    assert [_report(p, use_cache=True) for p in (root, voc)] == expected


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="permissions are not enforced for root (or on Windows)")
def test_read_only_cache_falls_back_to_a_full_parse(tmp_path: Path, cache_dir: Path) -> None:
    root = _yolo(tmp_path / "ds", random.Random(5))
    _age(root)
    cache_dir.mkdir()
    cache_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert _report(root, use_cache=True) == _report(root, use_cache=False)
        assert not list(cache_dir.iterdir())
    finally:
        cache_dir.chmod(stat.S_IRWXU)


def test_unwritable_cache_location_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the cache 'folder' is a regular file, so nothing can be created in it."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(blocker / "cache"))
    root = _yolo(tmp_path / "ds", random.Random(6))
    _age(root)
    assert _report(root, use_cache=True) == _report(root, use_cache=False)
    assert _report(root, use_cache=True) == _report(root, use_cache=False)


def test_no_cache_flag_writes_nothing(tmp_path: Path, cache_dir: Path) -> None:
    root = _yolo(tmp_path / "ds", random.Random(8))
    _report(root, use_cache=False)
    assert not cache_dir.exists() or not list(cache_dir.glob("parse-*"))


def test_library_load_never_caches(tmp_path: Path, cache_dir: Path) -> None:
    import detlint

    detlint.load(_yolo(tmp_path / "ds", random.Random(9)))
    assert not cache_dir.exists() or not list(cache_dir.glob("parse-*"))


def test_row_table_take_and_concat() -> None:
    table = readcache.RowTable(np.array([2, 0, 1]), {"v": np.array([10, 11, 30])}, {2: {"x": 1}})
    taken = table.take(np.array([2, 0, 2]))
    assert taken.counts.tolist() == [1, 2, 1]
    assert taken.columns["v"].tolist() == [30, 10, 11, 30]
    assert taken.extras == {0: {"x": 1}, 2: {"x": 1}}
    joined = readcache.RowTable.concat(table, readcache.RowTable(np.array([1]), {"v": np.array([99])}, {0: 5}))
    assert joined.columns["v"].tolist() == [10, 11, 30, 99] and joined.extras == {2: {"x": 1}, 3: 5}


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(tmp_path / "here"))
    assert fileio.cache_dir() == tmp_path / "here"
    monkeypatch.delenv("DETLINT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert fileio.cache_dir() == tmp_path / "xdg" / "detlint"
