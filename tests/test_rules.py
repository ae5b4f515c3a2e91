"""Every annotation-side rule fires at the planted defect, exactly there, and nowhere else.

The fixtures live in fixtures/rules/ (made by fixtures/rules/make_fixtures.py, documented in
fixtures/rules/README.md). Each test runs ``detlint check --output-format json`` through click's
runner and compares located findings ``(code, file, line, pointer, annotation)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from detlint.cli import main
from detlint.rules import RULES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
# rules about image content, tested with their own fixtures (tests/test_images.py)
IMAGE_CONTENT_CODES = {"I002", "I003", "I004", "I007", "I008", "I009", "I010", "S002"}


def check(path: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["check", str(path), "--output-format", "json", "--no-cache", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "internal error" not in result.stderr, result.stderr
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def located(report: dict, *, severities: tuple[str, ...] = ("error", "warning", "info")) -> set[tuple]:
    return {(f["code"], f["file"], f["line"], f["pointer"], f["annotation"]) for f in report["findings"]
            if f["severity"] in severities and f["code"] not in IMAGE_CONTENT_CODES}


def by_code(report: dict, code: str) -> list[dict]:
    return [f for f in report["findings"] if f["code"] == code]


# --------------------------------------------------------------------------- planted defects

def _expected_by_case() -> dict[str, set[tuple]]:
    """Every annotation-side planted finding, per case dataset, from the rules' fixture folders
    (``fixtures/rules/<CODE>/expected.json``: the one place they are written down)."""
    cases: dict[str, set[tuple]] = {}
    for code in RULES:
        for case in json.loads((FIXTURES / code / "expected.json").read_text())["cases"]:
            if case.get("match") == "image" or case.get("target") or case.get("predictions") or case.get("diff_old"):
                continue  # a trainer's rule needs its --target, a prediction rule its --predictions, a D code diff
            found = cases.setdefault(Path(case["dataset"]).name, set())
            found |= {(code, f["file"], f["line"], f["pointer"], f["annotation"]) for f in case["findings"]}
    return cases


EXPECTED: dict[str, set[tuple]] = _expected_by_case()


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_planted_defects_are_found_exactly_where_planted(case: str) -> None:
    status, report = check(FIXTURES / case)
    assert located(report) == EXPECTED[case]
    has_error = any(f["severity"] == "error" for f in report["findings"])
    assert status == (1 if has_error else 0)


def test_every_annotation_rule_has_a_planted_fixture() -> None:
    planted = {finding[0] for findings in EXPECTED.values() for finding in findings}
    # trainer rules (TARGET) fire only with their --target, prediction rules (NEEDS) only with
    # --predictions: test_rule_catalog and test_predictions check their fixtures
    annotation_rules = {code for code in RULES if code not in IMAGE_CONTENT_CODES
                        and not hasattr(RULES[code], "TARGET") and not hasattr(RULES[code], "NEEDS")}
    assert annotation_rules <= planted


@pytest.mark.parametrize("case", ["coco_clean", "voc_clean", "yolo_clean"])
def test_clean_datasets_have_no_warning_or_error(case: str) -> None:
    status, report = check(FIXTURES / case, "--images", "header")
    assert status == 0
    assert [f for f in report["findings"] if f["severity"] != "info"] == []
    assert report["summary"]["error"] == report["summary"]["warning"] == 0
    # each clean fixture has one deliberate negative image, listed for review
    assert [f["code"] for f in report["findings"]] == ["I005"]


# --------------------------------------------------------------------------- meanings users depend on


def test_b002_tolerance_is_half_a_pixel_and_the_edge_is_inside() -> None:
    _, report = check(FIXTURES / "coco_boxes")
    keys = {f["annotation"] for f in by_code(report, "B002")}
    assert "10" not in keys  # [0, 0, 64, 48]: ends exactly at x = W, y = H
    assert "11" not in keys  # ends 0.4 px past the right and bottom edges
    assert "12" in keys  # starts 0.6 px left of the image
    left = next(f for f in by_code(report, "B002") if f["annotation"] == "12")
    assert "0.6 px past the left edge" in left["message"]


def test_b002_tolerance_is_configurable() -> None:
    _, report = check(FIXTURES / "coco_boxes", "--select", "B002", "--config", str(FIXTURES / "loose.toml"))
    assert {f["annotation"] for f in by_code(report, "B002")} == {"2"}


def test_voc_is_one_based_by_default() -> None:
    _, report = check(FIXTURES / "voc_boxes")
    at_0001 = [f for f in report["findings"] if f["file"] == "Annotations/0001.xml"]
    # xmin=0 is a 0-based writer (F010), not a box past the left edge; xmax=W is inside
    assert [(f["code"], f["annotation"]) for f in at_0001] == [("F010", "0")]
    assert "xmin=0" in at_0001[0]["message"]
    one_past = [f for f in report["findings"] if f["file"] == "Annotations/0005.xml"]
    assert [(f["code"], f["annotation"]) for f in one_past] == [("F010", "0")]
    assert "xmax=65" in one_past[0]["message"]


def test_voc_origin_zero_from_the_command_line_accepts_xmin_zero() -> None:
    _, report = check(FIXTURES / "voc_boxes", "--voc-origin", "0")
    codes = {(f["code"], f["file"]) for f in report["findings"]}
    assert ("F010", "Annotations/0001.xml") not in codes
    assert ("F010", "Annotations/0005.xml") in codes  # xmax = W + 1 is wrong under both


def test_f007_says_ultralytics_drops_the_whole_image_and_how_many() -> None:
    _, report = check(FIXTURES / "yolo_pixels")
    for finding in by_code(report, "F007"):
        assert "ultralytics" in finding["message"]
        assert "whole image" in finding["message"]
        assert "2 images of this dataset are affected" in finding["message"]
        assert "pixel" in finding["message"]
    assert not by_code(report, "B002") and not by_code(report, "B003")


def test_c001_yolo_index_past_nc() -> None:
    _, report = check(FIXTURES / "yolo_rows")
    (finding,) = by_code(report, "C001")
    assert "class index 5" in finding["message"] and "nc = 2" in finding["message"]
    assert "1-based" not in finding["message"]


def test_c001_mentions_one_based_classes() -> None:
    _, report = check(FIXTURES / "yolo_one_based")
    (finding,) = by_code(report, "C001")
    assert "1-based" in finding["message"]


def test_c001_coco_category_that_does_not_exist() -> None:
    _, report = check(FIXTURES / "coco_classes")
    (finding,) = by_code(report, "C001")
    assert "category_id 9" in finding["message"]


def test_c001_voc_name_outside_the_configured_classes() -> None:
    _, report = check(FIXTURES / "voc_boxes")
    (finding,) = by_code(report, "C001")
    assert "'horse'" in finding["message"]
    assert finding["image"] == "JPEGImages/0003.jpg"


def test_c005_roboflow_splits_number_classes_differently() -> None:
    _, report = check(FIXTURES / "coco_roboflow_splits")
    (finding,) = by_code(report, "C005")
    assert "'cat' vs 'dog'" in finding["message"]
    assert not by_code(report, "C002")  # Roboflow's never-used project category is not reported


def test_c006_nc_differs_from_names() -> None:
    _, report = check(FIXTURES / "yolo_yaml")
    (finding,) = by_code(report, "C006")
    assert "nc is 5" in finding["message"] and "4 entries" in finding["message"]


def test_f005_coco_id_zero() -> None:
    _, report = check(FIXTURES / "coco_ids")
    assert {f["pointer"] for f in by_code(report, "F005")} == {"/annotations/0/id", "/images/0/id"}


def test_b009_box_and_polygon_areas() -> None:
    _, report = check(FIXTURES / "coco_boxes")
    messages = {f["annotation"]: f["message"] for f in by_code(report, "B009")}
    assert "box area 100" in messages["8"]
    assert "segmentation area" in messages["9"]  # area copied from the box of a triangle


def test_f013_mixed_box_and_polygon_rows() -> None:
    _, report = check(FIXTURES / "yolo_mixed")
    (finding,) = by_code(report, "F013")
    assert "3 box rows and 1 polygon row:" in finding["message"]


def test_f014_jpg_case() -> None:
    _, report = check(FIXTURES / "coco_paths")
    (finding,) = by_code(report, "F014")
    assert finding["image"] == "images/PHOTO.JPG"


def test_b001_zero_area_boxes() -> None:
    for case, key in (("coco_boxes", "1"), ("yolo_rows", "4"), ("voc_boxes", "1")):
        _, report = check(FIXTURES / case)
        assert [f["annotation"] for f in by_code(report, "B001")] == [key], case


def test_f002_missing_keys_and_string_ids() -> None:
    _, report = check(FIXTURES / "coco_schema")
    messages = {f["pointer"]: f["message"] for f in by_code(report, "F002")}
    assert "'area'" in messages["/annotations/0"] and "'iscrowd'" in messages["/annotations/0"]
    assert "str" in messages["/annotations/1/id"]
    assert "missing" in messages["/annotations/3/id"]


def test_f012_mostly_crowd_is_reported_once_per_file() -> None:
    _, report = check(FIXTURES / "coco_mostly_crowd")
    (finding,) = by_code(report, "F012")
    assert "75%" in finding["message"]


def test_i005_negative_is_info_and_does_not_fail() -> None:
    status, report = check(FIXTURES / "yolo_clean")
    assert status == 0
    assert [f["severity"] for f in by_code(report, "I005")] == ["info"]


def test_library_check_agrees_with_the_cli() -> None:
    import detlint

    ds = detlint.load(FIXTURES / "yolo_rows")
    codes = {f.code for f in detlint.check(ds)}
    assert {"F006", "B001", "B002", "B004", "C001", "I006", "F001", "F014"} <= codes


def test_f009_shortcut_never_hides_a_stem_collision() -> None:
    """The C-level shortcut only says 'no collision' when comparing the stems agrees."""
    import random

    from detlint.rules.f009_duplicate_file_name import _stems, _stems_cannot_collide

    rng = random.Random(0)
    pieces = ["a", "A", "b", "x.y", "im", "IM"]
    for _ in range(3000):
        folder = rng.choice(["", "images/", "images/train/", "v1.0/"])
        names = list(dict.fromkeys(
            folder + rng.choice(["", "sub/"]) * (rng.random() < 0.1) + rng.choice(pieces) + rng.choice(pieces)
            + rng.choice([".jpg", ".JPG", ".png", ""]) for _ in range(rng.randint(0, 6))))
        if _stems_cannot_collide(names):
            assert len(set(_stems(names))) == len(names), names


def test_b009_bulk_mask_areas_equal_one_by_one() -> None:
    """Polygons rasterised in bulk (one pycocotools call per canvas) give the areas the
    one-row-at-a-time path gives, including unions of overlapping parts and undrawable rows."""
    import random

    from detlint.model import Annotations, Categories, Dataset, Images
    from detlint.rules.b009_area_mismatch import expected_areas, segmentation_area

    rng = random.Random(1)
    segmentations: list = []
    for _ in range(300):
        parts = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            x, y, r = rng.uniform(0, 60), rng.uniform(0, 40), rng.uniform(1, 30)
            parts.append([round(v, 2) for k in range(rng.randint(3, 7))
                          for v in (x + r * np.cos(k * 1.1), y + r * np.sin(k * 1.1))])
        roll = rng.random()
        if roll < 0.05:
            parts[0][1] = 1e12  # far off the canvas: not drawable
        elif roll < 0.1:
            parts[0][2] = "x"
        elif roll < 0.15:
            parts.append([1, 2, 3])  # a short part: the one-by-one path
        segmentations.append(parts)
    n = len(segmentations)
    images = Images.empty(3)
    images.width[:] = [64, 100, 0]
    images.height[:] = [48, 80, 0]
    ann = Annotations.empty(n)
    ann.image = np.array([rng.randint(0, 2) for _ in range(n)], np.int32)
    ann.boxes = np.tile([0.0, 0.0, 70.0, 50.0], (n, 1))
    ann.segmentation = np.empty(n, dtype=object)
    ann.segmentation[:] = segmentations
    ds = Dataset(format="coco", root=Path("."), categories=Categories.build(["a"]), images=images, annotations=ann)
    got = expected_areas(ds, np.arange(n))
    for k, segmentation in enumerate(segmentations):
        image = int(ann.image[k])
        w, h = int(images.width[image]), int(images.height[image])
        if w <= 0:
            w, h = 71, 51  # the box's extent
        one = segmentation_area(segmentation, h, w)
        assert got[k] == (one if one is not None else 70.0 * 50.0), k


def test_b009_mask_areas_past_pycocotools_batch_limit() -> None:
    """More polygons on one canvas than pycocotools' area() takes at once (255 with numpy 2):
    each row still gets its own mask area, never its box's."""
    from detlint.model import Annotations, Categories, Dataset, Images
    from detlint.rules.b009_area_mismatch import AREA_BATCH, expected_areas, segmentation_area

    n = 2 * AREA_BATCH + 7
    images = Images.empty(1)
    images.width[:], images.height[:] = 64, 48
    ann = Annotations.empty(n)
    ann.image = np.zeros(n, np.int32)
    ann.boxes = np.tile([0.0, 0.0, 60.0, 40.0], (n, 1))
    ann.segmentation = np.empty(n, dtype=object)
    ann.segmentation[:] = [[[1.0, 1.0, 2.0 + k % 50, 1.0, 1.0, 2.0 + k % 30]] for k in range(n)]
    ds = Dataset(format="coco", root=Path("."), categories=Categories.build(["a"]), images=images, annotations=ann)
    got = expected_areas(ds, np.arange(n))
    assert got.tolist() == [segmentation_area(s, 48, 64) for s in ann.segmentation]
    assert (got < 60.0 * 40.0).all()


def test_bulk_locations_equal_one_by_one() -> None:
    """``at_annotations`` locates each row as ``at_annotation`` does (COCO pointers and ids)."""
    import detlint
    from detlint.rules._helpers import at_annotation, at_annotations

    ds = detlint.load(FIXTURES / "coco_boxes")
    rows = list(range(len(ds.annotations)))
    bulk = at_annotations(ds, rows, "B009", [f"m{r}" for r in rows], None, "area", [{"row": r} for r in rows])
    assert bulk == [at_annotation(ds, r, "B009", f"m{r}", None, field_name="area") for r in rows]
