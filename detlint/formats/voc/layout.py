"""Which XML files make up a VOC dataset, their splits, and where their images may be.

- **devkit**: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt`` at the root,
  or nested as ``VOCdevkit/VOC2012/`` (several years are read together). Every ``ImageSets/Main``
  list is a split, named by its whole file stem (``validation_holdout_2024.txt`` is split
  ``validation_holdout_2024``), except per-class lists: a name with an underscore whose every
  line is ``id  1`` / ``id -1`` / ``id  0`` (``cat_train.txt``). A list whose name joins the
  names of other lists (``trainval``: ``train`` + ``val``; ``train+val``, ``train_val``) is their
  union: its entries that they list are not read again, the rest get its name. Blank lines,
  ``#`` comments and extra columns are tolerated. A listed stem that matches an XML only when
  case is ignored is F014. An image listed in two splits keeps its first (train, val, test,
  then the others by name, then the unions) and is S001, located at the line that lists it
  again. XMLs in ``Annotations/<sub>/`` get split ``<sub>`` when no list names them.
- **flat**: XML beside the images, in one folder (split ``""``) or in ``<split>/`` subfolders
  (only XML that looks like VOC is taken there).

``Layout.image_folders`` are the folders where every image should belong to an XML (flat: the
folders holding XML; devkit: ``JPEGImages/``); the reader reports the others (I005).

Also the quick looks :func:`sniff` and :func:`looks_like_voc` take. Paths are plain strings
where there is one per file: layouts list 100k+ files, where a Path per file costs seconds.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from detlint import fileio
from detlint.boundary import Boundary
from detlint.findings import Finding

SPLIT_PRIORITY = ("train", "val", "test")  # the order splits are kept in, not which are read
NAME_JOINERS = ("", "_", "-", "+")  # between the list names of a union's name (trainval, train+val)
# a per-class list: every line is blank, a comment, or an id and a presence flag
_PER_CLASS_LINE = r"[ \t]*(?:\S+[ \t]+(?:-1|0|1)[ \t]*)?(?:#[^\n]*)?"
PER_CLASS_TEXT = re.compile(rf"(?:{_PER_CLASS_LINE}\r?\n)*{_PER_CLASS_LINE}")
SNIFF_SAMPLE = 5  # XML files opened by sniff() before giving up on a folder
SNIFF_BYTES = 4096
_VOC_ROOT = re.compile(rb"<annotation[\s>/]")  # the element itself, not <annotations> (CVAT)


# ------------------------------------------------------------------------------ quick looks


def sniff(path: Path) -> int:
    """90 for a devkit ``Annotations/`` folder, 80 for a VOC XML file, 70/60 for VOC XML at/under
    the path, else 0."""
    path = Path(path)
    if path.is_file():
        return 80 if path.suffix.lower() == ".xml" and looks_like_voc(path) else 0
    if not path.is_dir():
        return 0
    boundary = Boundary(path)
    annotations = [base / "Annotations" for base in devkit_bases(path)]
    if any(not boundary.contains_folder(folder) for folder in annotations):
        return 90  # an Annotations folder, though linked out of the dataset: the reader says so (F008)
    if any(xml_files(folder, limit=1) for folder in annotations):
        return 90
    if _folder_has_voc_xml(path):
        return 70
    for sub in subdirs(path):
        if _folder_has_voc_xml(sub):
            return 60
    return 0


def looks_like_voc(path: Path | str) -> bool:
    """Whether the file's first bytes hold an ``<annotation>`` element (only a regular file inside
    its folder is opened); CVAT's ``<annotations>`` is another format."""
    head = Boundary(Path(path).parent).head(os.fspath(path), SNIFF_BYTES)
    return isinstance(head, bytes) and _VOC_ROOT.search(head) is not None


def _folder_has_voc_xml(folder: Path) -> bool:
    return any(looks_like_voc(p) for p in xml_files(folder, limit=SNIFF_SAMPLE))


# ------------------------------------------------------------------------------ listings


def subdirs(folder: Path) -> list[Path]:
    """The visible sub-folders of ``folder``; a symlinked one only where it stays inside ``folder``."""
    try:
        with os.scandir(folder) as entries:
            found = sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []
    boundary = Boundary(folder)
    return [sub for sub in found if not sub.is_symlink() or boundary.contains_folder(sub)]


def xml_names(folder: Path | str, limit: int | None = None) -> list[str]:
    """Names of the ``*.xml`` directly in ``folder`` (any case of the suffix), sorted; at most ``limit``."""
    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(".xml") and not entry.name.startswith(".") and entry.is_file():
                    found.append(entry.name)
                    if limit is not None and len(found) >= limit:
                        break
    except OSError:
        return []
    return sorted(found)


def xml_files(folder: Path | str, limit: int | None = None) -> list[str]:
    """Paths of :func:`xml_names` (``folder`` joined with each name)."""
    folder = os.fspath(folder)
    return [os.path.join(folder, name) for name in xml_names(folder, limit)]


def devkit_bases(root: Path) -> list[Path]:
    """Folders holding ``Annotations/``: the root itself, or ``VOCdevkit/VOC*`` / ``VOC*``."""
    if (root / "Annotations").is_dir():
        return [root]
    bases = []
    for parent in (root, root / "VOCdevkit"):
        for child in subdirs(parent):
            if (child / "Annotations").is_dir():
                bases.append(child)
    return bases


# ------------------------------------------------------------------------------ layouts


@dataclass
class XmlEntry:
    """One annotation file to read and where its image may be (paths as strings: 100k+ of them)."""

    path: str
    split: str
    image_folders: list[str]  # shared between the files of one folder
    also_in_splits: list[str] = field(default_factory=list)
    leaks: list[Finding] = field(default_factory=list)  # its S001s: the reader fills in the image


@dataclass
class ListedImage:
    """An image named by a split list that has no XML."""

    stem: str
    split: str
    folder: str
    also_in_splits: list[str] = field(default_factory=list)
    leaks: list[Finding] = field(default_factory=list)


@dataclass
class Layout:
    kind: str  # "devkit", "flat" or "file" (recorded in Dataset.meta["voc_layout"])
    xmls: list[XmlEntry] = field(default_factory=list)
    listed_only: list[ListedImage] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    split_files: list[str] = field(default_factory=list)
    image_folders: list[str] = field(default_factory=list)  # each image there should have an XML


@dataclass
class SplitList:
    """One ``ImageSets/Main`` split list: its entries, and the lists it is the union of."""

    name: str
    path: Path
    entries: list[tuple[str, int]]  # (image id, 1-based line)
    parts: frozenset[str] = frozenset()  # by name, transitively (trainval: train, val)


@dataclass
class _Memberships:
    """Stem -> its splits in list order, where it was first listed, and its S001 findings."""

    splits: dict[str, list[str]] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)  # "file:line"
    leaks: dict[str, list[Finding]] = field(default_factory=dict)


# stem -> (order key, xml path, subfolder split, image folders); the key orders as the paths
# would (folder parts first), the folder lists are shared per folder
_Stems = dict[str, tuple[tuple[str, ...], str, str, list[str]]]


def devkit_layout(root: Path, bases: list[Path]) -> Layout:
    layout = Layout(kind="devkit")
    boundary = Boundary(root)
    for devkit in bases:
        if not boundary.contains_folder(devkit / "Annotations"):
            layout.problems.append(Finding(
                "F008", "annotation folder is outside the dataset root (after symbolic links); not read",
                file=fileio.relpath(devkit / "Annotations", root)))
            continue
        images = os.fspath(devkit / "JPEGImages")
        layout.image_folders.append(images)
        by_stem = _annotation_stems(devkit, images, os.fspath(root))
        members = _split_memberships(devkit, root, by_stem, layout)
        for stem, (_, xml, sub_split, image_folders) in sorted(by_stem.items(), key=lambda item: item[1][0]):
            splits = members.splits.get(stem) or [sub_split]
            layout.xmls.append(XmlEntry(xml, splits[0], image_folders, splits[1:], members.leaks.get(stem, [])))
        for stem in sorted(set(members.splits) - set(by_stem)):
            splits = members.splits[stem]
            layout.listed_only.append(ListedImage(stem, splits[0], images, splits[1:], members.leaks.get(stem, [])))
    return layout


def _annotation_stems(devkit: Path, images: str, root_text: str) -> _Stems:
    """The XMLs of ``devkit/Annotations`` and its subfolders by stem (the first one wins)."""
    annotations = os.fspath(devkit / "Annotations")
    by_stem: _Stems = {}
    folders = [annotations, images, root_text]
    for name in xml_names(annotations):
        by_stem.setdefault(name[:-4], ((name,), os.path.join(annotations, name), "", folders))
    for sub in subdirs(annotations):
        sub_text = os.fspath(sub)
        sub_folders = [sub_text, images, root_text]
        for name in xml_names(sub_text):
            by_stem.setdefault(name[:-4], ((sub.name, name), os.path.join(sub_text, name), sub.name,
                                           sub_folders))
    return by_stem


def _split_memberships(devkit: Path, root: Path, by_stem: _Stems, layout: Layout) -> _Memberships:
    """Which splits list each stem, in list order; records the list files and their F008, F014
    and S001 findings in ``layout``."""
    lower_stems = {stem.lower(): stem for stem in sorted(by_stem)}
    members = _Memberships()
    boundary = Boundary(root)
    for split_list in split_lists(devkit / "ImageSets" / "Main", boundary, layout.problems, root):
        list_file = fileio.relpath(split_list.path, root)
        layout.split_files.append(list_file)
        for image_id, line in split_list.entries:
            if fileio.safe_relative(image_id) != image_id or "/" in image_id:
                layout.problems.append(Finding(
                    "F008", f"split list entry {image_id!r} is a path, not an image id; not read",
                    file=list_file, line=line))
                continue
            stem = image_id
            if stem not in by_stem and stem.lower() in lower_stems:
                stem = lower_stems[stem.lower()]
                layout.problems.append(Finding(
                    "F014", f"split list names {image_id!r} but the annotation file is "
                    f"{stem}.xml (matches only when case is ignored)", file=list_file, line=line))
            _add_membership(members, stem, split_list, (list_file, line), layout)
    return members


def _add_membership(members: _Memberships, stem: str, split_list: SplitList, where: tuple[str, int],
                    layout: Layout) -> None:
    """``stem`` is listed in ``split_list`` at ``where`` (file, line): a new split of it, or S001
    when an earlier list already put it in another split (a union repeating its parts is neither)."""
    splits = members.splits.setdefault(stem, [])
    if split_list.name in splits or not split_list.parts.isdisjoint(splits):
        return
    file, line = where
    if splits:
        leak = Finding("S001", f"image '{stem}' is listed in split '{splits[0]}' ({members.first[stem]}) "
                       f"and in split '{split_list.name}' ({file}:{line}): a model trained on one split "
                       "is measured on its own training images", file=file, line=line)
        layout.problems.append(leak)
        members.leaks.setdefault(stem, []).append(leak)
    else:
        members.first[stem] = f"{file}:{line}"
    splits.append(split_list.name)


def split_lists(imagesets: Path, boundary: Boundary, problems: list[Finding] | None = None,
                root: Path | None = None) -> list[SplitList]:
    """The split lists of an ``ImageSets/Main`` folder (every ``.txt`` but the per-class lists),
    in the order their splits are kept: train, val, test, the others by name, then the unions.
    A list that is not read (a FIFO, a device, a link out of the root, not UTF-8, over the
    limit) is a finding in ``problems`` (its file relative to ``root``), never silently no split."""
    try:
        files = sorted(p for p in imagesets.iterdir() if p.suffix.lower() == ".txt" and not p.is_dir())
    except OSError:
        return []
    lists = []
    for path in files:
        text, problem, _ = fileio.read_text(path, boundary, boundary.limits.document_bytes)
        if problem is not None and problems is not None:
            problem.file = fileio.relpath(path, root if root is not None else boundary.root)
            problem.message = f"split list {problem.message}" if problem.message.startswith("file ") else \
                f"split list: {problem.message}"
            problems.append(problem)
        if text is not None and not is_per_class_list(path.stem, text):
            lists.append(SplitList(path.stem, path, _list_entries(text)))
    _mark_unions(lists)
    rank = {name: i for i, name in enumerate(SPLIT_PRIORITY)}
    return sorted(lists, key=lambda s: (bool(s.parts), rank.get(s.name, len(rank)), s.name))


def is_per_class_list(name: str, text: str) -> bool:
    """Whether a list is ``<class>_<split>.txt`` (``id  1`` / ``id -1`` / ``id  0`` per line),
    not a split: by its name and, since a split may have an underscore too, by its content."""
    return "_" in name and bool(text.strip()) and PER_CLASS_TEXT.fullmatch(text) is not None


def _list_entries(text: str) -> list[tuple[str, int]]:
    """(image id, 1-based line) per listed image: first column, blanks and comments skipped."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            entries.append((stripped.split()[0], number))
    return entries


def _mark_unions(lists: list[SplitList]) -> None:
    """Set ``parts`` of each list whose name joins two or more other lists' names, transitively
    (``trainvaltest`` may be read as ``trainval`` + ``test``: ``train`` and ``val`` are parts too)."""
    by_name = {s.name.casefold(): s for s in lists}
    direct = {s.name: _name_parts(s.name.casefold(), set(by_name) - {s.name.casefold()}) for s in lists}
    named = {key: by_name[key].name for key in by_name}

    def expanded(name: str) -> frozenset[str]:
        parts = {named[piece] for piece in direct[name]}
        for part in list(parts):
            parts |= expanded(part)  # a part's name is shorter: no cycle
        return frozenset(parts)

    for split_list in lists:
        split_list.parts = expanded(split_list.name)


def _name_parts(name: str, others: set[str]) -> list[str]:
    """The names in ``others`` that ``name`` is made of (at least two, joined by one of
    :data:`NAME_JOINERS`), longest first; [] where there are none. Each suffix is tried once
    (memoised): list names are the dataset's, and ``a``, ``aa`` with ``aaa...ab`` would otherwise
    be tried in exponentially many ways."""
    ordered = sorted(others, key=len, reverse=True)
    memo: dict[str, list[str] | None] = {}

    def pieces(rest: str) -> list[str] | None:
        if rest in memo:
            return memo[rest]
        memo[rest] = None
        for other in (o for o in ordered if rest.startswith(o)):
            tail = rest[len(other):]
            if not tail:
                memo[rest] = [other]
                return memo[rest]
            for joiner in NAME_JOINERS:
                if tail.startswith(joiner) and len(tail) > len(joiner):
                    found = pieces(tail[len(joiner):])
                    if found is not None:
                        memo[rest] = [other, *found]
                        return memo[rest]
        return None

    found = pieces(name)
    return found if found is not None and len(found) >= 2 else []


def flat_layout(root: Path) -> Layout:
    layout = Layout(kind="flat")
    root_text = os.fspath(root)
    layout.xmls = [XmlEntry(xml, "", [root_text]) for xml in xml_files(root)]
    if layout.xmls:
        layout.image_folders.append(root_text)
    # subfolders may hold unrelated XML (configs, other tools): only VOC files are taken there
    for sub in subdirs(root):
        sub_folders = [os.fspath(sub), root_text]
        taken = [XmlEntry(xml, sub.name, sub_folders) for xml in xml_files(sub) if looks_like_voc(xml)]
        if taken:
            layout.image_folders.append(sub_folders[0])
        layout.xmls += taken
    return layout


def file_layout(path: Path) -> Layout:
    """A single ``.xml`` file: its folder is the root."""
    return Layout(kind="file", xmls=[XmlEntry(os.fspath(path), "", [os.fspath(path.parent)])])
