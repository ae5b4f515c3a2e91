"""Pascal VOC reader and writer: fixtures, the shared conformance corpus, round trips."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.formats.voc import FORMAT as voc
from detlint.model import Dataset

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
VOC_CASES = [
    "datumaro/voc_full_layout_parts_actions",
    "datumaro/voc_no_size_no_images_empty_xml",
    "datumaro/voc_imagesets_comment_line",
    "datumaro/roboflow_voc_flat_xmin_xmax_order",
    "rodm/voc2012_100img_pascalvoc",
]


def read(path: Path, **kwargs) -> Dataset:
    return voc.read(path, ReadOptions(progress=False, **kwargs)).validate()


def corpus_case(case: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not present at {CORPUS}")
    return CORPUS / case


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def codes(ds: Dataset) -> list[str]:
    return sorted(f.code for f in ds.problems)


def box_of(ds: Dataset, xml: str, item: int) -> np.ndarray:
    file_index = ds.files.index(xml)
    ann = ds.annotations
    row = np.flatnonzero((ann.src_file == file_index) & (ann.src_item == item))
    assert len(row) == 1
    return ann.boxes[row[0]]


# --- fixtures ------------------------------------------------------------------------------


def test_clean_fixture_reads_without_problems() -> None:
    ds = read(FIXTURES / "voc_clean")
    assert voc.sniff(FIXTURES / "voc_clean") > 0
    assert ds.problems == []
    assert len(ds.images) == 3 and len(ds.annotations) == 3
    assert ds.categories.names == ["cat", "dog"]
    assert ds.splits == ["train", "val"]
    assert all(ds.images.path)  # every image file found
    assert ds.annotations.occluded.tolist() == [-1, -1, 1]


def test_defects_fixture_reports_parse_and_name_problems() -> None:
    ds = read(FIXTURES / "voc_defects")
    assert codes(ds) == ["F001", "F001", "F008", "F014"]
    by_code = {f.code: f for f in ds.problems}
    empty = next(f for f in ds.problems if f.code == "F001" and f.file == "Annotations/empty.xml")
    assert empty.line == 1
    truncated = next(f for f in ds.problems if f.code == "F001" and f.file == "Annotations/truncated.xml")
    assert truncated.line and truncated.line >= 4
    assert by_code["F014"].file == "Annotations/case_mismatch.xml"
    assert by_code["F014"].image == "JPEGImages/IMG_CASE.JPG"
    assert by_code["F008"].file == "Annotations/unsafe_name.xml"
    # unparseable files give no image rows; the other five do
    assert len(ds.images) == 5
    paths = dict(zip(ds.images.file_name.tolist(), ds.images.path.tolist()))
    assert paths["img_case.jpg"] == "JPEGImages/IMG_CASE.JPG"
    assert paths["missing_image.jpg"] == ""
    no_size = ds.images.src_file == ds.files.index("Annotations/no_size.xml")
    assert ds.images.width[no_size].tolist() == [0] and ds.images.height[no_size].tolist() == [0]
    raw = ds.annotations.raw[ds.annotations.src_file == ds.files.index("Annotations/no_size.xml")][0]
    assert raw[0] == 2 and math.isnan(raw[2])
    assert math.isnan(box_of(ds, "Annotations/no_size.xml", 0)[2])
    assert ds.splits == ["train"]  # cat_train.txt is a per-class list, not a split


# --- corpus --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", VOC_CASES)
def test_corpus_case_counts_and_classes(case: str) -> None:
    path = corpus_case(case)
    expected = json.loads((CORPUS / "expected.json").read_text())["cases"][case]
    facts, summary = expected["facts"], expected["summary"]
    assert voc.sniff(path) > 0
    ds = read(path)
    assert [f for f in ds.problems if f.code == "F001"] == []
    assert len(ds.annotations) == summary["boxes"] == facts["n_objects"]
    assert ds.categories.names == summary["classes"]
    assert (ds.images.src_file >= 0).sum() == facts["n_xml"]
    counts = np.bincount(ds.annotations.category, minlength=len(ds.categories))
    assert dict(zip(ds.categories.names, counts.tolist())) == facts["objects_per_class"]
    assert int((ds.annotations.difficult == 1).sum()) == facts["difficult_1"]
    assert int((ds.annotations.truncated == 1).sum()) == facts["truncated_1"]
    assert int((ds.annotations.occluded == 1).sum()) == facts["occluded_1"]
    found = sorted(p for p in ds.images.path.tolist() if p)
    assert found == sorted(facts["image_files"])
    first = facts["first_object"]
    xml = next(f for f in ds.files if f.endswith("/" + first["xml"]) or f == first["xml"])
    row = np.flatnonzero((ds.annotations.src_file == ds.files.index(xml)) & (ds.annotations.src_item == 0))[0]
    assert ds.annotations.raw[row].tolist() == [float(v) for v in first["box"]]
    assert ds.categories.names[ds.annotations.category[row]] == first["name"]
    for name in facts["xml_without_size"]:
        image = ds.images.src_file == ds.files.index(next(f for f in ds.files if f.endswith(name)))
        assert ds.images.width[image].tolist() == [0]


def test_roboflow_flat_boxes_parsed_by_tag_name() -> None:
    ds = read(corpus_case("datumaro/roboflow_voc_flat_xmin_xmax_order"))
    assert ds.meta["voc_origin"] == 1
    assert box_of(ds, "train/train_001.xml", 0).tolist() == [1, 0, 5, 2]
    row = ds.files.index("train/train_001.xml")
    assert ds.annotations.raw[ds.annotations.src_file == row][0].tolist() == [2, 1, 5, 2]
    assert box_of(ds, "val/val_001.xml", 1).tolist() == [-1, -1, 9, 1]
    assert sorted(set(ds.images.split.tolist())) == ["train", "val"]
    zero_based = read(corpus_case("datumaro/roboflow_voc_flat_xmin_xmax_order"), voc_origin=0)
    assert box_of(zero_based, "train/train_001.xml", 0).tolist() == [2, 1, 5, 2]
    assert zero_based.meta["voc_origin"] == 0


def test_devkit_listed_image_without_xml_is_kept() -> None:
    ds = read(corpus_case("datumaro/voc_full_layout_parts_actions"))
    assert len(ds.images) == 2
    listed = ds.images.src_file == -1
    assert ds.images.path[listed].tolist() == ["JPEGImages/2007_000002.jpg"]
    assert ds.images.split[listed].tolist() == ["test"]
    person = ds.annotations.extra[1]
    assert any(x.startswith("<part>") for x in person["xml"]) and any(x.startswith("<actions>") for x in person["xml"])
    assert ds.annotations.extra[0] == {"pose": "Unspecified"}
    assert ds.annotations.src_line.tolist() == [11, 23]


def test_imagesets_comment_and_blank_lines() -> None:
    ds = read(corpus_case("datumaro/voc_imagesets_comment_line"))
    assert ds.images.split.tolist() == ["train"]
    assert len(ds.images) == 1


def test_configured_class_list_marks_unknown_names() -> None:
    ds = read(FIXTURES / "voc_clean", classes=["cat"])
    assert ds.categories.names == ["cat"]
    assert ds.annotations.category.tolist() == [0, -1, -1]
    assert ds.annotations.class_id.tolist() == [0, -1, -1]
    assert ds.annotations.extra[1]["name"] == "dog"


def test_single_xml_file(tmp_path: Path) -> None:
    xml = FIXTURES / "voc_clean" / "Annotations" / "img_001.xml"
    assert voc.sniff(xml) > 0
    ds = read(xml)
    assert len(ds.images) == 1 and len(ds.annotations) == 2
    assert ds.files == ["img_001.xml"]


def test_sniff_rejects_unrelated_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert voc.sniff(tmp_path) == 0


# --- writer --------------------------------------------------------------------------------


def round_trip(src: Path, dst: Path) -> tuple[Dataset, Dataset, WriteOptions]:
    before = tree_hashes(src)
    first = read(src)
    options = WriteOptions()
    voc.write(first, dst, options)
    assert tree_hashes(src) == before  # the source is never modified
    return first, read(dst), options


def test_round_trip_clean_fixture(tmp_path: Path) -> None:
    src = FIXTURES / "voc_clean"
    first, second, options = round_trip(src, tmp_path / "out")
    assert options.losses == []
    assert second.problems == []
    assert np.array_equal(first.annotations.boxes, second.annotations.boxes)
    assert np.array_equal(first.annotations.raw, second.annotations.raw)
    assert second.images.split.tolist() == first.images.split.tolist()
    assert second.images.width.tolist() == first.images.width.tolist()
    for name in ("img_001.jpg", "img_002.jpg", "img_003.jpg"):
        assert (tmp_path / "out/JPEGImages" / name).read_bytes() == (src / "JPEGImages" / name).read_bytes()
    assert (tmp_path / "out/ImageSets/Main/val.txt").read_text() == "img_003\n"


@pytest.mark.parametrize("case", VOC_CASES)
def test_round_trip_corpus(case: str, tmp_path: Path) -> None:
    first, second, options = round_trip(corpus_case(case), tmp_path / "out")
    assert np.array_equal(first.annotations.boxes, second.annotations.boxes, equal_nan=True)
    for column in ("category", "difficult", "truncated", "occluded"):
        assert getattr(first.annotations, column).tolist() == getattr(second.annotations, column).tolist()
    assert first.annotations.extra.tolist() == second.annotations.extra.tolist()
    assert first.categories.names == second.categories.names
    assert sorted(first.images.split.tolist()) == sorted(second.images.split.tolist())
    assert first.images.width.tolist() == second.images.width.tolist()
    assert first.images.extra.tolist() == second.images.extra.tolist()  # folder, source, <path>, comments
    missing = sum(1 for p in first.images.path.tolist() if not p)
    assert [loss["count"] for loss in options.losses if loss["what"] == "image file missing"] == (
        [missing] if missing else [])
    for row, path in enumerate(first.images.path.tolist()):
        if path:
            placed = tmp_path / "out" / second.images.path[row]
            assert placed.read_bytes() == (corpus_case(case) / path).read_bytes()


def test_writer_disambiguates_stems_and_records_losses(tmp_path: Path) -> None:
    ds = read(corpus_case("datumaro/roboflow_voc_flat_xmin_xmax_order"))
    ds.images.file_name[2] = "train_001.jpg"  # pretend val_001 is called like a train image
    ds.images.path[2] = ""
    ds.annotations.kind[0] = 1  # a polygon row
    ds.annotations.boxes[1] = [0.25, 0.5, 2.3333, 4]
    ds.annotations.iscrowd[2] = 1
    options = WriteOptions()
    voc.write(ds, tmp_path / "out", options)
    losses = {loss["what"]: loss["count"] for loss in options.losses}
    assert losses["image names changed to keep Annotations/ and JPEGImages/ stems unique"] == 1
    assert losses["polygons reduced to boxes"] == 1
    assert losses["non-integer coordinates rounded"] == 1
    assert losses["iscrowd flag"] == 1
    assert losses["image file missing"] == 1
    out = read(tmp_path / "out")
    assert len(out.images) == 3 and len(out.annotations) == 4
    assert sorted((tmp_path / "out/Annotations").iterdir()) == sorted(
        tmp_path / "out/Annotations" / n for n in ("train_001.xml", "train_002.xml", "val_train_001.xml"))
    assert (tmp_path / "out/ImageSets/Main/val.txt").read_text() == "val_train_001\n"
    rows = out.annotations.src_file == out.files.index("Annotations/train_002.xml")
    assert np.allclose(out.annotations.boxes[rows][0], [0.25, 0.5, 2.333, 4])


def test_writer_refuses_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(Exception):  # noqa: B017 - the writer's own error type is not part of its contract
        voc.write(read(FIXTURES / "voc_clean"), tmp_path, WriteOptions())


def test_coordinates_are_written_like_python_rounds_them() -> None:
    """Bulk formatting: 3 decimals at most, no trailing zeros, integers bare, no '-0'."""
    import random

    from detlint.formats.voc.write import _coordinate_texts

    rng = random.Random(3)
    values = [rng.choice([rng.uniform(-50, 5000), float(rng.randint(-5, 5000)), round(rng.uniform(0, 99), 1),
                          rng.uniform(-1e-4, 1e-4)]) for _ in range(4000)]
    texts, _ = _coordinate_texts(np.array(values).reshape(-1, 4))
    for value, text in zip(values, texts):
        assert abs(float(text) - round(value, 3)) < 1e-6, (value, text)
        assert text != "-0" and not (("." in text) and text.endswith("0")) and not text.endswith(".")
        if value == int(value):
            assert text == str(int(value))


# --- the format object ---------------------------------------------------------------------


def test_traits_are_the_documented_ones() -> None:
    from detlint.formats import get
    from detlint.formats.protocol import Trait

    assert get("voc") is voc
    assert voc.traits == {Trait.DECLARED_SIZES, Trait.PIXEL_CONVENTION, Trait.NAMED_IMAGE_FILES, Trait.BASENAME_LOOKUP,
                          Trait.CLASS_NAME}


def test_claim_takes_voc_xml_as_a_member(tmp_path: Path) -> None:
    from detlint.formats.protocol import Claim

    (tmp_path / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>")
    (tmp_path / "config.xml").write_text("<settings/>")
    (tmp_path / "a.txt").write_text("<annotation>")
    assert voc.claim(tmp_path / "a.xml") is Claim.MEMBER
    assert voc.claim(tmp_path / "config.xml") is None
    assert voc.claim(tmp_path / "a.txt") is None
    assert voc.claim(tmp_path / "missing.xml") is None


def test_member_root_is_above_the_annotations_folder(tmp_path: Path) -> None:
    (tmp_path / "VOC2012" / "Annotations" / "train").mkdir(parents=True)
    root = tmp_path.absolute() / "VOC2012"
    assert voc.member_root(tmp_path / "VOC2012" / "Annotations" / "a.xml") == root
    assert voc.member_root(tmp_path / "VOC2012" / "Annotations" / "train" / "a.xml") == root
    assert voc.member_root(tmp_path / "VOC2012" / "a.xml") is None  # flat: markers decide
    assert voc.member_root(tmp_path / "VOC2012" / "Annotations" / "a.txt") is None


def test_a_truncated_xml_is_f001_without_lxmls_repeated_location(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text("<annotation><filename>a.jpg</filename>\n<size>")
    [problem] = [p for p in voc.read(tmp_path, ReadOptions(progress=False)).problems if p.code == "F001"]
    assert problem.line == 2 and problem.message.startswith("XML does not parse: ")
    assert ", line" not in problem.message and "column" not in problem.message
