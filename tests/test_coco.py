"""The COCO reader on real layouts and broken files: never a crash, problems located."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import detlint
from detlint.errors import NotADatasetError
from detlint.formats import sniff

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def write_coco(path: Path, images=None, annotations=None, categories=None, raw: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_text(raw)
        return path
    doc = {"images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}],
           "annotations": annotations if annotations is not None else [
               {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0}],
           "categories": categories if categories is not None else [{"id": 1, "name": "cat"}]}
    path.write_text(json.dumps(doc, indent=2))
    return path


def make_image(path: Path, size: tuple[int, int] = (20, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)


def test_single_json_beside_images(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations.json")
    make_image(tmp_path / "images" / "a.jpg")
    ds = detlint.load(tmp_path)
    assert ds.format == "coco" and ds.splits == [""]
    assert ds.images.path.tolist() == ["images/a.jpg"]
    assert ds.annotations.boxes.tolist() == [[1, 2, 4, 6]]  # xywh -> xyxy
    assert ds.annotations.raw.tolist() == [[1, 2, 3, 4]]


def test_split_files_with_images_per_split(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations" / "instances_train2017.json")
    write_coco(tmp_path / "annotations" / "instances_val2017.json",
               images=[{"id": 1, "file_name": "sub/b.jpg", "width": 20, "height": 10}])
    make_image(tmp_path / "train2017" / "a.jpg")
    make_image(tmp_path / "val2017" / "sub" / "b.jpg")
    ds = detlint.load(tmp_path)
    assert ds.splits == ["train2017", "val2017"]
    assert ds.images.path.tolist() == ["train2017/a.jpg", "val2017/sub/b.jpg"]
    # image ids repeat across split files: each annotation links to its own file's image
    assert ds.annotations.image.tolist() == [0, 1]


def test_case_mismatched_file_name_is_found_and_reported(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations.json")
    make_image(tmp_path / "A.JPG")
    ds = detlint.load(tmp_path)
    assert ds.images.path.tolist() == ["A.JPG"]
    assert [p.code for p in ds.problems] == ["F014"]
    assert ds.problems[0].pointer == "/images/0/file_name"


def test_syntax_error_is_a_located_f001(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations.json", raw='{\n  "images": [\n    {"id": 1,,}\n  ]\n}')
    ds = detlint.load(tmp_path)
    (problem,) = ds.problems
    assert problem.code == "F001" and problem.file == "annotations.json"
    assert problem.line == 3 and problem.column is not None
    assert len(ds.images) == 0


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e400"])
def test_lenient_json_is_read_and_reported(tmp_path: Path, token: str) -> None:
    raw = ('{"images": [{"id": 1, "file_name": "a.jpg", "width": 20, "height": 10}],\n'
           f'"annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, {token}, 3, 4], "area": 1, "iscrowd": 0}}],\n'
           '"categories": [{"id": 1, "name": "cat"}]}')
    write_coco(tmp_path / "annotations.json", raw=raw)
    ds = detlint.load(tmp_path)
    assert [p.code for p in ds.problems] == ["F001"]
    assert ds.problems[0].line == 2
    codes = {f.code for f in detlint.check(ds)}
    assert {"F001", "B004"} <= codes


def test_malformed_entries_become_f002_not_crashes(tmp_path: Path) -> None:
    annotations = [
        {"id": "7", "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
        {"id": 8, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "area": 12, "iscrowd": 0},
        {"id": 9, "image_id": 1, "category_id": 1, "bbox": ["1", 2, 3, 4], "area": 12, "iscrowd": 0},
        "not an object",
        {"id": 10, "image_id": 1, "category_id": 1},
    ]
    write_coco(tmp_path / "annotations.json", annotations=annotations)
    ds = detlint.load(tmp_path)
    pointers = sorted(p.pointer for p in ds.problems if p.code == "F002")
    assert "/annotations/0/id" in pointers
    assert "/annotations/1/bbox" in pointers
    assert "/annotations/2/bbox" in pointers
    assert "/annotations/3" in pointers
    assert len(ds.annotations) == 4  # the non-object entry is dropped, the rest kept
    assert ds.annotations.has_box.tolist() == [True, True, True, False]
    findings = detlint.check(ds)
    missing = [f for f in findings if f.code == "F002" and f.pointer == "/annotations/4"]
    assert missing and "'bbox'" in missing[0].message


def test_sparse_category_ids_and_bbox_less_annotations(tmp_path: Path) -> None:
    write_coco(tmp_path / "annotations.json", categories=[{"id": 90, "name": "z"}, {"id": 3, "name": "a"}],
               annotations=[{"id": 1, "image_id": 1, "category_id": 90, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": 0},
                            {"id": 2, "image_id": 1, "category_id": 3}])
    ds = detlint.load(tmp_path)
    assert ds.categories.names == ["a", "z"]  # id order
    assert ds.categories.ids.tolist() == [3, 90]
    assert ds.annotations.category.tolist() == [1, 0]
    assert ds.annotations.kind.tolist() == [0, 2]


def test_results_list_is_not_a_dataset(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}]))
    with pytest.raises(NotADatasetError, match="results list"):
        detlint.load(path)


def test_corpus_coco_cases_recover_expected_counts() -> None:
    expected_path = CORPUS / "expected.json"
    if not expected_path.is_file():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    cases = json.loads(expected_path.read_text())["cases"]
    checked = 0
    for name, case in cases.items():
        if case["format"] != "coco" or name.startswith("sahi/"):
            continue
        ds = detlint.load(CORPUS / case["dir"])
        summary = case["summary"]
        assert len(ds.images) == summary["images"], name
        assert int(ds.annotations.has_box.sum()) == summary["boxes"], name
        assert sorted(ds.categories.names) == sorted(summary["classes"]), name
        checked += 1
    assert checked >= 5


def test_sahi_files_are_read_per_file() -> None:
    root = CORPUS / "sahi" / "coco_area_is_image_area"
    if not root.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    ds = detlint.load(root)
    per_split = {s: int((ds.images.split == s).sum()) for s in ds.splits}
    assert per_split == {"combined_coco": 2, "terrain1_coco": 1, "terrain2_coco": 1}
    assert len(ds.annotations) == 24
    assert {"B009", "C005"} <= {f.code for f in detlint.check(ds)}


def test_sniff_prefers_coco_for_a_json_folder(tmp_path: Path) -> None:
    write_coco(tmp_path / "train" / "_annotations.coco.json")
    write_coco(tmp_path / "valid" / "_annotations.coco.json")
    assert sniff(tmp_path) == "coco"
    ds = detlint.load(tmp_path)
    assert sorted(ds.splits) == ["train", "valid"]
    assert np.all(ds.annotations.image >= 0)


def _sliced_case(rng: random.Random, tmp: Path, tricky: bool = True) -> Path:
    """A COCO file with the awkward things slicing must survive: nested 'annotations' keys,
    '},{' inside strings and nested lists, non-dict items, bad ids, NaN-free numbers, sections
    in a random order, and random whitespace."""
    images = [{"id": i, "file_name": f"im{i}.jpg", "width": 64, "height": 48} for i in range(1, 30)]
    annotations: list = []
    for k in range(rng.randint(0, 400)):
        item = {"id": k + 1, "image_id": rng.randint(0, 31), "category_id": rng.choice([1, 2, 7]),
                "bbox": [rng.uniform(0, 60), rng.uniform(0, 40), rng.uniform(-1, 30), rng.uniform(0, 30)],
                "area": rng.uniform(0, 900), "iscrowd": rng.choice([0, 0, 1]), "segmentation": []}
        roll = rng.random() if tricky else 1.0
        if roll < 0.05:
            item["note"] = 'a "},{" in a string'
        elif roll < 0.1:
            item["attributes"] = [{"a": 1}, {"b": [2, {"c": 3}]}]
        elif roll < 0.13:
            item = rng.choice([5, "text", None, [1, 2]])
        elif roll < 0.16:
            item["id"] = rng.choice([2.0, "x", None])
        elif roll < 0.18:
            del item["bbox"]
        annotations.append(item)
    info = {"annotations": [{"x": 1}, {"y": 2}]} if tricky else {"description": "plain"}
    document = {"info": info, "images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 7, "name": "bird"}]}
    order = list(document)
    rng.shuffle(order)
    text = json.dumps({key: document[key] for key in order}, indent=rng.choice([None, 1, 2]),
                      separators=rng.choice([(",", ":"), (", ", ": ")]))
    path = tmp / "annotations.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", range(12))
def test_sliced_annotations_read_exactly_like_one_parse(tmp_path: Path, seed: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from detlint.formats.coco import slices as coco_slices

    path = _sliced_case(random.Random(seed), tmp_path)
    whole = detlint.load(path)
    monkeypatch.setattr(coco_slices, "MIN_BYTES", 0)
    monkeypatch.setattr(coco_slices, "SLICE_BYTES", random.Random(seed).choice([1, 200, 1500]))
    sliced = detlint.load(path)
    # problems come slice by slice, so in another order; reports sort them
    assert sorted(map(repr, sliced.problems)) == sorted(map(repr, whole.problems))
    assert sliced.meta == whole.meta and sliced.categories.names == whole.categories.names
    for name, column in vars(whole.annotations).items():
        other = getattr(sliced.annotations, name)
        if column.dtype == object:
            assert column.tolist() == other.tolist(), name
        else:
            assert np.array_equal(column, other, equal_nan=column.dtype.kind == "f"), name


def test_slices_are_really_used_on_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detlint.formats.coco import slices as coco_slices

    annotations = [{"id": k, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]} for k in range(1, 200)]
    path = write_coco(tmp_path / "a.json", images=[{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}],
                      annotations=annotations, categories=[{"id": 1, "name": "cat"}])
    monkeypatch.setattr(coco_slices, "MIN_BYTES", 0)
    monkeypatch.setattr(coco_slices, "SLICE_BYTES", 100)
    built: list[int] = []
    real = coco_slices.SliceJob.finish
    monkeypatch.setattr(coco_slices.SliceJob, "finish", lambda self: built.append(len(real(self) or [])) or real(self))
    ds = detlint.load(path)
    assert built and built[0] > 2
    assert ds.annotations.src_item.tolist() == list(range(199)) and ds.annotations.id.tolist() == list(range(1, 200))


@pytest.mark.parametrize("helper", ["works", "dies"])
def test_sliced_read_on_two_processes_equals_one_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      helper: str) -> None:
    """The forked helper builds every other slice; if it dies, the parent builds them."""
    from detlint.formats.coco import slices as coco_slices

    path = _sliced_case(random.Random(7), tmp_path, tricky=False)
    whole = detlint.load(path)
    monkeypatch.setattr(coco_slices, "MIN_BYTES", 0)
    monkeypatch.setattr(coco_slices, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(coco_slices, "SLICE_BYTES", 300)
    monkeypatch.setattr(coco_slices, "_parallel_ok", lambda data: True)
    if helper == "dies":
        monkeypatch.setattr(coco_slices, "_helper_main", lambda *args: os._exit(3))
    finished: list[bool] = []
    real = coco_slices.SliceJob.finish
    monkeypatch.setattr(coco_slices.SliceJob, "finish",
                        lambda self: finished.append(self.helper is not None) or real(self))
    sliced = detlint.load(path)
    assert finished == [True]  # a helper ran (and, when it died, its share was built here)
    assert sorted(map(repr, sliced.problems)) == sorted(map(repr, whole.problems))
    for name, column in vars(whole.annotations).items():
        other = getattr(sliced.annotations, name)
        assert column.tolist() == other.tolist() if column.dtype == object else \
            np.array_equal(column, other, equal_nan=column.dtype.kind == "f"), name


def test_the_collector_is_restored_after_a_read(tmp_path: Path) -> None:
    import gc

    path = write_coco(tmp_path / "a.json")
    detlint.load(path)
    assert gc.isenabled()
    gc.disable()
    try:
        detlint.load(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_document_that_does_not_slice_stops_the_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A nested 'annotations' array comes first: the rest does not parse with the marker, the
    helper is stopped and the file is parsed whole, with the same result."""
    from detlint.formats.coco import slices as coco_slices

    path = _sliced_case(random.Random(5), tmp_path)  # tricky: info.annotations precedes the real one
    text = path.read_text()
    path.write_text('{"info": {"annotations": [' + ", ".join(f'{{"a": {i}}}' for i in range(400)) + "]}, "
                    + text.lstrip()[1:])
    whole = detlint.load(path)
    monkeypatch.setattr(coco_slices, "MIN_BYTES", 0)
    monkeypatch.setattr(coco_slices, "SLICE_BYTES", 200)
    monkeypatch.setattr(coco_slices, "_parallel_ok", lambda data: True)
    cancelled: list[bool] = []
    real = coco_slices.SliceJob.cancel
    monkeypatch.setattr(coco_slices.SliceJob, "cancel", lambda self: cancelled.append(True) or real(self))
    sliced = detlint.load(path)
    assert cancelled == [True]
    assert sorted(map(repr, sliced.problems)) == sorted(map(repr, whole.problems))
    assert sliced.annotations.id.tolist() == whole.annotations.id.tolist()


def test_the_format_object(tmp_path: Path) -> None:
    """CocoFormat: registered, its traits, pointers, claims and whole-dataset files."""
    from detlint.formats import get
    from detlint.formats.coco import FORMAT
    from detlint.formats.protocol import Claim, Format, Trait

    assert get("coco") is FORMAT and isinstance(FORMAT, Format) and FORMAT.title == "COCO"
    assert FORMAT.has(Trait.DECLARED_IDS) and FORMAT.has(Trait.CLASS_ID) and not FORMAT.has(Trait.LABEL_ROWS)
    assert not FORMAT.incremental
    path = write_coco(tmp_path / "annotations" / "instances_train.json")
    write_coco(tmp_path / "annotations" / "instances_val.json")
    ds = detlint.load(tmp_path)
    assert FORMAT.dataset_files(ds) == ["annotations/instances_train.json", "annotations/instances_val.json"]
    assert FORMAT.locate(ds, "annotations", 12, "bbox") == "/annotations/12/bbox"
    assert FORMAT.locate(ds, "categories", 0, None) == "/categories/0"
    assert FORMAT.locate(ds, "images", 3, "a/b~c") == "/images/3/a~1b~0c"
    assert FORMAT.claim(path) is Claim.DOCUMENT
    (tmp_path / "other.json").write_text('{"name": "not a dataset"}')
    (tmp_path / "labels.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert FORMAT.claim(tmp_path / "other.json") is None and FORMAT.claim(tmp_path / "labels.txt") is None
    assert FORMAT.claim(tmp_path / "missing.json") is None
