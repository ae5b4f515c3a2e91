"""The ultralytics ``data.yaml`` layout: its class names, its splits, and where they really are.

Any ``*.yaml`` at the root with a ``names`` key: ``train`` / ``val`` (or ``validation``, as
ultralytics renames it) / ``test``, each a folder (read recursively), an image file, a list file
of image paths, or a list of those; an optional ``path:`` base; ``names`` as a list or a
``{index: name}`` mapping (each class located at its own line); ``nc``. Two keys reaching the
same images are two splits: the reader keeps each image once and reports the leak
(:mod:`.leakage`). A yaml without ``train:`` or ``val:`` is F002 (ultralytics'
``check_det_dataset`` refuses it), and so is an image file as an entry (ultralytics reads a named
file as a list of paths). Roboflow exports write ``../train/images``
(relative to a split folder) and sometimes absolute paths from the exporting machine
(``/Users/...``): when a declared folder does not exist the reader falls back to the
conventional ``<root>/<split>/images`` or ``<root>/images/<split>`` (``val`` and ``valid`` are
interchangeable) and reports I001 at the yaml with the resolved path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from detlint import fileio
from detlint.fileio import is_image
from detlint.findings import Finding
from detlint.formats.yolo.layout import (
    Layout,
    add_image_folder,
    add_image_list,
    add_listed_image,
    folders,
)
from detlint.formats.yolo.listing import Walker
from detlint.formats.yolo.paths import SPLIT_ALIASES, SPLIT_KEYS
from detlint.safetext import counted


def ultralytics(root: Path, yaml_path: Path, walker: Walker) -> Layout:
    """The layout a ``data.yaml`` describes (bare folders where it describes none)."""
    layout = Layout(root=root, kind="ultralytics")
    yaml_rel = fileio.relpath(yaml_path, root)
    layout.config_files.append(yaml_rel)
    text, data = _load_yaml(layout, yaml_path, yaml_rel)
    if not isinstance(data, dict):
        if text is not None and data is not None:
            layout.problems.append(Finding("F001", "data.yaml is not a mapping", file=yaml_rel, line=1))
        return folders(root, layout, walker)
    layout.meta["yaml"] = data
    layout.meta["yaml_file"] = yaml_rel
    key_lines, name_lines = _yaml_key_lines(text or "")
    _names_from_yaml(layout, data, yaml_rel, key_lines, name_lines)
    base_dir = _base_dir(layout, yaml_path, data.get("path"), key_lines.get("path"))
    _require_train_and_val(layout, data, yaml_rel, key_lines)
    found_any = False
    for key, (yaml_key, value) in _declared_splits(data).items():
        entries = value if isinstance(value, list) else [value]
        for i, entry in enumerate(entries):
            line = key_lines.get(f"{yaml_key}/{i}", key_lines.get(yaml_key))
            found_any |= _add_yaml_split(layout, key, str(entry), (base_dir, yaml_path, yaml_rel), line, walker)
    if not found_any and not layout.images:
        layout.adopt(folders(root, Layout(root=root, kind="folders"), walker))
    return layout


def _load_yaml(layout: Layout, yaml_path: Path, yaml_rel: str) -> tuple[str | None, Any]:
    """The yaml's text and its parsed value (None, with an F001, where it does not parse)."""
    import yaml

    text, problem = layout.read_text(yaml_path)
    if text is None:
        layout.problem(problem, yaml_rel)
        return None, None
    try:
        return text, yaml.safe_load(text)
    except RecursionError:
        layout.problems.append(Finding("F001", "invalid YAML: nested too deeply to read", file=yaml_rel))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        layout.problems.append(Finding(
            "F001", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", file=yaml_rel,
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None))
    return text, None


def _base_dir(layout: Layout, yaml_path: Path, declared_base: object, line: int | None) -> Path:
    """The folder split paths are relative to: ``path:`` where it exists inside the root, else
    the yaml's folder (ultralytics lets ``path:`` name any folder; detlint reads only the
    dataset's own, and says so with an F008)."""
    if isinstance(declared_base, str) and declared_base:
        candidate = Path(declared_base)
        candidate = candidate if candidate.is_absolute() else (yaml_path.parent / candidate)
        if candidate.is_dir() and not layout.outside(candidate, f"path: {declared_base!r}", layout.meta["yaml_file"],
                                                     line):
            return candidate
    return yaml_path.parent


def _declared_splits(data: dict) -> dict[str, tuple[str, Any]]:
    """The splits the yaml sets: split name -> (its yaml key, its value). Two keys naming the same
    images are two splits (the reader reports the leak); ``validation:`` is ``val`` where no
    ``val:`` is set, as ultralytics renames it."""
    declared: dict[str, tuple[str, Any]] = {}
    for key in SPLIT_KEYS:
        yaml_key = "validation" if key == "val" and "val" not in data and "validation" in data else key
        if data.get(yaml_key) not in (None, ""):
            declared[key] = (yaml_key, data[yaml_key])
    return declared


def _require_train_and_val(layout: Layout, data: dict, yaml_rel: str, key_lines: dict[str, int]) -> None:
    """F002 where ``train:`` or ``val:`` is missing: ultralytics refuses such a yaml before training
    (``check_det_dataset``; it accepts ``validation:`` for ``val:``)."""
    missing = [key for key in ("train", "val") if key not in data and not (key == "val" and "validation" in data)]
    if not missing:
        return
    keys = " and no ".join(f"'{key}:'" for key in missing)
    add = "; ".join(f"add '{key}: <folder of {WHAT[key]} images>'" for key in missing)
    line = next((key_lines[key] for key in ("train", "val", "validation", "names") if key in key_lines), 1)
    layout.problems.append(Finding(
        "F002", f"{yaml_rel} has no {keys} key: ultralytics' check_det_dataset raises \"'train' and 'val' are "
                f"required in all data YAMLs\" before training starts; {add} (a folder of its own: the same "
                f"images in train and val is split leakage, S001)", file=yaml_rel, line=line))


WHAT = {"train": "training", "val": "validation"}


def _yaml_key_lines(text: str) -> tuple[dict[str, int], dict[Any, int]]:
    """1-based lines of the top-level keys and of the ``names`` mapping keys (PyYAML marks)."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}, {}
    top: dict[str, int] = {}
    names: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            top[str(key.value)] = key.start_mark.line + 1
            if isinstance(value, yaml.SequenceNode):  # a split list: each entry's own line, "train/0"
                top.update((f"{key.value}/{i}", item.start_mark.line + 1) for i, item in enumerate(value.value))
            if key.value == "names":
                if isinstance(value, yaml.MappingNode):
                    constructor = yaml.SafeLoader("")
                    for sub_key, _ in value.value:  # keyed by the typed key (int 0, not the text "0")
                        names[_typed_key(constructor, sub_key)] = sub_key.start_mark.line + 1
                elif isinstance(value, yaml.SequenceNode):
                    for i, item in enumerate(value.value):
                        names[i] = item.start_mark.line + 1
    return top, names


def _typed_key(constructor: Any, node: Any) -> Any:
    """A mapping key as ``safe_load`` types it (a scalar: ``0`` is an int), else its text."""
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        return node.value
    try:
        key = constructor.construct_object(node)
    except (yaml.YAMLError, ValueError, TypeError):
        return node.value
    return key if isinstance(key, (str, int, float, bool)) or key is None else node.value


def _names_from_yaml(layout: Layout, data: dict, yaml_rel: str, key_lines: dict[str, int],
                     name_lines: dict[Any, int]) -> None:
    raw_names = data.get("names")
    names_line = key_lines.get("names")
    if isinstance(raw_names, dict):
        _names_from_mapping(layout, raw_names, yaml_rel, names_line, name_lines)
    elif isinstance(raw_names, list):
        if not all(isinstance(n, (str, int, float)) for n in raw_names):  # a nested list, an alias bomb
            layout.problems.append(Finding("C006", "names holds an entry that is not a class name (a list or "
                                                   "a mapping)", file=yaml_rel, line=names_line))
            return
        layout.names = [str(n) for n in raw_names]
        layout.names_lines = [name_lines.get(i, names_line or 0) for i in range(len(raw_names))]
    else:
        layout.problems.append(Finding("C006", f"names is not a list or a mapping: {raw_names!r}",
                                       file=yaml_rel, line=names_line))
        return
    layout.names_file = yaml_rel
    nc = data.get("nc")
    if nc is not None and (not isinstance(nc, int) or nc != len(layout.names)):
        layout.problems.append(Finding("C006", f"nc is {nc!r} but names has {counted(len(layout.names), 'entry')}",
                                       file=yaml_rel, line=key_lines.get("nc")))


MAX_NAME_GAP = 1000  # missing indices a names mapping may skip before detlint stops believing it


def _names_from_mapping(layout: Layout, raw_names: dict, yaml_rel: str, names_line: int | None,
                        name_lines: dict[Any, int]) -> None:
    """``names: {0: cat, 1: dog}``: C006 where the keys are not 0..n-1; gaps named by their index."""
    keys = list(raw_names)
    # an index far past the number of names is no class list (names: {0: a, 5000000000: b})
    int_keys = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)
                and k < len(keys) + MAX_NAME_GAP and isinstance(raw_names[k], (str, int, float))]
    kept = set(int_keys)
    bad = [k for k in keys if k not in kept or k < 0]
    if bad or sorted(int_keys) != list(range(len(int_keys))):
        first_bad = bad[0] if bad else next(
            (k for k in sorted(int_keys) if k not in range(len(int_keys))), max(int_keys))
        layout.problems.append(Finding(
            "C006", f"names keys are not 0..{len(keys) - 1}: {sorted(map(str, keys))!r}",
            file=yaml_rel, line=name_lines.get(first_bad, names_line)))
    size = max(int_keys) + 1 if int_keys else 0
    names = [str(i) for i in range(size)]
    for k in int_keys:
        if k >= 0:
            names[k] = str(raw_names[k])
    layout.names = names
    layout.names_lines = [name_lines.get(i, names_line or 0) for i in range(size)]


def _fallback_folders(root: Path, split_key: str, declared: str) -> list[Path]:
    """Conventional places for a split whose declared folder does not exist."""
    aliases = SPLIT_ALIASES.get(split_key, (split_key,))
    declared_parts = [p for p in declared.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    candidates: list[Path] = []
    for tail in (2, 1):  # the declared path's tail, e.g. "valid/images" of "/Users/x/valid/images"
        if len(declared_parts) >= tail and declared_parts[-1] == "images":
            candidates.append(root.joinpath(*declared_parts[-tail:]))
    for alias in aliases:
        candidates += [root / alias / "images", root / "images" / alias]
    return [c for c in candidates if c != root / "images" or c.is_dir()]


def _add_yaml_split(layout: Layout, key: str, declared: str, where: tuple[Path, Path, str],
                    line: int | None, walker: Walker) -> bool:
    """Add the images of one declared split entry (``where``: base folder, yaml path, its
    relative path); False when neither it nor a conventional fallback exists."""
    base_dir, yaml_path, yaml_rel = where
    root = layout.root
    path = Path(declared)
    resolved = path if path.is_absolute() else (base_dir / path)
    if not resolved.exists() and not path.is_absolute():
        beside_yaml = yaml_path.parent / path
        resolved = beside_yaml if beside_yaml.exists() else resolved
    if resolved.exists() and layout.outside(resolved, f"{key or 'train'}: {declared!r}", yaml_rel, line):
        return False
    source = (yaml_rel, line or 0)
    if resolved.is_file() and is_image(resolved.name):
        _add_image_entry(layout, key, declared, resolved, source)
        return True
    if resolved.is_dir():
        add_image_folder(layout, key, resolved, walker, source)
        return True
    if resolved.exists():  # ultralytics reads any other file as a list of image paths; a FIFO or a
        add_image_list(layout, key, resolved)  # device is refused there (F001), not "does not exist"
        return True
    fallback = next((c for c in _fallback_folders(root, key, declared) if c.is_dir()), None)
    shown = os.path.normpath(str(resolved))
    shown = f" (resolved to {shown})" if shown != declared else ""
    if fallback is None:
        layout.problems.append(Finding(
            "I001", f"{key}: {declared!r} does not exist{shown} (no such folder, image or list file); "
                    f"no conventional {key}/images or images/{key} folder either",
            file=yaml_rel, line=line))
        return False
    layout.problems.append(Finding(
        "I001", f"{key}: {declared!r} does not exist{shown} (no such folder, image or list file); "
                f"using {fileio.relpath(fallback, root)} instead", file=yaml_rel, line=line))
    add_image_folder(layout, key, fallback, walker, source)
    return True


def _add_image_entry(layout: Layout, key: str, declared: str, image: Path, source: tuple[str, int]) -> None:
    """An image file named as a split entry: read as an image of that split, and an F002, since
    ultralytics' ``get_img_files`` opens every file entry as a text list of image paths (an image
    fails to decode as UTF-8 and training stops with "Error loading data from ...")."""
    add_listed_image(layout, key, image, True, source)
    layout.problems.append(Finding(
        "F002", f"{key}: {declared!r} is an image file; ultralytics reads a file named in data.yaml as a list of "
                f"image paths, so training stops with \"Error loading data from ...\": name its folder, or list "
                f"the images in a .txt file (one path a line) and name that file", file=source[0],
        line=source[1] or None, image=fileio.relpath(image, layout.root)))
