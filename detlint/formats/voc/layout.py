"""Which XML files make up a VOC dataset, their splits, and where their images may be.

- **devkit**: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt`` at the root,
  or nested as ``VOCdevkit/VOC2012/`` (several years are read together). Split files are the
  ``ImageSets/Main`` lists without an underscore (``cat_train.txt`` is a per-class list and is
  ignored); ``trainval`` is ignored when ``train``/``val``/``test`` exist. Blank lines, ``#``
  comments and extra columns are tolerated. A listed stem that matches an XML only when case is
  ignored is F014. XMLs in ``Annotations/<sub>/`` get split ``<sub>`` when no list names them.
- **flat**: XML beside the images, in one folder (split ``""``) or in ``<split>/`` subfolders
  (only XML that looks like VOC is taken there).

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

SPLIT_PRIORITY = ("train", "val", "test")
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


@dataclass
class ListedImage:
    """An image named by a split list that has no XML."""

    stem: str
    split: str
    folder: str
    also_in_splits: list[str] = field(default_factory=list)


@dataclass
class Layout:
    kind: str  # "devkit", "flat" or "file" (recorded in Dataset.meta["voc_layout"])
    xmls: list[XmlEntry] = field(default_factory=list)
    listed_only: list[ListedImage] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    split_files: list[str] = field(default_factory=list)


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
        by_stem = _annotation_stems(devkit, images, os.fspath(root))
        memberships = _split_memberships(devkit, root, by_stem, layout)
        for stem, (_, xml, sub_split, image_folders) in sorted(by_stem.items(), key=lambda item: item[1][0]):
            splits = memberships.get(stem) or [sub_split]
            layout.xmls.append(XmlEntry(xml, splits[0], image_folders, splits[1:]))
        for stem in sorted(set(memberships) - set(by_stem)):
            splits = memberships[stem]
            layout.listed_only.append(ListedImage(stem, splits[0], images, splits[1:]))
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


def _split_memberships(devkit: Path, root: Path, by_stem: _Stems, layout: Layout) -> dict[str, list[str]]:
    """Stem -> the splits whose lists name it, in priority order; records the list files and
    their F014 findings in ``layout``."""
    lower_stems = {stem.lower(): stem for stem in sorted(by_stem)}
    memberships: dict[str, list[str]] = {}
    boundary = Boundary(root)
    for split, list_file in _split_lists(devkit / "ImageSets" / "Main"):
        layout.split_files.append(fileio.relpath(list_file, root))
        for image_id, line in _read_split_list(list_file, boundary):
            if fileio.safe_relative(image_id) != image_id or "/" in image_id:
                layout.problems.append(Finding(
                    "F008", f"split list entry {image_id!r} is a path, not an image id; not read",
                    file=fileio.relpath(list_file, root), line=line))
                continue
            stem = image_id
            if stem not in by_stem and stem.lower() in lower_stems:
                stem = lower_stems[stem.lower()]
                layout.problems.append(Finding(
                    "F014", f"split list names {image_id!r} but the annotation file is "
                    f"{stem}.xml (matches only when case is ignored)",
                    file=fileio.relpath(list_file, root), line=line))
            splits = memberships.setdefault(stem, [])
            if split not in splits:
                splits.append(split)
    return memberships


def _split_lists(imagesets: Path) -> list[tuple[str, Path]]:
    """(split, file) for the ``ImageSets/Main`` split lists, in priority order."""
    try:
        files = {p.stem: p for p in imagesets.iterdir()
                 if p.suffix.lower() == ".txt" and "_" not in p.stem and p.is_file()}
    except OSError:
        return []
    if any(name in files for name in SPLIT_PRIORITY):
        files.pop("trainval", None)  # union of train and val: reading it would double-list them
    ordered = [name for name in SPLIT_PRIORITY if name in files]
    ordered += sorted(name for name in files if name not in SPLIT_PRIORITY)
    return [(name, files[name]) for name in ordered]


def _read_split_list(path: Path, boundary: Boundary) -> list[tuple[str, int]]:
    """(image id, 1-based line) per listed image: first column, blanks and comments skipped."""
    text, _, _ = fileio.read_text(path, boundary, boundary.limits.document_bytes)
    if text is None:
        return []
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            entries.append((stripped.split()[0], number))
    return entries


def flat_layout(root: Path) -> Layout:
    layout = Layout(kind="flat")
    root_folders = [os.fspath(root)]
    layout.xmls = [XmlEntry(xml, "", root_folders) for xml in xml_files(root)]
    # subfolders may hold unrelated XML (configs, other tools): only VOC files are taken there
    for sub in subdirs(root):
        sub_folders = [os.fspath(sub), os.fspath(root)]
        layout.xmls += [XmlEntry(xml, sub.name, sub_folders) for xml in xml_files(sub)
                        if looks_like_voc(xml)]
    return layout


def file_layout(path: Path) -> Layout:
    """A single ``.xml`` file: its folder is the root."""
    return Layout(kind="file", xmls=[XmlEntry(os.fspath(path), "", [os.fspath(path.parent)])])
