"""The typed decode of COCO annotations (detlint/formats/coco/typed.py) is a shortcut only: on
every deviation from the well-formed kind the read gives exactly what the tolerant orjson path
gives (columns, located F001/F002 findings), and the clean slices around it stay typed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import detlint
from detlint.formats.coco import slices, typed

CLEAN = '{"id":%d,"image_id":1,"category_id":1,"bbox":[1.5,2,3,4],"area":12,"iscrowd":0,"segmentation":[]}'
DEVIANTS = {
    "keys only": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4]}',
    "no bbox": '{"id":%d,"image_id":1,"category_id":1}',
    "null bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":null}',
    "short bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3]}',
    "text bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":"1 2 3 4"}',
    "bool in bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":[true,2,3,4]}',
    "huge int in bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1' + "0" * 30 + ',2,3,4]}',
    "infinite bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1e400,2,3,4]}',
    "NaN bbox": '{"id":%d,"image_id":1,"category_id":1,"bbox":[NaN,2,3,4]}',
    "float id": '{"id":%d.0,"image_id":1,"category_id":1,"bbox":[1,2,3,4]}',
    "bool id": '{"id":true,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"n":%d}',
    "null id": '{"id":null,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"n":%d}',
    "2**63 id": '{"id":9223372036854775808,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"n":%d}',
    "2**64 id": '{"id":18446744073709551616,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"n":%d}',
    "-2**63-1 image_id": '{"id":%d,"image_id":-9223372036854775809,"category_id":1,"bbox":[1,2,3,4]}',
    "no image_id": '{"id":%d,"category_id":1,"bbox":[1,2,3,4]}',
    "text category_id": '{"id":%d,"image_id":1,"category_id":"1","bbox":[1,2,3,4]}',
    "null area": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":null}',
    "text area": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"area":"12"}',
    "iscrowd 2": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"iscrowd":2}',
    "iscrowd true": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"iscrowd":true}',
    "iscrowd null": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"iscrowd":null}',
    "iscrowd 2**70": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"iscrowd":1180591620717411303424}',
    "null segmentation": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"segmentation":null}',
    "text segmentation": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"segmentation":"x"}',
    "polygon": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"segmentation":[[1,2,3,4.5,5,6]]}',
    "RLE": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"iscrowd":1,'
           '"segmentation":{"counts":"a\\"}b","size":[2,2]}}',
    "huge int in polygon": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],'
                           '"segmentation":[[18446744073709551616,2,3,4,5,6]]}',
    "lone surrogate in RLE": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],'
                             '"segmentation":{"counts":"\\ud800","size":[1,1]}}',
    "score": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":0.5}',
    "int score": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":1}',
    "null score": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":null}',
    "text score": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":"0.5"}',
    "object score": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":{"a":[1e400]}}',
    "unknown key": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"note":"x"}',
    "score and unknown key": '{"id":%d,"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":0.5,"note":1}',
    "duplicate key": '{"id":%d,"image_id":1,"category_id":1,"category_id":2,"bbox":[1,2,3,4]}',
    "not an object": '[%d]',
}


def _write(tmp_path: Path, deviant: str) -> Path:
    annotations = [CLEAN % k for k in range(1, 40)] + [deviant % 40] + [CLEAN % k for k in range(41, 80)]
    text = ('{"images":[{"id":1,"file_name":"a.jpg","width":20,"height":10}],"annotations":['
            + ",\n".join(annotations) + '],"categories":[{"id":1,"name":"cat"},{"id":2,"name":"dog"}]}')
    path = tmp_path / "annotations.json"
    path.write_text(text, encoding="utf-8")
    return path


def _same(a: detlint.Dataset, b: detlint.Dataset) -> None:
    assert sorted(map(repr, a.problems)) == sorted(map(repr, b.problems))
    assert a.meta == b.meta and a.categories.names == b.categories.names
    for name, column in vars(a.annotations).items():
        other = getattr(b.annotations, name)
        assert column.dtype == other.dtype, name
        if column.dtype == object:
            assert column.tolist() == other.tolist(), name
        else:
            assert np.array_equal(column, other, equal_nan=column.dtype.kind == "f"), name


@pytest.mark.parametrize("case", sorted(DEVIANTS))
def test_a_deviation_reads_as_the_tolerant_path_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         case: str) -> None:
    path = _write(tmp_path, DEVIANTS[case])
    monkeypatch.setattr(slices, "MIN_BYTES", 1 << 40)  # never sliced: orjson and the dict path
    tolerant = detlint.load(path)
    decoded: list[bool] = []
    real = typed.decode_items
    monkeypatch.setattr(typed, "decode_items", lambda chunk: decoded.append(real(chunk) is not None) or real(chunk))
    monkeypatch.setattr(slices, "MIN_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_BYTES", 900)  # ~9 annotations a slice
    sliced = detlint.load(path)
    _same(tolerant, sliced)
    if not any(p.code == "F001" for p in tolerant.problems):  # strict JSON: the clean slices were typed
        assert decoded.count(True) >= 5, decoded


def test_a_clean_file_is_read_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the annotations after the last cut (parsed with the rest of the document) take the
    dict path."""
    path = _write(tmp_path, CLEAN)
    monkeypatch.setattr(slices, "MIN_BYTES", 1 << 40)
    tolerant = detlint.load(path)
    monkeypatch.setattr(slices, "MIN_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_BYTES", 900)
    from detlint.formats.coco import read, tables

    real = tables.annotation_table
    by_dicts: list[int] = []
    for module in (read, tables):
        monkeypatch.setattr(module, "annotation_table",
                            lambda items, *a, **k: by_dicts.append(len(items)) or real(items, *a, **k))
    _same(tolerant, detlint.load(path))
    assert sum(by_dicts) < 10, by_dicts


def test_a_big_file_is_read_whole_in_one_read_and_cut_at_its_opened_size(tmp_path: Path) -> None:
    """The read path hands the reader the file's exact bytes (one read of the known size, more
    reads only when the first one is short), never more than the size asked for."""
    from detlint.boundary import Boundary, read_fd

    path = tmp_path / "big.json"
    payload = bytes(range(256)) * 5000  # 1.28 MB: far over one 64 KB read
    path.write_bytes(payload)
    assert Boundary(tmp_path).read(str(path)) == payload
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_fd(fd, 70_000) == payload[:70_000]
        assert read_fd(fd, len(payload)) == payload[70_000:]  # a short read: what is left, then EOF
    finally:
        os.close(fd)


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="Linux /proc only")
def test_the_helper_gate_counts_the_tasks_running_now_this_one_included() -> None:
    assert slices._running_now() >= 1


def test_a_predictions_like_file_is_read_typed_with_its_scores_kept(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A score on every annotation (a predictions-like file) is the extra the dict path keeps,
    not a deviation that sends each slice to orjson and dicts."""
    scored = CLEAN.replace('"segmentation":[]', '"segmentation":[],"score":0.25')
    path = tmp_path / "annotations.json"
    path.write_text('{"images":[{"id":1,"file_name":"a.jpg","width":20,"height":10}],"annotations":['
                    + ",\n".join(scored % k for k in range(1, 80)) + '],"categories":[{"id":1,"name":"cat"}]}',
                    encoding="utf-8")
    monkeypatch.setattr(slices, "MIN_BYTES", 1 << 40)
    tolerant = detlint.load(path)
    monkeypatch.setattr(slices, "MIN_BYTES", 0)
    monkeypatch.setattr(slices, "SLICE_BYTES", 900)
    decoded: list[bool] = []
    real = typed.decode_items
    monkeypatch.setattr(typed, "decode_items", lambda chunk: decoded.append(real(chunk) is not None) or real(chunk))
    sliced = detlint.load(path)
    _same(tolerant, sliced)
    assert decoded and all(decoded), decoded
    assert sliced.annotations.extra.tolist() == [{"score": 0.25}] * 79
