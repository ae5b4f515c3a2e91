"""``detlint merge``: several datasets into one new dataset, with a class map, never a guess.

Classes: each source's class keeps its name unless the class map (:func:`read_class_map`) renames,
merges or drops it; classes of one name in several sources are one class. Names that differ only
by case, separator (C004's folding) or a plural ``s`` are not guessed to be one class: the merge
refuses with the list (exit 2) unless a map joins them or ``keep_variants`` keeps them apart.

Rows: the sources' columns are concatenated (numpy, no per-box loop). COCO image and annotation
ids that collide are renumbered by adding one offset per source (the previous sources' largest
id), each offset in the report. An image of a later source with the same bytes as one of an
earlier source becomes that image: its annotations are dropped when they say the same (same
boxes of the same classes), else listed as a label conflict (the earlier source's labels kept).
Only images of one byte size across sources are hashed.

Images reach the writer through a folder of hard links made inside the staging folder (each
source's images placed from its own root, as convert places them), removed before the output is
renamed into place; the writer links from there. The merge report (``detlint-merge.json``)
lists the class mapping, id offsets, duplicates, conflicts, and every loss.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from detlint.boundary import Boundary
from detlint.config import image_root_for
from detlint.converting import check_destination
from detlint.errors import UsageError
from detlint.fileio import (
    atomic_write_bytes,
    batch_map,
    progress_enabled,
    read_bytes,
    remove_stale_staging,
    staged_folder,
)
from detlint.findings import Finding
from detlint.formats import ReadOptions, WriteOptions, format_of, load, save
from detlint.images.digests import content_hashes
from detlint.model import Annotations, Categories, Dataset, concat_images
from detlint.placing import Placement, SourceRoot, place_image
from detlint.rules.c004_class_name_variant import folded_name
from detlint.safetext import counted

REPORT_NAME = "detlint-merge.json"
LINK_FOLDER = ".detlint-merge-images"  # inside the staging folder, removed before the rename
DROP = None


@dataclass
class MergeRequest:
    sources: list[Path]
    dst: Path
    class_map: Path | None = None
    target: str | None = None
    keep_variants: bool = False
    dedup: bool = True


@dataclass
class MergeReport:
    sources: list[dict]
    target: str
    target_format: str
    images: int
    annotations: int
    categories: list[str]
    class_mapping: list[dict] = field(default_factory=list)
    image_id_offsets: list[int] = field(default_factory=list)
    annotation_id_offsets: list[int] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    variants: list[list[str]] = field(default_factory=list)
    losses: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> bytes:
        return orjson.dumps(self.__dict__, option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        read = ", ".join(f"{s['path']} ({s['format']}: {counted(s['images'], 'image')})" for s in self.sources)
        lines = [f"merged {read} -> {self.target} ({self.target_format}): {counted(self.images, 'image')}, "
                 f"{counted(self.annotations, 'annotation')}, {counted(len(self.categories), 'class', 'classes')}"]
        renamed = [m for m in self.class_mapping if m["target"] != m["name"]]
        lines += [f"  class: {m['source']}: {m['name']} -> {m['target'] if m['target'] is not None else '(dropped)'}"
                  for m in renamed]
        if any(self.image_id_offsets) or any(self.annotation_id_offsets):
            lines.append(f"  ids renumbered: image id offsets {self.image_id_offsets}, "
                         f"annotation id offsets {self.annotation_id_offsets}")
        if self.duplicates:
            same = counted(len(self.duplicates), "image")
            lines.append(f"  {same} with the same bytes in an earlier source: one image")
        if self.conflicts:
            lines.append(f"  {counted(len(self.conflicts), 'label conflict')} (the earlier source's labels kept)")
        if self.variants:
            lines.append(f"  class name variants kept apart: {'; '.join(', '.join(v) for v in self.variants)}")
        lines += [f"  lost: {loss['count']} x {loss['what']}" + (f" ({loss['detail']})" if loss.get("detail") else "")
                  for loss in self.losses]
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"  report: {Path(self.target) / REPORT_NAME}")
        return "\n".join(lines)


# --- the class map -----------------------------------------------------------------------------


def read_class_map(path: Path, labels: list[str]) -> list[dict]:
    """Per source (in ``labels`` order) the map from a class name, or an id as an integer key,
    to a target name (``null``: drop). Schema (YAML)::

        sources:
          <source as given, or its folder name>:
            car: vehicle      # rename / merge
            3: vehicle        # by id (COCO id, YOLO index)
            bike: null        # drop
    """
    import yaml

    data = read_bytes(os.fspath(path))  # a regular file only: a FIFO would block the merge
    if isinstance(data, Finding):
        raise UsageError(f"--classes {path}: {data.message}")
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise UsageError(f"--classes {path}: cannot read it ({_first_line(error)})") from None
    if not isinstance(document, dict) or set(document) - {"sources"} or not isinstance(document.get("sources"), dict):
        raise UsageError(f"--classes {path}: expected one key 'sources' mapping each source to its class map")
    maps: list[dict] = [{} for _ in labels]
    for key, mapping in document["sources"].items():
        k = _source_index(str(key), labels, path)
        if not isinstance(mapping, dict) or any(not isinstance(v, str) and v is not None for v in mapping.values()):
            raise UsageError(f"--classes {path}: source {key!r}: map each class name or id to a name or null")
        if any(not isinstance(name, (str, int)) or isinstance(name, bool) for name in mapping):
            raise UsageError(f"--classes {path}: source {key!r}: keys must be class names or integer ids")
        maps[k] = mapping
    return maps


def _source_index(key: str, labels: list[str], path: Path) -> int:
    exact = [k for k, label in enumerate(labels) if label == key]
    by_name = [k for k, label in enumerate(labels) if Path(label).name == key]
    found = exact or by_name
    if len(found) != 1:
        why = "names several sources" if found else "is none of the sources"
        raise UsageError(f"--classes {path}: source {key!r} {why} ({', '.join(labels)})")
    return found[0]


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def variant_key(name: str) -> str:
    """C004's folding (case, spaces, ``_``, ``-``) and a plural ``s``/``es``/``ies`` off."""
    key = folded_name(name)
    if len(key) > 3 and key.endswith("ies"):
        return key[:-3] + "y"
    if len(key) > 3 and re.search(r"(s|x|ch|sh)es$", key):
        return key[:-2]
    if len(key) > 2 and key.endswith("s") and not key.endswith("ss"):
        return key[:-1]
    return key


def target_names(datasets: list[Dataset], maps: list[dict]) -> list[list[str | None]]:
    """Per source, per class: the target name (None: dropped)."""
    out = []
    for ds, mapping in zip(datasets, maps):
        names: list[str | None] = []
        for name, class_id in zip(ds.categories.names, ds.categories.ids.tolist()):
            if name in mapping:
                names.append(mapping[name])
            elif class_id in mapping:
                names.append(mapping[class_id])
            else:
                names.append(name)
        out.append(names)
    return out


def _check_map_keys(datasets: list[Dataset], maps: list[dict], labels: list[str]) -> None:
    # a key that names no class (a typo: 'kat' for 'cat') would leave the class unmapped, silently
    for ds, mapping, label in zip(datasets, maps, labels):
        known = set(ds.categories.names) | set(ds.categories.ids.tolist())
        unknown = [key for key in mapping if key not in known]
        if unknown:
            raise UsageError(f"--classes: source {label!r}: {', '.join(repr(k) for k in unknown)} is no class name "
                             f"or id of it (its classes: {', '.join(ds.categories.names[:20])})")


def name_variants(targets: list[list[str | None]]) -> list[list[str]]:
    """Groups of distinct target names that fold to one :func:`variant_key`."""
    groups: dict[str, list[str]] = {}
    for names in targets:
        for name in names:
            if name is not None and name not in groups.setdefault(variant_key(name), []):
                groups[variant_key(name)].append(name)
    return [names for names in groups.values() if len(names) > 1]


# --- the merge ---------------------------------------------------------------------------------


def merge(request: MergeRequest) -> MergeReport:
    """Read every source, merge (module docstring), write ``request.dst``."""
    if len(request.sources) < 2:
        raise UsageError("merge: give two datasets or more")
    for src in request.sources:
        if not src.exists():
            raise UsageError(f"{src}: no such file or directory")
        check_destination(src, request.dst)
    labels = [os.fspath(src) for src in request.sources]
    maps = read_class_map(request.class_map, labels) if request.class_map else [{} for _ in labels]
    datasets = [load(src, options=ReadOptions(progress=progress_enabled(), image_root=image_root_for(src, None)))
                for src in request.sources]
    _check_map_keys(datasets, maps, labels)
    targets = target_names(datasets, maps)
    variants = name_variants(targets)
    if variants and not request.keep_variants:
        listed = "; ".join(", ".join(repr(n) for n in group) for group in variants)
        raise UsageError(f"class names that differ only by case, separator or plural: {listed}: map them with "
                         "--classes map.yaml, or keep them apart with --keep-variants")
    target = request.target or datasets[0].format
    options = WriteOptions()
    removed = remove_stale_staging(request.dst)
    with staged_folder(request.dst) as staging:
        merged, report = merged_dataset(datasets, labels, targets, staging / LINK_FOLDER, options, request.dedup)
        try:
            link_images(datasets, merged, staging / LINK_FOLDER, options)
            save(merged, staging, target, options)
        finally:
            shutil.rmtree(staging / LINK_FOLDER, ignore_errors=True)
        report.target, report.target_format, report.variants = os.fspath(request.dst), target, variants
        report.losses, report.notes = options.losses, options.notes
        atomic_write_bytes(staging / REPORT_NAME, report.as_json())
    report.notes += [f"removed {path}: a staging folder of a run that did not finish" for path in removed]
    return report


def merged_dataset(datasets: list[Dataset], labels: list[str], targets: list[list[str | None]], links: Path,
                   options: WriteOptions, dedup: bool = True) -> tuple[Dataset, MergeReport]:
    """The one dataset of ``datasets`` (classes by ``targets``), its images to be found under
    ``links`` (:func:`link_images` puts them there)."""
    names = list(dict.fromkeys(n for per in targets for n in per if n is not None))
    index = {name: k for k, name in enumerate(names)}
    image_parts, ann_parts, mapping, files, problems = [], [], [], [], []
    extras: dict[str, dict] = {}
    image_offsets, ann_offsets = _id_offsets([ds.images.id for ds in datasets]), \
        _id_offsets([ds.annotations.id for ds in datasets])
    first_row = 0
    for k, (ds, per) in enumerate(zip(datasets, targets)):
        lookup = np.asarray([index[n] if n is not None else -2 for n in per] + [-1], np.int32)
        mapping += [{"source": labels[k], "name": name, "id": int(i), "target": t,
                     "target_id": index[t] + 1 if t is not None else None}
                    for name, i, t in zip(ds.categories.names, ds.categories.ids.tolist(), per)]
        for name, extra, t in zip(ds.categories.names, ds.categories.extra, per):
            if t == name:  # a class kept under its own name keeps its fields (supercategory)
                extras.setdefault(t, dict(extra))
        images, ann = _shifted(ds, k, first_row, len(files), image_offsets[k], ann_offsets[k], lookup)
        gone = ann.category == -2
        options.lose(f"annotations of a class the class map drops ({labels[k]})", int(gone.sum()),
                     ", ".join(sorted({str(n) for n, t in zip(ds.categories.names, per) if t is None})))
        image_parts.append(images)
        ann_parts.append(ann.take(~gone))
        files += [f"{k}/{name}" for name in ds.files]
        problems += ds.problems
        first_row += len(ds.images)
    images, ann = concat_images(image_parts), Annotations.concat(ann_parts)
    ann.class_id = np.where(ann.category >= 0, ann.category + 1, ann.class_id).astype(np.int64)
    categories = Categories.build(names, ids=list(range(1, len(names) + 1)),
                                  extra=[extras.get(name, {}) for name in names])
    first = format_of(datasets[0])
    same_format = all(format_of(ds) is first for ds in datasets)
    if not same_format:
        _foreign_rows_plain(datasets, images, ann, options)
    merged = Dataset(format=datasets[0].format, root=links,
                     categories=categories, images=images, annotations=ann, files=files, problems=problems,
                     image_root=links)
    report = MergeReport(
        sources=[{"path": label, "format": ds.format, "images": len(ds.images), "annotations": len(ds.annotations)}
                 for label, ds in zip(labels, datasets)], target="", target_format="", images=0, annotations=0,
        categories=names, class_mapping=mapping, image_id_offsets=image_offsets, annotation_id_offsets=ann_offsets)
    if not same_format:
        options.note("the sources are of several formats: boxes are written from pixels, not the sources' own numbers")
    if dedup:
        merged = _deduplicated(merged, datasets, report, options)
    report.images, report.annotations = len(merged.images), len(merged.annotations)
    return merged.validate(), report


def _foreign_rows_plain(datasets: list[Dataset], images: object, ann: Annotations, options: WriteOptions) -> None:
    """Rows of a source of another format than the first's: no source numbers (``raw``) or
    extra fields the first format's writer would take for its own (each extra a listed loss)."""
    first = format_of(datasets[0])
    foreign_source = np.array([format_of(ds) is not first for ds in datasets], bool)
    foreign_image = np.repeat(foreign_source, [len(ds.images) for ds in datasets])
    foreign_ann = np.zeros(len(ann), bool)
    linked = ann.image >= 0
    foreign_ann[linked] = foreign_image[ann.image[linked]]
    ann.raw[foreign_ann] = np.nan
    lost = sum(1 for v in ann.extra[foreign_ann].tolist() if v)
    lost += sum(1 for v in images.extra[foreign_image].tolist() if v)
    options.lose("extra fields of a source in another format than the first (not written)", lost)
    ann.extra[foreign_ann] = None
    images.extra[foreign_image] = None


def _id_offsets(columns: list[np.ndarray]) -> list[int]:
    """One offset per source: 0 while the ids so far are unique, else the largest id before."""
    offsets, seen_max = [], 0
    union = np.zeros(0, np.int64)
    for ids in columns:
        clash = bool(len(ids)) and bool(len(union)) and bool(np.isin(ids, union).any())
        offset = seen_max if clash else 0
        offsets.append(int(offset))
        shifted = ids + offset
        union = np.concatenate([union, shifted])
        seen_max = max(seen_max, int(shifted.max()) if len(shifted) else 0)
    return offsets


def _shifted(ds: Dataset, k: int, first_row: int, first_file: int, image_offset: int, ann_offset: int,
             lookup: np.ndarray) -> tuple:
    """Source ``k``'s columns moved into the merged numbering (rows, ids, files, classes,
    paths under the link folder)."""
    from detlint.model import take_images

    images = take_images(ds.images, np.arange(len(ds.images)))
    images.id = images.id + image_offset
    images.src_file = np.where(images.src_file >= 0, images.src_file + first_file, -1).astype(np.int32)
    has_path = images.path != ""
    path = np.full(len(images), "", dtype=object)
    path[has_path] = np.char.add(f"{k}/", images.path[has_path].astype(str)).astype(object) if has_path.any() else []
    images.path = path
    ann = ds.annotations.take(np.arange(len(ds.annotations)))
    ann.id = ann.id + ann_offset
    ann.image = np.where(ann.image >= 0, ann.image + first_row, -1).astype(np.int32)
    ann.category = lookup[ann.category]  # -1 (unknown) stays -1 through the lookup's last slot
    ann.src_file = np.where(ann.src_file >= 0, ann.src_file + first_file, -1).astype(np.int32)
    return images, ann


def link_images(datasets: list[Dataset], merged: Dataset, links: Path, options: WriteOptions) -> None:
    """Each source's image files hard-linked under ``links/<k>/`` from its own root."""
    jobs: list[tuple[int, str]] = []
    for k, ds in enumerate(datasets):
        jobs += [(k, str(p)) for p in dict.fromkeys(ds.images.path.tolist()) if p]
    roots = [SourceRoot(ds.image_dir) for ds in datasets]
    bases = [os.fspath(ds.image_dir) for ds in datasets]

    def place(batch: list[tuple[int, str]]) -> list[Placement]:
        return [place_image(os.path.join(bases[k], p), os.path.join(links, str(k), p), roots[k]) for k, p in batch]

    placed = batch_map(place, jobs, workers=8, desc="images", progress=False)
    options.lose_unplaced(placed, "image files missing (entries written, files not copied)")
    # an image not placed has no file for the writer: its entry stays, as a missing file
    missing = {f"{k}/{p}" for (k, p), result in zip(jobs, placed) if result is not Placement.PLACED}
    if missing:
        merged.images.path = np.asarray(["" if p in missing else p for p in merged.images.path.tolist()], object)


def _deduplicated(merged: Dataset, datasets: list[Dataset], report: MergeReport, options: WriteOptions) -> Dataset:
    """Images of a later source with the bytes of an earlier source's image made that image."""
    source_of = np.repeat(np.arange(len(datasets)), [len(ds.images) for ds in datasets])
    digests = _cross_source_digests(datasets, source_of)
    first: dict[str, int] = {}
    same = np.arange(len(merged.images))
    for row, digest in enumerate(digests):
        if digest is None:
            continue
        head = first.setdefault(digest, row)
        if source_of[head] != source_of[row]:
            same[row] = head
    later = np.flatnonzero(same != np.arange(len(same)))
    if not len(later):
        return merged
    ann = merged.annotations
    drop = np.zeros(len(ann), bool)
    by_image = np.argsort(ann.image, kind="stable")
    bounds = np.searchsorted(ann.image[by_image], np.arange(len(merged.images) + 1))
    for row in later.tolist():
        head = int(same[row])
        mine, theirs = by_image[bounds[row]:bounds[row + 1]], by_image[bounds[head]:bounds[head + 1]]
        entry = {"image": str(merged.images.file_name[row]), "source": report.sources[source_of[row]]["path"],
                 "same_as": str(merged.images.file_name[head]),
                 "same_as_source": report.sources[source_of[head]]["path"]}
        report.duplicates.append(entry)
        if not _same_labels(ann, mine, theirs):
            report.conflicts.append({**entry, "boxes": len(mine), "same_as_boxes": len(theirs)})
        drop[mine] = True
    options.lose("annotations of an image already in an earlier source (same bytes; conflicts listed)",
                 int(sum(c["boxes"] for c in report.conflicts)))
    keep_rows = np.setdiff1d(np.arange(len(merged.images)), later)
    part, _ = _without(merged, drop).subset(keep_rows)
    return part


def _without(ds: Dataset, drop: np.ndarray) -> Dataset:
    from dataclasses import replace

    return replace(ds, annotations=ds.annotations.take(~drop))


def _same_labels(ann: Annotations, a: np.ndarray, b: np.ndarray) -> bool:
    """Same classes and boxes (to 0.01 px), in any order."""
    if len(a) != len(b):
        return False
    left = np.column_stack([ann.category[a], np.round(ann.boxes[a], 2)])
    right = np.column_stack([ann.category[b], np.round(ann.boxes[b], 2)])
    left, right = left[np.lexsort(left.T[::-1])], right[np.lexsort(right.T[::-1])]
    return bool(np.array_equal(left, right, equal_nan=True))


def _cross_source_digests(datasets: list[Dataset], source_of: np.ndarray) -> list[str | None]:
    """sha1 per merged row, computed only for images whose byte size occurs in two sources."""
    sizes = []
    for ds in datasets:
        boundary = Boundary(ds.image_dir)
        sizes.append([_size(boundary, os.path.join(os.fspath(boundary.root), str(p))) if p else -1
                      for p in ds.images.path.tolist()])
    owners: dict[int, set[int]] = {}
    for k, per in enumerate(sizes):
        for size in per:
            if size >= 0:
                owners.setdefault(size, set()).add(k)
    out: list[str | None] = []
    for ds, per in zip(datasets, sizes):
        wanted = np.asarray([size >= 0 and len(owners.get(size, ())) > 1 for size in per], bool)
        if not wanted.any():
            out += [None] * len(ds.images)
            continue
        part, _ = ds.subset(np.flatnonzero(wanted))
        digests = iter(content_hashes(part))
        out += [next(digests) if w else None for w in wanted.tolist()]
    return out


def _size(boundary: Boundary, path: str) -> int:
    """The byte size of a regular file inside the boundary, else -1 (never opened: stat only)."""
    if not boundary.contains(path):
        return -1
    try:
        info = os.stat(path)
    except OSError:
        return -1
    return info.st_size if stat.S_ISREG(info.st_mode) else -1
