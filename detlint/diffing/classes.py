"""What changed in the class list between two versions: added, removed, renamed, reordered.

A renamed class is a name that left the list at the position where a new name arrived (the
class kept its index or id); its boxes then match the new name's boxes, so renaming ``dog`` to
``Dog`` reports one class-map change, not every dog box relabelled. A reordered class is one that
kept its name but not its index: in YOLO the label files hold the index, so every label still
writing the old index now means another class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detlint.model import Categories


@dataclass
class ClassChange:
    kind: str  # "added" | "removed" | "renamed" | "reordered"
    old_index: int  # -1 for an added class
    new_index: int  # -1 for a removed class
    message: str


@dataclass
class ClassMap:
    """The shared class space: each old and new category index as one integer code (by name,
    renames followed), and the changes."""

    old_codes: np.ndarray
    new_codes: np.ndarray
    names: list[str]  # code -> the class's name (the new name for a renamed class)
    changes: list[ClassChange] = field(default_factory=list)


def _id_note(old: Categories, new: Categories, i: int, j: int) -> str:
    old_id, new_id = int(old.ids[i]), int(new.ids[j])
    return f", id {old_id} -> {new_id}" if (old_id, new_id) != (i, j) and old_id != new_id else ""


def compare(old: Categories, new: Categories) -> ClassMap:
    old_names, new_names = list(old.names), list(new.names)
    new_at = {name: j for j, name in reversed(list(enumerate(new_names)))}
    old_at = {name: i for i, name in reversed(list(enumerate(old_names)))}
    gone = [i for i, name in enumerate(old_names) if name not in new_at]
    arrived = {j for j, name in enumerate(new_names) if name not in old_at}
    renamed = {i: i for i in gone if i in arrived}  # same position, a name that is new
    changes: list[ClassChange] = []
    for i in gone:
        if i in renamed:
            changes.append(ClassChange("renamed", i, i, f"class {old_names[i]!r} renamed to {new_names[i]!r} "
                                                        f"(index {i}{_id_note(old, new, i, i)})"))
        else:
            changes.append(ClassChange("removed", i, -1, f"class {old_names[i]!r} removed (was index {i})"))
    for j in sorted(arrived - set(renamed.values())):
        changes.append(ClassChange("added", -1, j, f"class {new_names[j]!r} added at index {j}"))
    for i, name in enumerate(old_names):
        j = new_at.get(name)
        if j is not None and old_at[name] == i and j != i:
            meaning = f"; YOLO labels that still say {i} now mean {new_names[i]!r}" if i < len(new_names) else \
                f"; YOLO labels that still say {i} now name no class"
            changes.append(ClassChange("reordered", i, j, f"class {name!r} moved from index {i} to {j} "
                                                          f"(shift {j - i:+d}{_id_note(old, new, i, j)}){meaning}"))
    names = list(dict.fromkeys(new_names + old_names))
    code = {name: k for k, name in enumerate(names)}
    old_codes = np.array([code[new_names[i]] if i in renamed else code[n] for i, n in enumerate(old_names)], np.int64)
    new_codes = np.array([code[n] for n in new_names], np.int64)
    return ClassMap(old_codes=old_codes.reshape(len(old_names)), new_codes=new_codes.reshape(len(new_names)),
                    names=names, changes=changes)


def label_codes(category: np.ndarray, class_id: np.ndarray, codes: np.ndarray, n_names: int) -> np.ndarray:
    """Each annotation's code in the shared space; an unknown class (category -1) gets a code of
    its own source id past the names, so two versions' unknown ``7``s still match."""
    known = (category >= 0) & (category < len(codes))
    result = np.full(len(category), -1, np.int64)
    result[known] = codes[category[known]] if len(codes) else -1
    result[~known] = n_names + np.abs(class_id[~known]) * 2 + (class_id[~known] < 0)
    return result
