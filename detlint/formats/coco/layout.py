"""Where a COCO dataset's files are: its annotation JSON files (and sniffing them), the split
each file holds and the folders named after a split (:mod:`.finder` looks for the images)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from detlint.boundary import Boundary, Refusal

NAME = "coco"

SPLIT_WORDS = ("train", "val", "valid", "validation", "test", "trainval", "minival", "dev")
_SNIFF_BYTES = 1 << 16
_SECTION_LIST = re.compile(rb'"(images|annotations)"\s*:\s*\[')
_SECTION_KEY = re.compile(rb'"(images|annotations)"\s*:\s*[^\[\s]')


def looks_like_coco(path: Path, boundary: Boundary | None = None) -> int:
    """How surely one JSON file is a COCO dataset, from its first 64 KiB (0: not one, or not a
    regular file inside ``boundary``: nothing else is opened)."""
    boundary = boundary or Boundary(dataset_root(path))
    opened = boundary.open(os.fspath(path))
    if not isinstance(opened, tuple):
        return 0
    try:
        head = os.read(opened[0], _SNIFF_BYTES)
    except OSError:
        return 0
    finally:
        os.close(opened[0])
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()  # a BOM (Windows tools write one)
    if stripped.startswith(b"["):
        return 1 if b"image_id" in head else 0
    if not stripped.startswith(b"{"):
        return 0
    if _SECTION_LIST.search(head):
        return 3
    return 1 if b'"categories"' in head and not _SECTION_KEY.search(head) else 0


def annotation_files(path: Path) -> list[Path]:
    """The COCO JSON files of a dataset folder (or the file itself)."""
    boundary = Boundary(dataset_root(path))
    return [p for p in json_candidates(path) if looks_like_coco(p, boundary)]


def refused_files(path: Path) -> list[tuple[Path, Refusal]]:
    """The JSON files of a dataset folder that a read may not open, and why (a symlink out of
    the dataset, a FIFO): said in the message when no annotation file is left."""
    boundary = Boundary(dataset_root(path))
    refused = []
    for candidate in json_candidates(path):
        opened = boundary.open(os.fspath(candidate))
        if isinstance(opened, tuple):
            os.close(opened[0])
        elif isinstance(opened, Refusal):
            refused.append((candidate, opened))
    return refused


def json_candidates(path: Path) -> list[Path]:
    """The JSON files a COCO dataset folder may keep its annotations in (or the file itself)."""
    if path.is_file() or path.is_symlink():
        return [path] if path.suffix.lower() == ".json" else []
    candidates: list[Path] = []
    for folder in (path, path / "annotations"):
        if folder.is_dir():
            candidates += sorted(p for p in folder.glob("*.json") if not p.is_dir())
    if not candidates:
        boundary = Boundary(path)
        subfolders = [p for p in sorted(path.iterdir()) if p.is_dir() and boundary.contains_folder(p)]
        candidates = [p / "_annotations.coco.json" for p in subfolders if (p / "_annotations.coco.json").exists()]
        candidates += [json for p in subfolders for json in sorted(p.glob("*.coco.json"))]
    return list(dict.fromkeys(candidates))


def sniff(path: Path) -> int:
    """0: no COCO annotation file at ``path``; higher is more certain."""
    return max((looks_like_coco(p) for p in annotation_files(path)), default=0)


def dataset_root(path: Path) -> Path:
    """The folder image paths are relative to: the folder read, or the one above ``annotations/``."""
    if path.is_dir():
        return path
    parent = path.parent
    return parent.parent if parent.name == "annotations" else parent


def _is_split_word(name: str) -> bool:
    return name.rstrip("0123456789") in SPLIT_WORDS


# COCO's own file names: instances_val2017, person_keypoints_train2017, captions_val2014,
# panoptic_val2017, stuff_train2017, image_info_test-dev2017; the split is all that follows
TASK_PREFIXES = ("instances_", "person_keypoints_", "captions_", "panoptic_", "stuff_", "image_info_")


def split_name(json_path: Path, n_files: int, image_bases: tuple[Path, ...] = ()) -> str:
    """The split a COCO file holds: ``train/_annotations.coco.json`` -> train,
    ``annotations/instances_val2017.json`` -> val2017,
    ``instances_validation_holdout_2024_extra.json`` -> validation_holdout_2024_extra, several
    loose files -> their stems. Where a name reads several ways (``a_b_val`` as ``a_b_val``,
    ``b_val`` or ``val``), the first reading with an image folder under ``image_bases`` wins."""
    if json_path.name.endswith(".coco.json"):
        if n_files > 1 or _is_split_word(json_path.parent.name):
            return json_path.parent.name
        return ""
    primary, readings = _split_readings(json_path, n_files)
    for reading in dict.fromkeys([primary, *readings]) if primary else ():
        if any(folder.is_dir() for base in image_bases for folder in split_folders(base, reading)):
            return reading
    return primary


def _split_readings(json_path: Path, n_files: int) -> tuple[str, list[str]]:
    """(the split a file name says by default, every reading of it: each underscore suffix)."""
    stem = json_path.stem
    prefix = next((p for p in TASK_PREFIXES if stem.startswith(p) and len(stem) > len(p)), "")
    rest = stem[len(prefix):]
    parts = rest.split("_")
    readings = ["_".join(parts[i:]) for i in range(len(parts))]
    if prefix or json_path.parent.name == "annotations":
        return rest if prefix or not _is_split_word(parts[-1]) else parts[-1], readings
    if _is_split_word(parts[-1]):
        return parts[-1], readings
    return (stem, readings) if n_files > 1 else ("", [])


def split_folders(base: Path, split: str) -> list[Path]:
    """The folders under ``base`` named after a split (``images/val``, ``val``, ``val2017``...)."""
    folders: list[Path] = []
    for name in dict.fromkeys(filter(None, [split, split.removesuffix("2017")])):
        folders += [base / "images" / name, base / name, base / f"{name}2017", base / "images" / f"{name}2017",
                    base / "data" / name]
    return folders
