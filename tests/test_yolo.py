"""YOLO reader and writer: fixtures, the public corpus, malformed rows, YOLO -> YOLO round trip."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from detlint.formats.protocol import ReadOptions, WriteOptions

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


yolo = importlib.import_module("detlint.formats.yolo")


def load(path: Path, **kwargs):
    return yolo.FORMAT.read(path, ReadOptions(progress=False, **kwargs)).validate()


def codes(ds) -> list[str]:
    return sorted(f.code for f in ds.problems)


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------ fixtures


def test_clean_fixture_loads():
    ds = load(FIXTURES / "yolo_clean")
    assert ds.categories.names == ["cat", "dog", "bird"]
    assert ds.splits == ["train", "val"]
    assert len(ds.images) == 3 and len(ds.annotations) == 3
    assert ds.problems == []
    assert yolo.FORMAT.sniff(FIXTURES / "yolo_clean") > 0
    assert yolo.FORMAT.sniff(FIXTURES / "yolo_clean" / "data.yaml") > 0
    first = int(np.flatnonzero(ds.images.file_name == "images/train/a.jpg")[0])
    assert (ds.images.width[first], ds.images.height[first]) == (40, 20)
    rows = ds.annotations.image == first
    np.testing.assert_allclose(ds.annotations.boxes[rows], [[0, 5, 20, 15], [25, 0, 35, 10]], atol=1e-6)
    np.testing.assert_allclose(ds.annotations.raw[rows][0], [0.25, 0.5, 0.5, 0.5])
    negative = int(np.flatnonzero(ds.images.file_name == "images/val/c.jpg")[0])
    assert ds.images.src_file[negative] >= 0 and not (ds.annotations.image == negative).any()


def test_unknown_size_keeps_rows_normalised():
    ds = load(FIXTURES / "yolo_clean", probe_images=False)
    assert ds.annotations.normalized.all()
    assert (ds.images.width == 0).all()
    first = int(np.flatnonzero(ds.images.file_name == "images/train/a.jpg")[0])
    np.testing.assert_allclose(ds.annotations.boxes[ds.annotations.image == first][0], [0, 0.25, 0.5, 0.75])


def test_defects_fixture_findings():
    ds = load(FIXTURES / "yolo_defects")
    by_code: dict[str, list] = {}
    for finding in ds.problems:
        by_code.setdefault(finding.code, []).append(finding)
    malformed = sorted((f.file, f.line, f.annotation) for f in by_code["F006"])
    assert malformed == [("labels/train/good.txt", 2, "2"), ("labels/train/good.txt", 3, "3"),
                         ("labels/train/good.txt", 4, "4")]
    assert [f.file for f in by_code["I006"]] == ["labels/train/orphan.txt"]
    assert [f.file for f in by_code["F014"]] == ["labels/train/img_1.txt"]
    assert [(f.file, f.line) for f in by_code["C006"]] == [("data.yaml", 3)]
    assert "README.txt" not in " ".join(ds.files)

    good = ds.files.index("labels/train/good.txt")
    rows = ds.annotations.src_file == good
    assert ds.annotations.src_line[rows].tolist() == [1, 5, 7]
    assert ds.annotations.kind[rows].tolist() == [0, 1, 0]
    assert ds.annotations.class_id[rows].tolist() == [0, 1, 5]
    assert ds.annotations.category[rows].tolist() == [0, 1, -1]  # names has 2 entries
    polygon = int(np.flatnonzero(rows)[1])
    assert ds.annotations.segmentation[polygon] == pytest.approx([0.1, 0.1, 0.4, 0.1, 0.4, 0.5])
    np.testing.assert_allclose(ds.annotations.boxes[polygon], [4, 2, 16, 10], atol=1e-9)

    orphan = ds.files.index("labels/train/orphan.txt")
    orphan_image = int(np.flatnonzero(ds.images.src_file == orphan)[0])
    assert ds.images.path[orphan_image] == ""
    assert ds.annotations.normalized[ds.annotations.src_file == orphan].all()

    upper = int(np.flatnonzero(ds.images.file_name == "images/train/IMG_1.JPG")[0])
    assert ds.files[ds.images.src_file[upper]] == "labels/train/img_1.txt"
    unlabelled = int(np.flatnonzero(ds.images.file_name == "images/train/unlabelled.jpg")[0])
    assert ds.images.src_file[unlabelled] == -1


def test_malformed_rows_point_at_their_line(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    from PIL import Image

    Image.new("RGB", (10, 10)).save(tmp_path / "images" / "x.png")
    (tmp_path / "labels" / "x.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n\n1 0.5 0.5 0.2 0.2 0.3\n2.5 0.5 0.5 0.2 0.2\n0 nan 0.5 0.2 0.2\n0 x 1 1 1\n")
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    ds = load(tmp_path)
    assert sorted((f.code, f.line) for f in ds.problems) == [("F006", 3), ("F006", 4), ("F006", 6)]
    assert ds.annotations.src_line.tolist() == [1, 5]  # NaN is a number: B004's job, not F006
    assert ds.categories.names == ["a", "b", "c"]


def test_names_inferred_without_class_list(tmp_path: Path):
    (tmp_path / "a.jpg").write_bytes((FIXTURES / "yolo_clean" / "images" / "train" / "a.jpg").read_bytes())
    (tmp_path / "a.txt").write_text("3 0.5 0.5 0.5 0.5\n")
    assert yolo.FORMAT.sniff(tmp_path) > 0
    ds = load(tmp_path)
    assert ds.categories.names == ["0", "1", "2", "3"]
    assert ds.meta["names_inferred"] is True
    assert ds.images.split.tolist() == [""]


# -------------------------------------------------------------------------------------- corpus


def corpus_case(case: str) -> tuple[Path, dict]:
    expected = CORPUS / "expected.json"
    if not expected.is_file():
        pytest.skip(f"conformance corpus not present at {CORPUS}")
    facts = json.loads(expected.read_text())["cases"][case]
    return CORPUS / case, facts


CORPUS_CASES = [
    "datumaro/yolo_darknet_strict_objdata",
    "datumaro/yolo_loose_images_labels_dirs",
    "datumaro/roboflow_yolo_datayaml_valid_dir_missing",
    "cvat_datumaro/yolov8_detection_names_dict",
    "cvat_datumaro/yolov8_detection_names_list",
    "cvat_datumaro/yolov8_segmentation_polygons",
    "roboflow_python/sharks_tiny_yolov9_mixed_box_polygon",
    "rodm/voc2012_100img_yolo_darknet",
]


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_corpus_counts(case: str):
    path, facts = corpus_case(case)
    summary = facts["summary"]
    assert yolo.FORMAT.sniff(path) > 0
    ds = load(path)
    ann = ds.annotations
    assert ds.categories.names == summary["classes"]
    assert int((ann.kind == 0).sum()) == summary["boxes"]
    assert int((ann.kind == 1).sum()) == summary["polygons"]
    label_files = {ds.files[i] for i in ds.images.src_file if i >= 0}
    assert len(label_files) == summary["label_files"]
    assert int((ds.images.path != "").sum()) == summary["image_files_present"]
    assert not [f for f in ds.problems if f.code in ("F001", "F006", "I006", "C006")]
    per_class = {name: int((ann.category == i).sum()) for i, name in enumerate(ds.categories.names)}
    rows_per_class = facts["facts"].get("rows_per_class")
    if rows_per_class:
        assert {k: v for k, v in per_class.items() if v} == rows_per_class


def first_row_box(ds, label_name: str) -> np.ndarray:
    index = next(i for i, f in enumerate(ds.files) if f.endswith("/" + label_name) or f == label_name)
    rows = np.flatnonzero(ds.annotations.src_file == index)
    return ds.annotations.boxes[rows[0]]


@pytest.mark.parametrize("case", [c for c in CORPUS_CASES  # rodm has no images, the polygon case no box
                                  if not c.startswith("rodm/") and "polygons" not in c])
def test_corpus_first_row_pixels(case: str):
    path, facts = corpus_case(case)
    ds = load(path)
    first = facts["facts"].get("first_row_in_pixels") or next(
        (s["first_row_in_pixels"] for s in facts["facts"].get("per_split", {}).values()), None)
    np.testing.assert_allclose(first_row_box(ds, first["label_file"]), first["xyxy_pixels"], atol=1e-3)


def test_corpus_darknet_rows():
    path, _ = corpus_case("datumaro/yolo_darknet_strict_objdata")
    ds = load(path)
    np.testing.assert_allclose(ds.annotations.boxes, [[0, 2, 4, 4], [3, 3, 5, 6]], atol=1e-3)
    assert ds.images.file_name.tolist() == ["obj_train_data/1.jpg"]
    assert ds.annotations.class_id.tolist() == [2, 4]


def test_corpus_polygons():
    path, _ = corpus_case("cvat_datumaro/yolov8_segmentation_polygons")
    ds = load(path)
    np.testing.assert_allclose(ds.annotations.boxes, [[1.5, 1, 6, 5], [3, 1.5, 6, 7.5]], atol=1e-6)
    assert ds.annotations.segmentation[0] == pytest.approx([0.1, 0.1, 0.4, 0.1, 0.4, 0.5])


def test_corpus_images_absent_rows_stay_normalised():
    path, _ = corpus_case("rodm/voc2012_100img_yolo_darknet")
    ds = load(path)
    assert ds.annotations.normalized.all() and (ds.images.path == "").all()
    box = first_row_box(ds, "2007_000027.txt")
    np.testing.assert_allclose(box * [486, 500, 486, 500], [174, 101, 349, 351], atol=0.5)


def test_corpus_roboflow_fallback_reports_i001():
    path, _ = corpus_case("roboflow_python/sharks_tiny_yolov9_mixed_box_polygon")
    ds = load(path)
    missing = [f for f in ds.problems if f.code == "I001"]
    assert {f.file for f in missing} == {"data.yaml"} and len(missing) == 3
    assert any("/Users/tony/tmp/sharks-tiny-yolov9/train/images" in f.message for f in missing)
    assert ds.meta["yaml"]["roboflow"]["version"] == 774
    assert sorted(ds.splits) == ["test", "train", "val"]
    assert "README.dataset.txt" not in ds.files


# ---------------------------------------------------------------------------------- round trip


def round_trip(src: Path, dst: Path):
    before = tree_digest(src)
    ds = load(src)
    options = WriteOptions()
    yolo.FORMAT.write(ds, dst, options)
    assert tree_digest(src) == before  # the source is never touched
    return ds, load(dst), options


def matched_boxes(ds) -> dict[tuple[str, str], list]:
    result: dict[tuple[str, str], list] = {}
    for i in range(len(ds.annotations)):
        image = ds.annotations.image[i]
        key = (str(ds.images.split[image]), Path(str(ds.images.file_name[image])).name)
        result.setdefault(key, []).append((int(ds.annotations.category[i]), ds.annotations.boxes[i]))
    return result


@pytest.mark.parametrize("source", ["fixture", "sharks"])
def test_round_trip(tmp_path: Path, source: str):
    if source == "fixture":
        src = FIXTURES / "yolo_clean"
    else:
        src, _ = corpus_case("roboflow_python/sharks_tiny_yolov9_mixed_box_polygon")
    ds, back, options = round_trip(src, tmp_path / "out")
    assert options.losses == []
    assert back.categories.names == ds.categories.names
    assert back.splits == ds.splits
    assert len(back.images) == len(ds.images) and len(back.annotations) == len(ds.annotations)
    assert back.problems == []
    original, written = matched_boxes(ds), matched_boxes(back)
    assert original.keys() == written.keys()
    for key, rows in original.items():
        assert [c for c, _ in rows] == [c for c, _ in written[key]]
        np.testing.assert_allclose(np.array([b for _, b in rows]), np.array([b for _, b in written[key]]),
                                   atol=1e-3)
    assert back.annotations.kind.tolist() == ds.annotations.kind.tolist()
    for i in range(len(ds.images)):
        j = int(np.flatnonzero((back.images.split == ds.images.split[i]) & np.array(
            [Path(n).name == Path(ds.images.file_name[i]).name for n in back.images.file_name]))[0])
        assert (back.root / back.images.path[j]).read_bytes() == (ds.root / ds.images.path[i]).read_bytes()
    if source == "sharks":
        assert back.meta["yaml"]["roboflow"] == ds.meta["yaml"]["roboflow"]


def test_writer_records_losses(tmp_path: Path):
    ds = load(FIXTURES / "yolo_defects")
    options = WriteOptions()
    yolo.FORMAT.write(ds, tmp_path / "out", options)
    what = {loss["what"]: loss["count"] for loss in options.losses}
    assert what["annotation of an unknown class"] == 1
    assert what["image file missing (label written, image not copied)"] == 1  # the orphan label
    back = load(tmp_path / "out")
    assert (tmp_path / "out" / "labels" / "train" / "unlabelled.txt").read_text() == ""
    assert back.categories.names == ["cat", "dog"]


def test_writer_collisions_and_unknown_size(tmp_path: Path):
    ds = load(FIXTURES / "yolo_clean")
    ds.images.split[:] = ""
    c_jpg = int(np.flatnonzero(ds.images.file_name == "images/val/c.jpg")[0])
    b_png = int(np.flatnonzero(ds.images.file_name == "images/train/b.png")[0])
    ds.images.file_name[c_jpg] = "elsewhere/A.jpg"  # same stem as a.jpg, ignoring case
    ds.images.path[c_jpg] = ""
    ds.images.width[b_png] = 0
    options = WriteOptions()
    yolo.FORMAT.write(ds, tmp_path / "out", options)
    what = {loss["what"]: loss["count"] for loss in options.losses}
    assert what["file name collision (renamed)"] == 1
    assert what["box on an image of unknown size (cannot normalise)"] == 1
    assert what["image file missing (label written, image not copied)"] == 1
    names = sorted(p.name for p in (tmp_path / "out" / "labels").iterdir())
    assert len(names) == 3 and len(set(names)) == 3


# ------------------------------------------------------------------------ the format object


def test_format_object_traits_and_class_map_names():
    from detlint import formats, selection
    from detlint.formats.protocol import Format, Trait

    assert formats.get("yolo") is yolo.FORMAT and isinstance(yolo.FORMAT, Format)
    assert yolo.FORMAT.name == yolo.NAME == "yolo" and yolo.FORMAT.title == "YOLO"
    assert yolo.FORMAT.traits == {Trait.NORMALIZED_COORDINATES, Trait.LABEL_ROWS, Trait.CLASS_INDEX,
                                  Trait.ORIENTED_BOXES}
    assert yolo.FORMAT.incremental
    assert all(selection.is_dataset_level(name) for name in yolo.CLASS_MAP_NAMES)  # selection asks the format


def test_claim_of_passed_files(tmp_path: Path):
    from detlint import selection
    from detlint.formats.protocol import Claim

    (tmp_path / "data.yaml").write_text("train: images\nnames: [cat]\n")
    (tmp_path / "ci.yml").write_text("on: push\n")
    (tmp_path / "obj.data").write_text("classes = 1\n")
    for name in ("a.txt", "obj.names", "classes.names", "Classes.TXT", "x.json", "y.xml", "z.jpg"):
        (tmp_path / name).write_text("0 0.5 0.5 0.1 0.1\n")
    expected = {"data.yaml": Claim.DESCRIPTION, "ci.yml": None, "obj.data": Claim.DESCRIPTION,
                "a.txt": Claim.MEMBER, "obj.names": Claim.MEMBER, "classes.names": Claim.MEMBER,
                "Classes.TXT": Claim.MEMBER, "x.json": None, "y.xml": None, "z.jpg": None}
    assert {name: yolo.FORMAT.claim(tmp_path / name) for name in expected} == expected
    assert yolo.FORMAT.member_root(tmp_path / "a.txt") is None
    planner = selection._Planner(selection._MarkerNames(enabled=False))
    for name in ("data.yaml", "ci.yml", "obj.data"):  # the descriptions are the ones selection loads as given
        found = planner.dataset_of(tmp_path / name)
        assert (found is not None and found[0] == tmp_path / name) == (expected[name] is Claim.DESCRIPTION)


def test_reads_share_no_state(tmp_path: Path):
    """Two reads, one cached and one not, interleaved: each lists its own folders."""
    import contextvars
    import pkgutil

    import detlint.formats.yolo as package

    modules = [package] + [importlib.import_module(f"{package.__name__}.{info.name}")
                           for info in pkgutil.iter_modules(package.__path__)]
    assert not any(isinstance(value, contextvars.ContextVar) for module in modules for value in vars(module).values())
    first = load(FIXTURES / "yolo_clean")
    second = load(FIXTURES / "yolo_defects")
    assert load(FIXTURES / "yolo_clean").files == first.files and second.files != first.files
