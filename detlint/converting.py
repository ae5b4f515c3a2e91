"""``detlint convert``: read any format, write another, list every loss (never silent).

A source without a validation split (unsplit, or train only) converted to YOLO gets a data.yaml
without ``val:`` (ultralytics refuses it, `detlint check` reports it), never ``val:`` on the
training images; the report's note says so. ``val_fraction`` makes one instead: that share of
the training (or unsplit) images becomes the ``val`` split, chosen by a hash of each image's
path: the same file always lands in the same split, and adding images moves no other (one image
at least on each side).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson

from detlint import formats
from detlint.config import image_root_for
from detlint.errors import UsageError
from detlint.fileio import atomic_write_bytes, progress_enabled, remove_stale_staging, staged_folder
from detlint.formats import load, save
from detlint.formats.prewrite import split_role, valid_text
from detlint.formats.protocol import GEOMETRIES, ReadOptions, WriteOptions
from detlint.model import Dataset, take_images
from detlint.safetext import counted

REPORT_NAME = "detlint-conversion.json"


@dataclass
class ConversionReport:
    source: str
    source_format: str
    target: str
    target_format: str
    images: int
    annotations: int
    categories: int
    class_mapping: list[dict] = field(default_factory=list)
    losses: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a trainer will do with the output, and the fix
    problems: int = 0
    removed_staging: list[str] = field(default_factory=list)  # a killed run's leftovers (not in the JSON)

    def as_json(self) -> bytes:
        fields = {key: value for key, value in self.__dict__.items() if key != "removed_staging"}
        return orjson.dumps(fields, option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        lines = [f"removed {path}: the staging folder of a convert that did not finish (its process is gone)"
                 for path in self.removed_staging]
        lines += [f"converted {self.source} ({self.source_format}) -> {self.target} ({self.target_format}): "
                 f"read {counted(self.images, 'image')}, {counted(self.annotations, 'annotation')}, "
                 f"{counted(self.categories, 'class', 'classes')}"]
        if self.problems:
            lines.append(f"  {counted(self.problems, 'problem')} met while reading (run `detlint check` on the source)")
        for loss in self.losses:
            detail = f" ({loss['detail']})" if loss.get("detail") else ""
            lines.append(f"  lost: {loss['count']} x {loss['what']}{detail}")
        if not self.losses:
            lines.append("  nothing lost")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"  report: {Path(self.target) / REPORT_NAME}")
        return "\n".join(lines)


def check_destination(src: Path, dst: Path) -> None:
    # the staged folder is renamed onto dst: a link (dangling or not) would fail there with ENOTDIR
    if dst.is_symlink():
        raise UsageError(f"{dst}: destination is a symbolic link; give a new or empty folder")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise UsageError(f"{dst}: destination must be a new or empty folder")
    src_resolved, dst_resolved = src.resolve(), dst.resolve()
    if dst_resolved == src_resolved or src_resolved in dst_resolved.parents:
        raise UsageError(f"{dst}: destination must not be inside the source dataset")


def class_mapping(ds: Dataset, target: str) -> list[dict]:
    """How source class ids map to the target's (written into the report: never a silent remap)."""
    targets = formats.get(target).class_targets(ds, formats.format_of(ds))
    # names as written: a lone surrogate (no UTF-8 file can hold it) is U+FFFD there and here
    return [{"name": valid_text(name), "source_id": int(source_id),
             "target_id": valid_text(target_id) if isinstance(target_id, str) else target_id}
            for name, source_id, target_id in zip(ds.categories.names, ds.categories.ids.tolist(), targets)]


def convert(src: Path, dst: Path, target: str, source_format: str | None = None, voc_origin: int = 1,
            to_voc_origin: int = 1, link_images: bool = True, val_fraction: float | None = None,
            image_root: Path | None = None, geometry: str = "auto") -> ConversionReport:
    """Convert ``src`` into the new folder ``dst`` in ``target``; ``val_fraction`` splits a
    source without a validation split (module docstring); ``image_root``: where a COCO/VOC
    source's images are when not under it (else the config's); ``geometry``: ``WriteOptions.geometry``."""
    if not src.exists():
        raise UsageError(f"{src}: no such file or directory")
    check_destination(src, dst)
    if geometry not in GEOMETRIES:
        raise UsageError(f"geometry {geometry!r}: must be one of {', '.join(GEOMETRIES)}")
    options = ReadOptions(voc_origin=voc_origin, progress=progress_enabled(),
                          image_root=image_root_for(src, image_root))
    ds = load(src, format=source_format, options=options)
    options = WriteOptions(voc_origin=to_voc_origin, link_images=link_images, geometry=geometry)
    if val_fraction is not None:
        ds = with_val_split(ds, val_fraction, options)
    removed = remove_stale_staging(dst)
    with staged_folder(dst) as staging:
        save(ds, staging, target, options)
        report = _report(src, dst, ds, target, options)
        atomic_write_bytes(staging / REPORT_NAME, report.as_json())
    report.removed_staging = [os.fspath(path) for path in removed]
    return report


def _report(src: Path, dst: Path, ds, target: str, options: WriteOptions) -> ConversionReport:
    return ConversionReport(
        source=os.fspath(src), source_format=ds.format, target=os.fspath(dst), target_format=target,
        images=len(ds.images), annotations=len(ds.annotations), categories=len(ds.categories),
        class_mapping=class_mapping(ds, target), losses=options.losses, notes=options.notes,
        problems=len(ds.problems))


def with_val_split(ds: Dataset, fraction: float, options: WriteOptions) -> Dataset:
    """``ds`` with about ``fraction`` of its training (or unsplit) images in a new ``val``
    split, each image's own path hash deciding (module docstring)."""
    if not 0 < fraction < 1:
        raise UsageError(f"--val-fraction {fraction}: must be between 0 and 1 (e.g. 0.1)")
    splits = [str(split) for split in ds.splits]
    if any(split_role(split) == "val" for split in splits):
        raise UsageError(f"--val-fraction: the source already has a validation split ({', '.join(splits)})")
    pool_split = next((s for s in splits if split_role(s) == "train"), "" if "" in splits else None)
    pool = np.flatnonzero(ds.images.split == pool_split) if pool_split is not None else np.zeros(0, int)
    if len(pool) < 2:
        raise UsageError(f"--val-fraction: the source has {counted(len(pool), 'training or unsplit image')}; "
                         "a split needs two at least")
    keys = [str(ds.images.path[i] or ds.images.file_name[i]) for i in pool.tolist()]
    ranks = np.array([int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                     "big") for key in keys], np.uint64)
    # an image is val when its hash falls under the fraction: its own file decides, so adding
    # images moves no other one; at least one image on each side
    in_val = ranks < np.uint64(min(int(fraction * 2**64), 2**64 - 1))
    order = np.argsort(ranks, kind="stable")
    in_val[order[0]] |= not in_val.any()
    in_val[order[-1]] &= not in_val.all()
    chosen = pool[in_val]
    count = len(chosen)
    images = take_images(ds.images, np.arange(len(ds.images)))
    split = images.split.copy()
    split[pool] = pool_split or "train"
    split[chosen] = "val"
    images.split = split
    kind, verb = "training" if pool_split else "unsplit", "is" if count == 1 else "are"
    options.note(f"split by --val-fraction {fraction}: {count} of the {len(pool)} {kind} images {verb} the val "
                 "split (chosen by a hash of each image's path: the same file always lands in the same split)")
    return replace(ds, images=images).validate()
