"""Mutated datasets never crash ``detlint check``.

Each case copies a fixture, damages it deterministically (truncation, wrong JSON types, random
bytes, 1e400, NaN tokens, unicode names, empty files, deleted images, deep nesting) and runs
``detlint check --output-format json``. The outcome must be either exit 0/1 with a report that
validates against schemas/report.schema.json, or exit 2 with a one-line message on stderr;
never a traceback.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from detlint.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "rules"
SCHEMA_PATH = ROOT / "schemas" / "report.schema.json"
BASES = ("coco_clean", "coco_boxes", "voc_clean", "voc_boxes", "yolo_clean", "yolo_rows")
SEEDS_PER_MUTATION = 2

WEIRD_VALUES: list[Any] = [None, True, "", "12", "ünï©ødé 🐱", -1, 0, 2**70, -(2**64), 1e308, 0.5,
                           [], {}, [1, 2], [[[]]], {"a": {"b": None}}, float("nan"), float("inf")]
WEIRD_TEXT = ["1e400", "-1e400", "nan", "NaN", "inf", "-inf", "0x10", "1_000", "٣", "", " ", "1e-400",
              "99999999999999999999999999", "ünï©ødé", "<", "&amp;", "\u0000"]


def annotation_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".json", ".xml", ".txt", ".yaml"))


def image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".png"))


# --------------------------------------------------------------------------- mutations


def truncate(root: Path, rng: random.Random) -> None:
    path = rng.choice(annotation_files(root))
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(max(len(data), 1))])


def random_bytes(root: Path, rng: random.Random) -> None:
    path = rng.choice(annotation_files(root) + image_files(root))
    data = bytearray(path.read_bytes())
    for _ in range(rng.randrange(1, 8)):
        if data and rng.random() < 0.5:
            data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            position = rng.randrange(len(data) + 1)
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    path.write_bytes(bytes(data))


def replace_file_with_noise(root: Path, rng: random.Random) -> None:
    path = rng.choice(annotation_files(root) + image_files(root))
    path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))))


def empty_file(root: Path, rng: random.Random) -> None:
    rng.choice(annotation_files(root) + image_files(root)).write_bytes(b"")


def delete_images(root: Path, rng: random.Random) -> None:
    images = image_files(root)
    for path in rng.sample(images, rng.randrange(1, len(images) + 1)):
        path.unlink()


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _nodes(child, (*path, index))
    return out


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def wrong_json_types(root: Path, rng: random.Random) -> None:
    """Replace a few JSON values (COCO) or text values (VOC, YOLO, yaml) with values of the wrong kind."""
    files = annotation_files(root)
    json_files = [p for p in files if p.suffix == ".json"]
    if not json_files:
        return weird_tokens(root, rng)
    path = rng.choice(json_files)
    document = json.loads(path.read_text())
    for _ in range(rng.randrange(1, 6)):
        document = _set(document, rng.choice(_nodes(document)), rng.choice(WEIRD_VALUES))
    path.write_text(json.dumps(document))  # NaN and Infinity become bare tokens


def weird_tokens(root: Path, rng: random.Random) -> None:
    """Swap numbers and names in the text for 1e400, NaN, unicode, entities, NULs."""
    import re

    path = rng.choice(annotation_files(root))
    text = path.read_text(encoding="utf-8", errors="replace")
    tokens = list(re.finditer(r"[A-Za-z0-9_.\-]+", text))
    if not tokens:
        path.write_text(rng.choice(WEIRD_TEXT))
        return
    for match in sorted(rng.sample(tokens, min(len(tokens), rng.randrange(1, 6))), key=lambda m: -m.start()):
        text = text[: match.start()] + rng.choice(WEIRD_TEXT) + text[match.end():]
    path.write_text(text, encoding="utf-8")


def huge_numbers(root: Path, rng: random.Random) -> None:
    import re

    path = rng.choice(annotation_files(root))
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    numbers = list(re.finditer(r"(?<![\w.])\d+(\.\d+)?(?![\w.])", text))
    for match in sorted(rng.sample(numbers, min(len(numbers), 3)), key=lambda m: -m.start()):
        text = text[: match.start()] + rng.choice(["1e400", "-1e400", "1e308", "123456789012345678901234567890",
                                                   "NaN", "Infinity"]) + text[match.end():]
    path.write_text(text, encoding="utf-8", errors="surrogateescape")


def unicode_names(root: Path, rng: random.Random) -> None:
    """Rename an image (and its label) to a unicode name; rewrite references where they are text."""
    images = image_files(root)
    image = rng.choice(images)
    new_stem = rng.choice(["ünï©ødé", "猫の写真", "emoji 🐱 cat", "x\u0301y", "ＣＡＴ", "a b  c"])
    for path in annotation_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        if image.stem in text and rng.random() < 0.7:
            path.write_text(text.replace(image.stem, new_stem), encoding="utf-8")
    image.rename(image.with_name(new_stem + image.suffix))
    for label in root.rglob(image.stem + ".txt"):
        label.rename(label.with_name(new_stem + ".txt"))
    for xml in root.rglob(image.stem + ".xml"):
        xml.rename(xml.with_name(new_stem + ".xml"))


def deep_nesting(root: Path, rng: random.Random) -> None:
    depth = rng.choice([200, 5_000, 100_000])
    path = rng.choice(annotation_files(root))
    if path.suffix == ".json":
        document = json.loads(path.read_text())
        nested = "[" * depth + "]" * depth
        key = rng.choice(["segmentation", "bbox", "extra"])
        text = json.dumps(document)
        marker = '"annotations": ['
        if marker in text and '"id"' in text:
            text = text.replace(marker, marker + '{"id": 999, "image_id": 1, "category_id": 1, "' + key + '": '
                                + nested + '}, ', 1)
        else:
            text = nested
        path.write_text(text)
    elif path.suffix == ".xml":
        text = path.read_text()
        path.write_text(text.replace("</annotation>", "<x>" * depth + "</x>" * depth + "</annotation>"))
    elif path.suffix == ".yaml":
        path.write_text(path.read_text() + "extra: " + "[" * depth + "]" * depth + "\n")
    else:
        path.write_text("0 " + "[" * depth + "\n")


MUTATIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "truncate": truncate, "random_bytes": random_bytes, "noise_file": replace_file_with_noise,
    "empty_file": empty_file, "delete_images": delete_images, "wrong_types": wrong_json_types,
    "weird_tokens": weird_tokens, "huge_numbers": huge_numbers, "unicode_names": unicode_names,
    "deep_nesting": deep_nesting,
}
CASES = [(base, name, seed) for base in BASES for name in MUTATIONS for seed in range(SEEDS_PER_MUTATION)]
# plus a few more of the mutations that find the most: random damage to the annotation files
CASES += [(base, name, seed) for base in BASES for name in ("wrong_types", "truncate", "weird_tokens")
          for seed in range(SEEDS_PER_MUTATION, SEEDS_PER_MUTATION + 1)]


# Reader crashes found by this file, in files the rule engineers do not own (reported to their
# owners). Non-strict: they pass once the reader is fixed.
def _param(base: str, mutation: str, seed: int) -> object:
    return pytest.param(base, mutation, seed, id=f"{base}-{mutation}-{seed}")


@pytest.fixture(scope="module")
def report_schema() -> dict | None:
    return json.loads(SCHEMA_PATH.read_text()) if SCHEMA_PATH.is_file() else None


def test_enough_mutations() -> None:
    assert 130 <= len(CASES) <= 200


@pytest.mark.parametrize(("base", "mutation", "seed"), [_param(*case) for case in CASES])
def test_mutated_dataset_never_crashes(base: str, mutation: str, seed: int, tmp_path: Path,
                                       report_schema: dict | None) -> None:
    root = tmp_path / base
    shutil.copytree(FIXTURES / base, root)
    rng = random.Random(f"{base}/{mutation}/{seed}")
    MUTATIONS[mutation](root, rng)
    assert_no_crash(root, report_schema)


def assert_no_crash(root: Path, report_schema: dict | None) -> None:
    result = CliRunner().invoke(main, ["check", str(root), "--output-format", "json", "--no-cache"])

    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}"
    assert "Traceback" not in result.output
    # the CLI turns a bug into one line too: that is still a crash
    assert "internal error" not in result.stderr, result.stderr
    if result.exit_code == 2:
        assert result.stdout == ""
        message = result.stderr.strip()
        assert message and len(message.splitlines()) == 1, result.stderr
        return
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    if report_schema is not None:
        jsonschema.validate(report, report_schema)
    errors = sum(1 for f in report["findings"] if f["severity"] == "error")
    assert report["summary"]["error"] == errors
    assert result.exit_code == (1 if errors else 0)


# --------------------------------------------------------------------------- targeted regressions


def _coco(root: Path, annotation: dict | None = None, categories: list | None = None,
          images: list | None = None) -> None:
    shutil.copytree(FIXTURES / "coco_clean" / "images", root / "images")
    document = {
        "images": images if images is not None else [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100,
                         "iscrowd": 0, "segmentation": [], **(annotation or {})}],
        "categories": categories if categories is not None else [{"id": 1, "name": "cat"}],
    }
    (root / "annotations.json").write_text(json.dumps(document))


_BIG_ID = ('{"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": '
           '[{"id": @ANN@, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, NaN], "area": 100, '
           '"iscrowd": 0}], "categories": [{"id": @CAT@, "name": "cat"}]}')


def _raw_json(root: Path, text: str) -> None:
    shutil.copytree(FIXTURES / "coco_clean" / "images", root / "images")
    (root / "annotations.json").write_text(text)


TARGETED: dict[str, Callable[[Path], None]] = {
    # a polygon point at infinity made pycocotools allocate without bound (B009; fixed)
    "polygon_point_inf": lambda root: _raw_json(root, json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100,
                         "iscrowd": 0, "segmentation": [[1, 1e308, 11, 1, 11, 11]]},
                        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 5,
                         "iscrowd": 0, "segmentation": [[1, float("inf"), 11, 1, 11, 11]]}],
        "categories": [{"id": 1, "name": "cat"}]})),
    # an annotation of a missing image in a file without images borrowed images[-1] (B002; fixed)
    "dangling_image_without_images": lambda root: _coco(root, images=[]),
    "rle_garbage": lambda root: _coco(root, {"iscrowd": 1, "area": 3,
                                             "segmentation": {"counts": [1, -2, 1e30], "size": ["a", None]}}),
    "segmentation_wrong_types": lambda root: _coco(root, {"segmentation": [["x", None, 1, 2, 3, 4], {}, 7]}),
    "bbox_strings": lambda root: _coco(root, {"bbox": ["1", "2", "3", "4"]}),
    # fixed in the COCO reader: iscrowd 1e400, ids beyond 64 bits
    "iscrowd_inf": lambda root: _raw_json(root, json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100,
                         "iscrowd": float("inf")}], "categories": [{"id": 1, "name": "cat"}]})),
    # orjson reads big integers as floats; a NaN elsewhere sends the file to Python's json, which
    # keeps them as integers
    "id_beyond_int64": lambda root: _raw_json(root, _BIG_ID.replace("@ANN@", str(2**70)).replace("@CAT@", "1")),
    "category_id_beyond_int64": lambda root: _raw_json(root, _BIG_ID.replace("@CAT@", str(2**70)).replace("@ANN@", "1")),
    "voc_huge_size": lambda root: (shutil.copytree(FIXTURES / "voc_clean", root), (
        root / "Annotations" / "0001.xml").write_text(
        (FIXTURES / "voc_clean" / "Annotations" / "0001.xml").read_text().replace("<width>64<", "<width>1e30<"))),
    "yaml_deep_nesting": lambda root: (shutil.copytree(FIXTURES / "yolo_clean", root), (
        root / "data.yaml").write_text("names: " + "[" * 1200 + "]" * 1200 + "\n")),
    "list_path_with_nul": lambda root: (shutil.copytree(FIXTURES / "yolo_lists", root), (
        root / "val.txt").write_text("images/all/c.jpg\nimages/a\u0000b/c.jpg\n")),
}


@pytest.mark.parametrize("name", list(TARGETED))
def test_targeted_damage_never_crashes(name: str, tmp_path: Path, report_schema: dict | None) -> None:
    root = tmp_path / "dataset"
    TARGETED[name](root)
    assert_no_crash(root, report_schema)
