"""Dataset snapshots: the pre-commit re-check of a few label files without reading the rest.

pre-commit passes ``detlint check`` the few annotation files a commit changes. Re-reading a
118k-file dataset around them costs seconds even with the parse cache (one ``stat`` per file
alone is ~4 us), so after a full check detlint stores the whole loaded :class:`Dataset` (its
numpy columns) as a snapshot, and a later check of *files* builds the dataset from it:

1. the snapshot must be for the same dataset path, format and read options, and still
   describe the layout: every dataset-level file (``data.yaml``, class lists, split lists) has
   its size and mtime, and every folder under the dataset root (and around its files) its mtime.
   A folder's mtime changes when an entry is added, removed or renamed: new, deleted and renamed
   files, but also a file saved by writing a copy and renaming it over the original (vim,
   ``sed -i``, git checkout). So a folder with a new mtime but the same names keeps the
   snapshot: its per-image files are stat'ed against the sizes and mtimes stored with the
   snapshot and the changed ones re-read. A folder of images with a new mtime, or one whose
   names changed, means a full read;
2. every passed file must be one of the snapshot's per-image annotation files (a YOLO label
   file, a VOC XML): those are re-read by the format's ``reparse`` and spliced in, and so are
   the files re-read by earlier fast re-checks since the snapshot was written (kept in a small
   overlay list), so the snapshot is rewritten only after a full read;
3. the rules then run on the spliced columns: per-image rules (``SCOPE = "image"``) only on the
   images of the passed files, dataset-wide rules on everything (see ``engine.run_rules``).

Anything else (a passed class map or COCO JSON, a change the reparse cannot splice, such as a
VOC class name never seen before, a missing or unusable snapshot) falls back to the full read,
which writes a fresh snapshot. What it trusts: a per-image file that was neither passed nor
re-read since the snapshot, in a folder whose mtime did not change, is as the snapshot saw it
(files changed while the snapshot's read ran are re-read every time). Under pre-commit that
holds: pre-commit passes every staged file and restores unstaged ones through git, which
replaces files. A file edited in place *and* committed without the hook is seen again at the
next whole-dataset check. ``--no-cache`` and whole-dataset checks never use snapshots.

Storage: one uncompressed ``.npz`` per (dataset path, format, read options) in the cache folder,
read with ``allow_pickle=False``. Object columns are stored as a table of their distinct values
(JSON) plus an index per row; the read-back is compared with the original when written, so a
value JSON cannot carry exactly (a tuple, a non-string dict key) means no snapshot, never a
changed one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.findings import Finding, Fix
from detlint.incremental import cache_dir
from detlint.model import Annotations, Categories, Dataset, Images

log = logging.getLogger("detlint")

SNAPSHOT_VERSION = 2
UNTRACKED = -2  # member_stats rows of files that are not per-image files
RACY_NS = 2_000_000_000  # folders and files changed this close to a read are not trusted to it
MAX_OVERLAY = 256
KEEP_SNAPSHOTS = 8  # the most recently written; a snapshot is as big as the dataset's columns  # files re-read since the snapshot; beyond this a full read rewrites it
SNAPSHOT_FORMATS = ("yolo", "voc")
_IMAGE_TEXT = ("file_name", "path", "split")
_IMAGE_NUMBERS = ("width", "height", "id", "src_file", "src_line", "src_item")
_ANNOTATION_OBJECTS = ("segmentation", "extra")
_ANNOTATION_NUMBERS = tuple(name for name in Annotations.empty(0).__dict__ if name not in _ANNOTATION_OBJECTS)


# ------------------------------------------------------------------------------------ identity


def snapshot_file(path: Path, key: dict[str, Any]) -> Path:
    """Where the snapshot of ``path`` read with ``key`` (format and read options) lives."""
    digest = hashlib.blake2b(orjson.dumps([os.path.abspath(path), key], option=orjson.OPT_SORT_KEYS),
                             digest_size=10).hexdigest()
    return cache_dir() / f"snapshot-v{SNAPSHOT_VERSION}-{digest}.columns"


def _overlay_file(snapshot: Path) -> Path:
    return snapshot.with_suffix(".overlay.json")


# ------------------------------------------------------------------------------------- values


def _pack(value: Any) -> Any:
    """A JSON value that :func:`_unpack` turns back into ``value`` (int dict keys, tuples)."""
    if isinstance(value, dict):
        if all(type(k) is str for k in value):
            return {k: _pack(v) for k, v in value.items()}
        return {"\0items": [[_pack(k), _pack(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"\0tuple": [_pack(v) for v in value]}
    if isinstance(value, list):
        return [_pack(v) for v in value]
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        if "\0items" in value:
            return {_unpack(k): _unpack(v) for k, v in value["\0items"]}
        if "\0tuple" in value:
            return tuple(_unpack(v) for v in value["\0tuple"])
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


def _finding_dict(finding: Finding) -> dict[str, Any]:
    fields = {f.name: getattr(finding, f.name) for f in dataclasses.fields(finding)}
    fields["fix"] = dataclasses.asdict(finding.fix) if finding.fix is not None else None
    return fields


def _finding(fields: dict[str, Any]) -> Finding:
    fix = fields.get("fix")
    return Finding(**{**fields, "fix": Fix(**fix) if fix else None})


def _encode_objects(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 JSON of the distinct values, int32 index per row); raises TypeError/ValueError when
    JSON cannot carry a value exactly."""
    keys = [orjson.dumps(value) for value in column.tolist()]
    table: dict[bytes, int] = {}
    index = np.fromiter((table.setdefault(key, len(table)) for key in keys), np.int32, len(keys))
    distinct = b"[" + b",".join(table) + b"]"
    originals = [None] * len(table)
    for row, slot in zip(range(len(column)), index.tolist()):
        if originals[slot] is None:
            originals[slot] = column[row]
    if orjson.loads(distinct) != originals:  # a tuple or non-str key would come back different
        raise ValueError("object column values do not survive JSON")
    return np.frombuffer(distinct, np.uint8), index


def _decode_objects(distinct: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The column back; rows with equal values share one object (rules only read them)."""
    listed = orjson.loads(distinct.tobytes())
    values = np.empty(len(listed), dtype=object)
    values[:] = listed
    return values[index] if len(index) else np.empty(0, dtype=object)


def _encode_texts(values: np.ndarray) -> np.ndarray:
    return np.frombuffer("\0".join(values.tolist()).encode("utf-8", "surrogatepass"), np.uint8)


def _decode_texts(array: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    if n:
        out[:] = array.tobytes().decode("utf-8", "surrogatepass").split("\0")
    return out


# --------------------------------------------------------------------------------- the watch list


def watch_list(ds: Dataset, dataset_path: Path, config_source: Path | None) -> dict[str, list]:
    """What must hold for the snapshot to describe the dataset: each folder's mtime, or else
    the same names in it (then its per-image files are stat'ed: an editor that saves by a rename,
    a git checkout), and the (size, mtime) of every dataset-level file."""
    from detlint.formats import module

    root = os.path.abspath(ds.root)
    fixed = [os.path.join(root, name) for name in module(ds.format).dataset_files(ds)]
    if config_source is not None:
        fixed.append(os.fspath(config_source))
    if os.path.isfile(dataset_path):
        fixed.append(os.path.abspath(dataset_path))
    folders = set(_folders_under(root))
    for rel in ds.files:
        folders.add(os.path.dirname(os.path.normpath(os.path.join(root, rel))))
    image_folders = {os.path.dirname(os.path.normpath(os.path.join(root, rel)))
                     for rel in dict.fromkeys(ds.images.path.tolist()) if rel}
    folders |= image_folders
    return {"folders": [[f, _size_mtime(f)[1], _listing_digest(f), f in image_folders] for f in sorted(folders)],
            "files": [[f, *_size_mtime(f)] for f in sorted(set(fixed))]}


def _listing_digest(folder: str) -> str:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ""
    return hashlib.blake2b("\0".join(names).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _folders_under(root: str) -> list[str]:
    """Every folder under ``root`` (itself included), hidden ones (``.git``) left out."""
    found = [root]
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
                        stack.append(entry.path)
        except OSError:
            continue
    return found


def _size_mtime(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns
    except OSError:
        return -1, -1


def _stale_members(watch: dict[str, list], ds: Dataset, member_stats: np.ndarray) -> list[int] | None:
    """Per-image files (indices into ``ds.files``) that changed in folders whose names did not;
    None when the layout changed (a dataset-level file, a folder's names, a folder of images)."""
    if not all(list(_size_mtime(path)) == [size, mtime] for path, size, mtime in watch["files"]):
        return None
    touched = set()
    for folder, mtime, digest, holds_images in watch["folders"]:
        if _size_mtime(folder)[1] == mtime:
            continue
        if holds_images or _listing_digest(folder) != digest:
            return None
        touched.add(folder)
    if not touched:
        return []
    root = os.path.join(os.path.abspath(ds.root), "")
    stale = []
    for i in np.flatnonzero(member_stats[:, 0] != UNTRACKED).tolist():
        path = os.path.normpath(root + ds.files[i])
        if os.path.dirname(path) in touched and list(_size_mtime(path)) != member_stats[i].tolist():
            stale.append(i)
    return stale


def _member_stats(ds: Dataset, read_started_ns: int, watch: dict[str, list]) -> tuple[np.ndarray, list[str]]:
    """(size, mtime) of each per-image file, also of one that did not parse (UNTRACKED rows
    for dataset-level files), and the files changed since just before the read began: those go
    to the overlay, re-read every time."""
    stats = np.full((len(ds.files), 2), UNTRACKED, np.int64)
    root = os.path.join(os.path.abspath(ds.root), "")
    dataset_level = {path for path, _, _ in watch["files"]}
    recent = []
    for i in range(len(ds.files)):
        if os.path.normpath(root + ds.files[i]) in dataset_level:
            continue
        size, mtime = _size_mtime(root + ds.files[i])
        stats[i] = (size, mtime)
        if mtime < 0 or mtime >= read_started_ns - RACY_NS:
            recent.append(ds.files[i])
    return stats, recent


# ------------------------------------------------------------------------------------ save/load


def save(ds: Dataset, dataset_path: Path, key: dict[str, Any], config_source: Path | None,
         read_started_ns: int) -> None:
    """Store ``ds``, fully read from ``read_started_ns`` on, as the snapshot of ``dataset_path``;
    never fails. Not when a watched folder or file changed since just before the read began: a
    change within its timestamp's granularity would go unseen."""
    if ds.format not in SNAPSHOT_FORMATS:
        return
    target = snapshot_file(dataset_path, key)
    try:
        watch = watch_list(ds, dataset_path, config_source)
        newest = max([f[1] for f in watch["folders"]] + [m for _, _, m in watch["files"]], default=0)
        if newest >= read_started_ns - RACY_NS:
            log.debug("no snapshot for %s: it changed while it was read", dataset_path)
            _forget(target)
            return
        arrays = _encode(ds)
        arrays["member_stats"], recent = _member_stats(ds, read_started_ns, watch)
        header = {"format": ds.format, "root": os.fspath(ds.root), "files": ds.files,
                  "meta": _pack(ds.meta), "problems": [_pack(_finding_dict(p)) for p in ds.problems],
                  "categories": {"names": ds.categories.names, "extra": _pack(ds.categories.extra)},
                  "watch": watch}
        header_bytes = orjson.dumps(header)
        back = orjson.loads(header_bytes)
        if _unpack(back["meta"]) != ds.meta or [_finding(_unpack(p)) for p in back["problems"]] != ds.problems \
                or _unpack(back["categories"]["extra"]) != ds.categories.extra:
            raise ValueError("dataset extras do not survive JSON")
        from detlint.formats.base import atomic_write_bytes

        atomic_write_bytes(target, _column_file(header_bytes, arrays))
        _overlay_file(target).unlink(missing_ok=True)
        if recent and not record_overlay(target, recent):
            target.unlink(missing_ok=True)  # too many files changed during the read to trust it
        _prune(target.parent)
    except (OSError, ValueError, TypeError, orjson.JSONEncodeError) as error:
        log.debug("no snapshot for %s (%s)", dataset_path, error)
        _forget(target)  # an older snapshot no longer describes the files just read


def _forget(target: Path) -> None:
    for path in (target, _overlay_file(target)):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _encode(ds: Dataset) -> dict[str, np.ndarray]:
    images, ann, cats = ds.images, ds.annotations, ds.categories
    arrays: dict[str, np.ndarray] = {f"img_{name}": getattr(images, name) for name in _IMAGE_NUMBERS}
    arrays.update({f"img_{name}": _encode_texts(getattr(images, name)) for name in _IMAGE_TEXT})
    arrays["img_extra"], arrays["img_extra_index"] = _encode_objects(images.extra)
    arrays.update({f"ann_{name}": getattr(ann, name) for name in _ANNOTATION_NUMBERS})
    for name in _ANNOTATION_OBJECTS:
        arrays[f"ann_{name}"], arrays[f"ann_{name}_index"] = _encode_objects(getattr(ann, name))
    arrays.update({"cat_ids": cats.ids, "cat_src_file": cats.src_file, "cat_src_line": cats.src_line,
                   "cat_src_item": cats.src_item})
    return arrays


def load(dataset_path: Path, key: dict[str, Any]) -> tuple[Dataset, list[str], Path] | None:
    """(dataset, files to re-read: changed since it was written, snapshot path) when a usable
    snapshot of ``dataset_path`` exists and its layout is unchanged; None otherwise."""
    target = snapshot_file(dataset_path, key)
    try:
        header, arrays = _read_column_file(target)
        member_stats = arrays.pop("member_stats")
        ds = _decode(header, arrays).validate()
        if member_stats.shape != (len(ds.files), 2):
            raise ValueError("member stats do not match the files")
        stale = _stale_members(header["watch"], ds, member_stats)
        if stale is None:
            log.debug("snapshot of %s: the layout changed; reading everything", dataset_path)
            return None
    except FileNotFoundError:
        return None
    except Exception as error:  # a corrupt file can fail in numpy, mmap, orjson or the OS
        log.debug("snapshot of %s unusable (%s); reading everything", dataset_path, error)
        return None
    return ds, sorted(set(_overlay(target)) | {ds.files[i] for i in stale}), target


_MAGIC = b"DLSNAP%02d" % SNAPSHOT_VERSION
_ALIGN = 64


def _column_file(header: bytes, arrays: dict[str, np.ndarray]) -> bytes:
    """magic, header length, JSON header (with each array's dtype, shape and offset), then
    the arrays' bytes at aligned offsets: read back by mapping the file, not by copying it."""
    layout: dict[str, list] = {}
    offset = 0
    for name, array in arrays.items():
        layout[name] = [array.dtype.str, list(array.shape), offset]
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    head = orjson.dumps({"dataset": orjson.Fragment(header), "arrays": layout})
    start = -(-(len(_MAGIC) + 8 + len(head)) // _ALIGN) * _ALIGN
    out = bytearray(start + offset)
    out[:len(_MAGIC)] = _MAGIC
    out[len(_MAGIC):len(_MAGIC) + 8] = len(head).to_bytes(8, "little")
    out[len(_MAGIC) + 8:len(_MAGIC) + 8 + len(head)] = head
    for name, array in arrays.items():
        at = start + layout[name][2]
        out[at:at + array.nbytes] = np.ascontiguousarray(array).tobytes()
    return bytes(out)


def _read_column_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(dataset header, arrays) of a column file. The arrays map the file copy-on-write: pages
    are read when touched, and writing to them changes this process's copy only."""
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    if mapped[:len(_MAGIC)] != _MAGIC:
        raise ValueError("not a detlint snapshot of this version")
    length = int.from_bytes(mapped[len(_MAGIC):len(_MAGIC) + 8], "little")
    head = orjson.loads(mapped[len(_MAGIC) + 8:len(_MAGIC) + 8 + length])
    start = -(-(len(_MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    arrays = {}
    for name, (dtype, shape, offset) in head["arrays"].items():
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    return head["dataset"], arrays


def _decode(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Dataset:
    n_images = len(arrays["img_id"])
    images = Images(**{name: arrays[f"img_{name}"] for name in _IMAGE_NUMBERS},
                    **{name: _decode_texts(arrays[f"img_{name}"], n_images) for name in _IMAGE_TEXT},
                    extra=_decode_objects(arrays["img_extra"], arrays["img_extra_index"]))
    annotations = Annotations(**{name: arrays[f"ann_{name}"] for name in _ANNOTATION_NUMBERS},
                              **{name: _decode_objects(arrays[f"ann_{name}"], arrays[f"ann_{name}_index"])
                                 for name in _ANNOTATION_OBJECTS})
    cats = header["categories"]
    categories = Categories(names=cats["names"], ids=arrays["cat_ids"], extra=_unpack(cats["extra"]),
                            src_file=arrays["cat_src_file"], src_line=arrays["cat_src_line"],
                            src_item=arrays["cat_src_item"])
    return Dataset(format=header["format"], root=Path(header["root"]), categories=categories, images=images,
                   annotations=annotations, files=header["files"], meta=_unpack(header["meta"]),
                   problems=[_finding(_unpack(p)) for p in header["problems"]])


def _prune(folder: Path) -> None:
    """Delete all but the ``KEEP_SNAPSHOTS`` newest snapshots (each dataset path and set of read
    options has its own)."""
    try:
        found = sorted(folder.glob(f"snapshot-v{SNAPSHOT_VERSION}-*.columns"), key=lambda p: p.stat().st_mtime_ns)
        for old in found[:-KEEP_SNAPSHOTS]:
            old.unlink(missing_ok=True)
            _overlay_file(old).unlink(missing_ok=True)
    except OSError as error:  # a file deleted meanwhile by another detlint
        log.debug("snapshot pruning stopped (%s)", error)


def _overlay(target: Path) -> list[str]:
    try:
        files = orjson.loads(_overlay_file(target).read_bytes())
        return [f for f in files if isinstance(f, str)]
    except (OSError, orjson.JSONDecodeError, TypeError):
        return []


def record_overlay(target: Path, files: list[str]) -> bool:
    """Remember the files re-read since the snapshot; False when there are too many (re-snapshot)."""
    if len(files) > MAX_OVERLAY:
        return False
    try:
        from detlint.formats.base import atomic_write_bytes

        atomic_write_bytes(_overlay_file(target), orjson.dumps(sorted(files)))
    except OSError as error:
        log.debug("snapshot overlay %s not written (%s)", target, error)
    return True


# ---------------------------------------------------------------------------------- the fast path


def patched(dataset_path: Path, key: dict[str, Any], passed: set[str],
            options: Any) -> tuple[Dataset, np.ndarray] | None:
    """The dataset with the ``passed`` files (absolute paths) re-read, and the image rows they
    (and earlier re-read files) touch; None when only a full read can answer."""
    found = load(dataset_path, key)
    if found is None:
        return None
    ds, overlay, target = found
    root = os.path.abspath(ds.root)
    members = set(ds.images.src_file[ds.images.src_file >= 0].tolist())
    wanted = set(_file_indices(ds.files, [os.path.relpath(p, root).replace(os.sep, "/") for p in passed]))
    if -1 in wanted or not wanted <= members:
        return None  # a passed file the snapshot does not hold per image
    changed = _file_indices(ds.files, overlay)
    if not set(changed) <= members:
        return None  # a changed file that declared no image (it did not parse): read everything
    wanted |= set(changed)
    from detlint.formats import module

    result = module(ds.format).reparse(ds, sorted(wanted), options)
    if result is None:
        return None
    new_ds, touched = result
    if not record_overlay(target, [ds.files[i] for i in sorted(wanted)]):
        return None
    log.debug("%s: %d file(s) re-read into its snapshot", dataset_path, len(wanted))
    return new_ds.validate(), touched


def _file_indices(files: list[str], names: list[str]) -> list[int]:
    """Index of each name in ``files`` (-1: absent); a few names are searched, not indexed."""
    if len(names) > 32:
        index = {name: i for i, name in enumerate(files)}
        return [index.get(name, -1) for name in names]
    return [files.index(name) if name in files else -1 for name in names]


def splice(ds: Dataset, files: list[int], annotations: Annotations, problems: list[Finding],
           replaced_codes: frozenset[str]) -> Dataset:
    """``ds`` with the annotations of ``files`` (indices into ``ds.files``) replaced by
    ``annotations`` and their reader problems of ``replaced_codes`` by ``problems``.

    Rows stay grouped by image in image order, as every reader emits them, so rules that look
    at row order (which of two duplicates is the copy) see what a full read gives them.
    """
    old = ds.annotations
    removed = np.flatnonzero(np.isin(old.src_file, np.asarray(files, np.int32)))
    if len(removed) == len(annotations) and np.array_equal(old.image[removed], annotations.image):
        merged = old  # as many rows as before on the same images (a box edited): in place
        for name in old.__dict__:
            getattr(merged, name)[removed] = getattr(annotations, name)
    else:
        merged = _merged(old, removed, annotations)
    if ds.format != "coco":
        merged.id = np.arange(len(merged), dtype=np.int64)  # YOLO and VOC rows are numbered in order
    names = {ds.files[f] for f in files}
    kept = [p for p in ds.problems if not (p.file in names and p.code in replaced_codes)]
    return dataclasses.replace(ds, annotations=merged, problems=kept + problems, meta=dict(ds.meta))


def _merged(old: Annotations, removed: np.ndarray, new: Annotations) -> Annotations:
    """``old`` without the rows ``removed``, with ``new`` (sorted by image) placed after the
    rows of their images, by slices (a fancy-index copy of 860k rows costs far more)."""
    image = old.image
    if len(image) > 1 and bool((image[1:] < image[:-1]).any()):  # not grouped by image: sort
        keep = np.ones(len(old), bool)
        keep[removed] = False
        merged = Annotations.concat([old.take(keep), new])
        return merged.take(np.argsort(merged.image, kind="stable"))
    pieces = _pieces(removed, np.searchsorted(image, new.image, side="right"), len(image))
    columns = {}
    for name in old.__dict__:
        sources = (getattr(old, name), getattr(new, name))
        parts = [sources[which][start:end] for which, start, end in pieces if end > start]
        columns[name] = np.concatenate(parts) if parts else sources[0][:0]
    return Annotations(**columns)


def _pieces(removed: np.ndarray, positions: np.ndarray, n_old: int) -> list[tuple[int, int, int]]:
    """(0: old / 1: new, start, end) slices that drop the ``removed`` old rows and put each new
    row before old row ``positions[k]`` (non-decreasing)."""
    breaks = np.flatnonzero(np.diff(removed) != 1) + 1
    run_starts = removed[np.r_[0, breaks]].tolist() if len(removed) else []
    run_ends = (removed[np.r_[breaks - 1, len(removed) - 1]] + 1).tolist() if len(removed) else []
    change = np.flatnonzero(np.diff(positions) != 0) + 1
    group_starts = np.r_[0, change].tolist() if len(positions) else []
    group_ends = np.r_[change, len(positions)].tolist() if len(positions) else []
    group_at = [int(positions[g]) for g in group_starts]
    pieces: list[tuple[int, int, int]] = []
    cursor = i = j = 0
    while i < len(run_starts) or j < len(group_at):
        if j == len(group_at) or (i < len(run_starts) and run_starts[i] < group_at[j]):
            pieces.append((0, cursor, run_starts[i]))
            cursor = max(cursor, run_ends[i])
            i += 1
        else:
            at = max(group_at[j], cursor)
            pieces.append((0, cursor, at))
            pieces.append((1, group_starts[j], group_ends[j]))
            cursor = at
            j += 1
    pieces.append((0, cursor, n_old))
    return pieces
