"""``--fix`` keeps a COCO file's JSON style (#15 item 12): indent, item and key separators, ASCII
escapes and the final newline are learned from the file, and what no fix touched keeps its bytes,
in a one-line file too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_image

from detlint.checking import CheckRequest, run_check


def _document() -> dict:
    return {
        "info": {"description": "café", "year": 2024},
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 2, "file_name": "b.jpg", "width": 0, "height": 0}],  # F011: filled from the header
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 20], "area": 0, "iscrowd": 0},  # B001
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [20, 30, 10, 10], "area": 8000, "iscrowd": 0,
             "attributes": {"note": "é", "tags": []}},  # B009: area recomputed
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [1.5, 1, 5, 5], "area": 25.0, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}],
    }


def _fixed(document: dict) -> dict:
    fixed = json.loads(json.dumps(document))
    del fixed["annotations"][1]
    fixed["annotations"][1]["area"] = 100
    fixed["images"][1].update(width=64, height=48)
    return fixed


def _root(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "coco"
    write_image(root / "images" / "a.jpg", (100, 80))
    write_image(root / "images" / "b.jpg", (64, 48))
    (root / "annotations.json").write_bytes(text.encode("utf-8"))
    return root


def _fix(root: Path) -> str:
    run_check(CheckRequest(paths=[root], use_cache=False, fix=True))
    return (root / "annotations.json").read_bytes().decode("utf-8")


STYLES = {
    "json.dump default (one line, ', ' and ': ')": {},
    "compact": {"separators": (",", ":")},
    "compact items, spaced keys": {"separators": (",", ": ")},
    "spaced items, compact keys": {"separators": (", ", ":")},
    "indent 2": {"indent": 2},
    "tab indent": {"indent": "\t"},
    "python 2 (', ' at line ends)": {"indent": 1, "separators": (", ", ": ")},
    "raw unicode, one line": {"ensure_ascii": False},
    "raw unicode, indent 4": {"indent": 4, "ensure_ascii": False},
}


@pytest.mark.parametrize("ending", ["", "\n"], ids=["no final newline", "final newline"])
@pytest.mark.parametrize("style", STYLES.values(), ids=STYLES.keys())
def test_fix_writes_in_the_files_own_style(tmp_path: Path, style: dict, ending: str) -> None:
    root = _root(tmp_path, json.dumps(_document(), **style) + ending)
    assert _fix(root) == json.dumps(_fixed(_document()), **style) + ending


def test_untouched_objects_of_a_one_line_file_keep_their_bytes(tmp_path: Path) -> None:
    """Spellings no serialiser writes back (``6.0e2``, ``1.50``, a blank before a colon) stay
    wherever the fixes did not go."""
    text = json.dumps(_document())
    odd = (text.replace('"area": 600', '"area" :  6.0e2').replace('"bbox": [1.5, 1, 5, 5]', '"bbox": [1.50, 1, 5, 5]')
           .replace('"year": 2024', '"year":2024'))
    root = _root(tmp_path, odd)
    expected = json.dumps(_fixed(_document()))
    expected = (expected.replace('"area": 600', '"area" :  6.0e2').replace('"bbox": [1.5, 1, 5, 5]', '"bbox": [1.50, 1, 5, 5]')
                .replace('"year": 2024', '"year":2024'))
    assert _fix(root) == expected


def test_untouched_lines_of_an_indented_file_keep_their_bytes(tmp_path: Path) -> None:
    text = json.dumps(_document(), indent=2).replace('"year": 2024', '"year":   2024').replace('"area": 600', '"area": 6e2')
    root = _root(tmp_path, text)
    expected = (json.dumps(_fixed(_document()), indent=2).replace('"year": 2024', '"year":   2024')
                .replace('"area": 600', '"area": 6e2'))
    assert _fix(root) == expected
