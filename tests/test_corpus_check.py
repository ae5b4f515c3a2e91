"""``detlint check`` on every real third-party case of the shared corpus: no crash, the facts a
linter should report are reported, and the COCO reader recovers the verified counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import detlint
from detlint.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EXPECTED_FILE = CORPUS / "expected.json"

if not EXPECTED_FILE.is_file():
    pytest.skip(f"shared corpus not found at {CORPUS} (it lives beside the repository, in shared/corpus)",
                allow_module_level=True)

CASES: dict[str, dict] = json.loads(EXPECTED_FILE.read_text())["cases"]
COCO_CASES = sorted(name for name, case in CASES.items() if case["format"] == "coco")

# facts from expected.json notes that a linter must report: (case, code)
MUST_REPORT = [
    ("sahi/coco_area_is_image_area", "B009"),  # area = image area
    ("sahi/coco_area_is_image_area", "C005"),  # id 1 is 'human' in one file, 'car' in another
    ("datumaro/coco_labels_no_bbox", "F002"),  # annotations without bbox
    ("datumaro/coco_instances_catid_gap_rle", "C002"),  # category 'c' unused
    ("datumaro/roboflow_coco_per_split_json", "F005"),  # annotation ids start at 0
    ("datumaro/roboflow_coco_per_split_json", "F012"),  # iscrowd=1 without RLE
    ("datumaro/roboflow_voc_flat_xmin_xmax_order", "F010"),  # xmin=0 in 1-based VOC
    ("datumaro/voc_no_size_no_images_empty_xml", "F011"),  # no <size>
    ("datumaro/roboflow_yolo_datayaml_valid_dir_missing", "I001"),  # data.yaml folders missing
    ("roboflow_python/sharks_tiny_yolov9_mixed_box_polygon", "F013"),  # boxes and polygons
    ("roboflow_python/sharks_tiny_yolov9_mixed_box_polygon", "I001"),  # absolute /Users/... paths
    ("rodm/voc2012_100img_pascalvoc", "I001"),  # images not copied
]
# facts that must NOT be reported
MUST_NOT_REPORT = [
    ("roboflow_python/sharks_tiny_coco", "C002"),  # Roboflow's placeholder category 0
    ("roboflow_python/sharks_tiny_coco", "B002"),  # 0.292 px past the edge is within tolerance
    ("datumaro/coco_instances_catid_gap_rle", "B009"),  # RLE area 20 is right
    ("datumaro/yolo_loose_images_labels_dirs", "F006"),  # README.txt is not a label file
]


def check(case: str) -> tuple[int, dict | None, str]:
    result = CliRunner().invoke(main, ["check", str(CORPUS / CASES[case]["dir"]), "--output-format", "json",
                                       "--no-cache"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.stderr, result.stderr
    report = json.loads(result.stdout) if result.exit_code in (0, 1) else None
    return result.exit_code, report, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_case_checks_without_crashing(case: str) -> None:
    status, report, stderr = check(case)
    if CASES[case]["format"] == "coco-results":
        assert status == 2
        assert "results list" in stderr and "not a dataset" in stderr
        assert len(stderr.strip().splitlines()) == 1
        return
    assert status in (0, 1), stderr
    assert report is not None
    (dataset,) = report["datasets"]
    assert dataset["format"] == CASES[case]["format"]
    errors = sum(f["severity"] == "error" for f in report["findings"])
    assert report["summary"]["error"] == errors and status == (1 if errors else 0)


@pytest.mark.parametrize(("case", "code"), MUST_REPORT, ids=[f"{c}-{k}" for c, k in MUST_REPORT])
def test_known_problems_are_reported(case: str, code: str) -> None:
    _, report, _ = check(case)
    assert report is not None and code in {f["code"] for f in report["findings"]}


@pytest.mark.parametrize(("case", "code"), MUST_NOT_REPORT, ids=[f"{c}-{k}" for c, k in MUST_NOT_REPORT])
def test_known_non_problems_are_not_reported(case: str, code: str) -> None:
    _, report, _ = check(case)
    assert report is not None and code not in {f["code"] for f in report["findings"]}


def test_sahi_area_is_reported_on_every_annotation() -> None:
    _, report, _ = check("sahi/coco_area_is_image_area")
    b009 = [f for f in report["findings"] if f["code"] == "B009"]
    assert len(b009) == 24 and all(f["pointer"].endswith("/area") for f in b009)


@pytest.mark.parametrize("case", COCO_CASES)
def test_coco_reader_recovers_the_verified_counts(case: str) -> None:
    expected = CASES[case]["summary"]
    ds = detlint.load(CORPUS / CASES[case]["dir"])
    ann = ds.annotations
    assert len(ds.images) == expected["images"]
    assert len(ann) == expected["annotations"]
    assert int(ann.has_box.sum()) == expected["boxes"]
    assert ds.categories.names == expected["classes"]
    for file, counts in expected.get("per_file", {}).items():
        index = ds.files.index(file)
        assert int((ds.images.src_file == index).sum()) == counts["images"], file
        in_file = ann.src_file == index
        assert int(in_file.sum()) == counts["annotations"], file
        assert int((in_file & ann.has_box).sum()) == counts["boxes"], file
    assert not np.any((ann.image < 0) & ann.has_box), "every box is linked to its image"
