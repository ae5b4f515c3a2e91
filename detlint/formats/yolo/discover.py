"""From a path to a layout: the dataset root of a folder or file, the config that describes it
(first match wins: a ``*.yaml`` with ``names``, a ``*.data``, else bare folders), and which files
passed on their own (pre-commit) belong to a YOLO dataset.
"""

from __future__ import annotations

import re
from pathlib import Path

from detlint import fileio
from detlint.boundary import Boundary
from detlint.errors import UsageError
from detlint.formats.protocol import Claim
from detlint.formats.yolo.darknet import darknet
from detlint.formats.yolo.layout import Layout, folders
from detlint.formats.yolo.listing import Walker
from detlint.formats.yolo.paths import CLASS_MAP_NAMES, NAMES_FILES, NAMES_KEY
from detlint.formats.yolo.ultralytics import ultralytics

YAML_SUFFIXES = (".yaml", ".yml")
CONFIG_SUFFIXES = (*YAML_SUFFIXES, ".data")
NAMES_KEY_BYTES = re.compile(rb"^names\s*:", re.MULTILINE)
NAMES_SEARCHED = 1 << 20  # bytes of a passed yaml searched for its names key


def discover(path: Path, root: Path, walker: Walker) -> Layout:
    """The layout of the dataset at ``path`` (a folder or a config), whose root is ``root``."""
    if path.is_file():
        if path.suffix.lower() in YAML_SUFFIXES:
            return ultralytics(root, path, walker)
        if path.suffix.lower() == ".data":
            return darknet(root, path, walker)
    yaml_path = find_yaml(root)
    if yaml_path is not None:
        return ultralytics(root, yaml_path, walker)
    data_path = find_darknet(root)
    if data_path is not None:
        return darknet(root, data_path, walker)
    return folders(root, Layout(root=root, kind="folders"), walker)


def root_of(path: Path) -> Path:
    """The dataset root of a folder (itself), a config (its folder) or one label file."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if path.is_file():
        return path.parent if path.suffix.lower() in CONFIG_SUFFIXES else _dataset_root_of(path)
    return path


def find_yaml(root: Path) -> Path | None:
    """The root's ``*.yaml`` with a ``names`` key (``data.yaml`` first, then by name)."""
    candidates = sorted(p for p in root.iterdir() if p.suffix.lower() in YAML_SUFFIXES and p.is_file())
    candidates.sort(key=lambda p: (p.name.lower() != "data.yaml", p.name))
    boundary = Boundary(root)
    for path in candidates:
        text, problem, _ = fileio.read_text(path, boundary, boundary.limits.document_bytes)
        if text is not None and NAMES_KEY.search(text):
            return path
        if path.name.lower() == "data.yaml" and not _plain_mapping(text):
            return path  # unreadable, or no YAML mapping: the reader says why (F001/F008 at data.yaml)
    return None


def _plain_mapping(text: str | None) -> bool:
    """Whether a yaml's text parses to a mapping (a data.yaml that does not is broken, not absent)."""
    import yaml

    if text is None:
        return False
    try:
        return isinstance(yaml.safe_load(text), dict)
    except (yaml.YAMLError, RecursionError):
        return False


def find_darknet(root: Path) -> Path | None:
    if (root / "obj.data").is_file():
        return root / "obj.data"
    found = sorted(p for p in root.glob("*.data") if p.is_file())
    return found[0] if found else None


def _dataset_root_of(path: Path) -> Path:
    """The dataset folder holding a single label/config file."""
    folder = path.parent
    for candidate in [folder, *list(folder.parents)[:4]]:
        if find_darknet(candidate) or _has_names_yaml(candidate) or (
                (candidate / "images").is_dir() and (candidate / "labels").is_dir()):
            return candidate
        if any((candidate / name).is_file() for name in NAMES_FILES):
            return candidate
    return folder.parent if folder.name == "labels" else folder


def _has_names_yaml(folder: Path) -> bool:
    try:
        return find_yaml(folder) is not None
    except OSError:
        return False


# ----------------------------------------------------------------------------- passed files


def claim(path: Path) -> Claim | None:
    """How a file passed on its own belongs to a YOLO dataset.

    A ``*.yaml`` with a ``names`` key and a ``*.data`` describe the dataset in their folder
    (DESCRIPTION: read as given); any ``.txt`` (labels, and the image and class lists beside them) and the class-map
    files are MEMBERs, whose root the markers above them decide.
    """
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return Claim.DESCRIPTION if has_names_key(str(path)) else None
    if suffix == ".data":
        return Claim.DESCRIPTION
    if suffix == ".txt" or path.name.lower() in CLASS_MAP_NAMES:
        return Claim.MEMBER
    return None


def has_names_key(path: str) -> bool:
    """Whether a yaml file has a top-level ``names:`` key within its first MiB (bytes: no decoding)."""
    head = Boundary(Path(path).parent).head(path, NAMES_SEARCHED)
    return isinstance(head, bytes) and NAMES_KEY_BYTES.search(head) is not None
