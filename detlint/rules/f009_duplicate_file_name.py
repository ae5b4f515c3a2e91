"""duplicate-file-name (F009): two image entries resolve to the same file, or would collide on export.

Why it matters: the same picture is loaded twice with two different sets of labels (one of
them wrong), and converters that flatten folders (YOLO, VOC use the file stem as the label name)
overwrite one image's labels with the other's.

Checked within one split: the same resolved file or declared name twice, and different files
whose names differ only in folder or letter case (``a/0001.jpg`` and ``b/0001.jpg``). The same
image in two splits is S001.

Fix: rename one of the files, or merge the two entries.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image

CODE = "F009"
NAME = "duplicate-file-name"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def _stems(paths: list[str]) -> list[str]:
    """Case-folded file stems, by string methods in one comprehension (100k+ names)."""
    bases = [path.rpartition("/")[2] for path in paths]
    return [(stem if dot else base).casefold() for base in bases for stem, dot, _ in (base.rpartition("."),)]


def _stems_cannot_collide(names: list[str]) -> bool:
    """True when ``names`` (distinct) cannot share a stem, by C-level string passes: they have
    one folder and one extension in common and stay distinct when case-folded (the usual layout:
    ``images/train/000000001.jpg``, ...). False means: compare the stems."""
    if len(names) < 2:
        return True
    first = names[0]
    folder = first[:first.rfind("/") + 1]
    base = first[len(folder):]
    if "." not in base:
        return False
    extension = base[base.rfind("."):]
    joined = "\0" + "\0".join(names) + "\0"
    if (folder and joined.count("\0" + folder) != len(names)) or joined.count("/") != len(names) * folder.count("/"):
        return False  # another folder, or a subfolder
    if joined.count(extension + "\0") != len(names):
        return False
    folded = joined.casefold()
    return folded == joined or len(set(folded.split("\0"))) == len(names) + 1


def _first_of_each(keys: list[str]) -> tuple[list[int], list[int]]:
    """(rows whose key appeared earlier, the row of that earlier occurrence)."""
    if len(set(keys)) == len(keys):
        return [], []
    first: dict[str, int] = {}
    repeated: list[int] = []
    earlier: list[int] = []
    for row, key in enumerate(keys):
        seen = first.setdefault(key, row)
        if seen != row:
            repeated.append(row)
            earlier.append(seen)
    return repeated, earlier


def _may_be_inside(name: str) -> bool:
    """Whether a name can be a file under the root: not absolute, no ``..`` component (cheap
    string tests: this runs over every image)."""
    if name.startswith(("/", "\\")) or name[1:2] == ":":
        return False
    return ".." not in name or "/../" not in f"/{name.replace(chr(92), '/')}/"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    images = ds.images
    identities = [path or name for path, name in zip(images.path.tolist(), images.file_name.tolist())]
    splits = images.split.tolist()
    # unsafe names (absolute, with ``..``: F008) name no file of the dataset: nothing to collide with
    named = [row for row, identity in enumerate(identities) if identity and _may_be_inside(identity)]
    if len(named) < 2:
        return
    # keys within a split; with one split (the usual case) the names themselves
    one_split = len(set(splits)) < 2
    same_file = [identities[r] for r in named] if one_split else [f"{splits[r]}\0{identities[r]}" for r in named]
    repeated, first = _first_of_each(same_file)
    for r, f in zip(repeated, first):
        yield at_image(ds, named[r], CODE, f"'{identities[named[r]]}' is also image entry {named[f] + 1} of this "
                       "split: one file, two sets of labels", field_name="file_name")
    duplicate_rows = {named[r] for r in repeated}
    distinct = [row for row in named if row not in duplicate_rows] if duplicate_rows else named
    if _stems_cannot_collide([identities[r] for r in distinct]):  # a sufficient test, over all splits
        return
    stems = _stems([identities[r] for r in distinct])
    if not one_split:
        stems = [f"{splits[r]}\0{stem}" for r, stem in zip(distinct, stems)]
    repeated, first = _first_of_each(stems)
    for r, f in zip(repeated, first):
        row, other = distinct[r], distinct[f]
        yield at_image(ds, row, CODE, f"'{identities[row]}' and '{identities[other]}' have the same file stem: "
                       "their labels collide when exported to YOLO or VOC", field_name="file_name")
