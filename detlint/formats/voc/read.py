"""Building the :class:`~detlint.model.Dataset` of a VOC folder or file from its parsed XML.

One image row per XML that parses (then one per split-listed image without XML whose file
exists), one annotation row per ``<object>``. Coordinates follow ``ReadOptions.voc_origin`` (1:
devkit 1-based inclusive pixels, ``x1 = xmin - 1``, ``x2 = xmax``; 0: identity), recorded in
``Dataset.meta["voc_origin"]``. The class list is the configured one, else every name used,
sorted. An image listed in more than one split keeps its first split (train, val, test, others)
in ``Images.split`` and the rest in ``Images.extra["also_in_splits"]``; each later split is an
S001 (from :mod:`.layout`, located at the list line, naming the image file once found).

An image in a folder of XML (flat) or in ``JPEGImages/`` (devkit) that no XML declares and no
split list names is no image row: trainers iterate the XML files (or the lists) and never see it,
so it is neither a labelled image nor a negative, and a conversion does not turn it into one.
It is an I005 reader finding instead, located at the image file.

Reader findings: F001 (from :mod:`.parse`), F008 (``<filename>`` absolute or escaping the
root), F014 (image or XML found only when case is ignored), S001 (an image listed in two
splits), I005 (an image without XML). Everything else is left to the rules.
"""

from __future__ import annotations

import os
from itertools import chain
from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.errors import NotADatasetError, UsageError
from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.voc.finder import ImageFinder
from detlint.formats.voc.layout import (
    Layout,
    devkit_bases,
    devkit_layout,
    file_layout,
    flat_layout,
)
from detlint.formats.voc.parse import parse_cached
from detlint.formats.voc.record import NAME, ParsedXml
from detlint.model import Annotations, Categories, Dataset, Images, take_images


def read(path: Path, options: ReadOptions) -> Dataset:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if path.is_file():
        root, layout = path.parent, file_layout(path)
    else:
        root, layout = path, _folder_layout(path)
    if not layout.xmls and not layout.listed_only:
        why = "; ".join(f"{p.file}: {p.message}" for p in layout.problems if p.code == "F008")
        raise NotADatasetError(f"{path}: no Pascal VOC annotation files (*.xml) found" + (f" ({why})" if why else ""))
    parsed = parse_cached([entry.path for entry in layout.xmls], root, options)
    ds = Dataset(format=NAME, root=root, categories=Categories.build([]), images=Images.empty(0),
                 annotations=Annotations.empty(0), problems=list(layout.problems),
                 meta={"voc_origin": options.voc_origin, "voc_layout": layout.kind,
                       "voc_split_files": layout.split_files})
    ds.files = _relative_paths([entry.path for entry in layout.xmls], root)
    for file_index, result in enumerate(parsed):
        if result.problem is not None:
            result.problem.file = ds.files[file_index]
            ds.problems.append(result.problem)
    finder = ImageFinder(_image_dir(ds, layout, options.image_root))
    ds.images = _build_images(ds, layout, parsed, finder)
    ds.problems += unannotated_images(ds, layout, parsed, finder)
    ds.categories, ds.annotations = _build_annotations(ds, parsed, options)
    return ds


def _image_dir(ds: Dataset, layout: Layout, image_root: Path | None) -> Path:
    """Where the images are looked for: the layout's folders, or only the image root the user
    named (and its ``JPEGImages/``), which the dataset then records (``Dataset.image_dir``)."""
    if image_root is None:
        return ds.root
    folders = [os.fspath(image_root), os.path.join(image_root, "JPEGImages")]
    for entry in layout.xmls:
        entry.image_folders = folders
    for listed in layout.listed_only:
        listed.folder = folders[0]
    ds.image_root = image_root
    ds.image_folders = [Path(f).as_posix() for f in folders if os.path.isdir(f)]
    return image_root


def _folder_layout(root: Path) -> Layout:
    bases = devkit_bases(root)
    return devkit_layout(root, bases) if bases else flat_layout(root)


def dataset_files(ds: Dataset) -> list[str]:
    """The files that describe the whole dataset: the split lists (every XML is per image)."""
    return list(ds.meta.get("voc_split_files", []) or [])


def _relative_paths(paths: list[str], root: Path) -> list[str]:
    """``fileio.relpath`` for many paths, by string prefix where they lie under the root."""
    prefix = os.path.join(os.fspath(root), "")
    cut = len(prefix)
    return [path[cut:].replace(os.sep, "/") if path.startswith(prefix) else fileio.relpath(Path(path), root)
            for path in paths]


def image_names(result: ParsedXml, xml_file: str, problems: list[Finding]) -> tuple[list[str], list[str]]:
    """Names and stems to look for, in order: <filename>, basename of <path>, the XML stem;
    F008 into ``problems`` for a <filename> that is absolute or escapes the root."""
    names: list[str] = []
    stems: list[str] = []
    if result.filename:
        safe = fileio.safe_relative(result.filename)
        if safe is None:
            problems.append(Finding("F008", f"<filename> {result.filename!r} is absolute or escapes "
                                    "the dataset root; looking for its base name only",
                                    file=xml_file, line=result.filename_line or None))
            safe = result.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if safe and safe != "..":
            names.append(safe)
            file_name = safe.rsplit("/", 1)[-1]
            stems.append(os.path.splitext(file_name)[0] if fileio.is_image(file_name) else file_name)
    path_name = result.path_text.replace("\\", "/").rsplit("/", 1)[-1]
    if path_name and path_name not in (".", ".."):
        names.append(path_name)
    stems.append(os.path.splitext(xml_file.rsplit("/", 1)[-1])[0])  # the XML's stem
    return names, stems


def _build_images(ds: Dataset, layout: Layout, parsed: list[ParsedXml], finder: ImageFinder) -> Images:
    rows = [i for i, result in enumerate(parsed) if result.problem is None]
    n = len(rows) + len(layout.listed_only)
    images = Images.empty(n)
    file_names, paths, extras = _xml_images(ds, layout, parsed, rows, finder)
    splits = [layout.xmls[i].split for i in rows]
    for listed in layout.listed_only:
        found = finder.find([], [listed.stem], [listed.folder])
        # a listed image without XML and without a file is a list entry only: nothing to keep
        image_path = found[0] if found else ""
        _name_image(listed.leaks, image_path)
        file_names.append(image_path.rsplit("/", 1)[-1])
        paths.append(image_path)
        extras.append({"also_in_splits": list(listed.also_in_splits)} if listed.also_in_splits else None)
        splits.append(listed.split)
    if n:
        parsed_rows = slice(0, len(rows))
        images.width[parsed_rows] = [parsed[i].width for i in rows]
        images.height[parsed_rows] = [parsed[i].height for i in rows]
        images.src_file[parsed_rows] = rows
        images.src_line[parsed_rows] = [parsed[i].root_line for i in rows]
        images.split[:] = splits
        images.file_name[:] = file_names
        images.path[:] = paths
        images.extra[:] = extras
    keep = np.ones(n, bool)
    keep[len(rows):] = images.path[len(rows):] != ""
    if not keep.all():
        images = take_images(images, keep)
        images.id = np.arange(len(images), dtype=np.int64)
    return images


def _xml_images(ds: Dataset, layout: Layout, parsed: list[ParsedXml], rows: list[int],
                finder: ImageFinder) -> tuple[list[str], list[str], list[dict | None]]:
    """(declared file name, found path, extra) of the image of each parsed XML in ``rows``."""
    file_names, paths, extras = [], [], []
    for file_index in rows:
        result, entry, xml_file = parsed[file_index], layout.xmls[file_index], ds.files[file_index]
        names, stems = image_names(result, xml_file, ds.problems)
        found = finder.find(names, stems, entry.image_folders)
        image_path = ""
        if found is not None:
            image_path, case_only = found
            if case_only:
                ds.problems.append(Finding(
                    "F014", f"image {result.filename or stems[-1]!r} found only when case "
                    f"is ignored: {image_path}", file=xml_file, line=result.filename_line or None,
                    image=image_path))
        _name_image(entry.leaks, image_path)
        file_names.append(result.filename)
        paths.append(image_path)
        extra = dict(result.image_extra)
        if entry.also_in_splits:
            extra["also_in_splits"] = list(entry.also_in_splits)
        extras.append(extra or None)
    return file_names, paths, extras


def _name_image(findings: list[Finding], image_path: str) -> None:
    """Point the layout's findings about one image (S001) at its file, once it is found."""
    for finding in findings:
        finding.image = image_path or None


def unannotated_images(ds: Dataset, layout: Layout, parsed: list[ParsedXml], finder: ImageFinder) -> list[Finding]:
    """I005 for each image in ``layout.image_folders`` that is no image row's file (nor the
    stem-matched image of an XML that does not parse: that one is F001's)."""
    claimed = set(ds.images.path.tolist())
    for entry, result in zip(layout.xmls, parsed):
        if result.problem is not None:
            stem = os.path.splitext(os.path.basename(entry.path))[0]
            found = finder.find([], [stem], entry.image_folders)
            if found is not None:
                claimed.add(found[0])
    why = ("has no annotation XML and no ImageSets/Main list names it: trainers, which iterate the "
           "lists or the XML files, never see it" if layout.kind == "devkit" else
           "has no annotation XML: trainers, which iterate the XML files, never see it")
    findings = []
    for folder in layout.image_folders:
        names = sorted(name for name in finder.index(folder).names if fileio.is_image(name))
        for path in (finder.relative(folder, name) for name in names):
            if path not in claimed:
                findings.append(Finding("I005", f"image '{path}' {why}, neither as a labelled image nor as a "
                                        "negative; add an XML (one without objects for a negative) or "
                                        "remove the image", file=path, image=path))
    return findings


def _build_annotations(ds: Dataset, parsed: list[ParsedXml],
                       options: ReadOptions) -> tuple[Categories, Annotations]:
    image_of_file = {int(f): row for row, f in enumerate(ds.images.src_file.tolist()) if f >= 0}
    files = [i for i, result in enumerate(parsed) if result.problem is None]
    if options.classes is not None:
        class_names = list(options.classes)
    else:
        class_names = sorted(set(chain.from_iterable(parsed[i].names for i in files)) - {""})
    categories = Categories.build(class_names, src_file=-1)
    rows = annotation_rows([parsed[i] for i in files], files, [image_of_file[i] for i in files],
                           {name: i for i, name in enumerate(class_names)}, options)
    return categories, rows


def annotation_rows(parsed: list[ParsedXml], files: list[int], image_rows: list[int],
                    index_of: dict[str, int], options: ReadOptions) -> Annotations:
    """The objects of the parsed XML files ``files`` (indices into ``ds.files``), which declare
    the images ``image_rows``; ``index_of`` maps a class name to its category."""
    # chain.from_iterable flattens at C speed: these lists have one entry per object (863k)
    names = list(chain.from_iterable(result.names for result in parsed))
    n = len(names)
    ann = Annotations.empty(n)
    if not n:
        return ann
    category = np.fromiter((index_of.get(name, -1) for name in names), np.int32, n)
    raw = np.fromiter(chain.from_iterable(result.coords for result in parsed), np.float64, 4 * n).reshape(n, 4)
    flags = np.fromiter(chain.from_iterable(result.flags for result in parsed), np.int8, 3 * n).reshape(n, 3)
    origin = float(options.voc_origin)
    ann.raw = raw
    ann.boxes = raw - np.array([origin, origin, 0.0, 0.0])
    ann.truncated, ann.difficult, ann.occluded = (flags[:, 0].copy(), flags[:, 1].copy(), flags[:, 2].copy())
    ann.category = category
    ann.class_id = category.astype(np.int64)
    counts = [len(result.names) for result in parsed]
    ann.image = np.repeat(np.array(image_rows, np.int32), counts)
    ann.src_file = np.repeat(np.array(files, np.int32), counts)
    ann.src_line = np.fromiter(chain.from_iterable(result.lines for result in parsed), np.int32, n)
    starts = np.repeat(np.cumsum(counts) - counts, counts)  # each row's first object, per row
    ann.src_item = (np.arange(n) - starts).astype(np.int32)  # one arange per file costs 118k calls
    extras = list(chain.from_iterable(result.extras for result in parsed))
    for row in np.flatnonzero(category < 0).tolist():
        extras[row] = {**(extras[row] or {}), "name": names[row]}
    ann.extra = np.empty(n, dtype=object)
    ann.extra[:] = extras
    return ann
