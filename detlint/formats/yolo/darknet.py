"""The darknet layout: ``obj.data`` + ``obj.names`` + ``train.txt``, with paths such as
``data/obj_train_data/1.jpg`` where ``data/`` means the dataset root."""

from __future__ import annotations

from pathlib import Path

from detlint import fileio
from detlint.findings import Finding
from detlint.formats.yolo.layout import (
    Layout,
    add_image_list,
    find_names_file,
    folders,
    load_names_file,
    resolve_listed,
)
from detlint.formats.yolo.listing import Walker
from detlint.safetext import counted

LIST_KEYS = ("train", "valid", "val", "test")


def darknet(root: Path, data_path: Path, walker: Walker) -> Layout:
    """The layout an ``obj.data`` describes (bare folders where it lists no image)."""
    layout = Layout(root=root, kind="darknet")
    rel = fileio.relpath(data_path, root)
    layout.config_files.append(rel)
    text, problem = layout.read_text(data_path)
    if text is None:
        layout.problem(problem, rel)
        return folders(root, layout, walker)
    config = _parse_config(text)
    layout.meta["obj_data"] = config
    names_path = resolve_listed(root, data_path, config["names"]) if config.get("names") else None
    if names_path is not None and layout.outside(names_path, f"names = {config['names']!r}", rel,
                                                 _line_of(text, "names")):
        names_path = None
    if names_path is None or not names_path.is_file():
        names_path = find_names_file(root)
    if names_path is not None and names_path.is_file():
        load_names_file(layout, names_path)
    declared_classes = config.get("classes")
    if layout.names is not None and declared_classes and declared_classes.isdigit() \
            and int(declared_classes) != len(layout.names):
        layout.problems.append(Finding(
            "C006", f"classes = {declared_classes} but {layout.names_file} has {counted(len(layout.names), 'name')}",
            file=rel, line=_line_of(text, "classes")))
    for key in LIST_KEYS:
        if config.get(key):
            _add_list(layout, key, config[key], data_path, (rel, text))
    if not layout.images:
        layout.adopt(folders(root, Layout(root=root, kind="folders"), walker))
    return layout


def _parse_config(text: str) -> dict[str, str]:
    """``key = value`` lines (``#`` comments skipped)."""
    config: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip()
    return config


def _add_list(layout: Layout, key: str, declared: str, data_path: Path, source: tuple[str, str]) -> None:
    """The image list a split key names (I001 at the ``obj.data`` line where it does not exist)."""
    rel, text = source
    list_file = resolve_listed(layout.root, data_path, declared)
    if layout.outside(list_file, f"{key} = {declared!r}", rel, _line_of(text, key)):
        return
    if list_file.is_file():
        add_image_list(layout, key, list_file)
        return
    layout.problems.append(Finding(
        "I001", f"{key} list {declared!r} does not exist (resolved to {list_file})",
        file=rel, line=_line_of(text, key)))


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.split("=", 1)[0].strip() == key:
            return number
    return None
