"""``detlint convert``: read any format, write another, list every loss (never silent)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from detlint import formats
from detlint.config import image_root_for
from detlint.errors import UsageError
from detlint.fileio import atomic_write_bytes, progress_enabled, remove_stale_staging, staged_folder
from detlint.formats import load, save
from detlint.formats.prewrite import valid_text
from detlint.formats.protocol import ReadOptions, WriteOptions
from detlint.model import Dataset

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
    problems: int = 0
    removed_staging: list[str] = field(default_factory=list)  # a killed run's leftovers (not in the JSON)

    def as_json(self) -> bytes:
        fields = {key: value for key, value in self.__dict__.items() if key != "removed_staging"}
        return orjson.dumps(fields, option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        lines = [f"removed {path}: the staging folder of a convert that did not finish (its process is gone)"
                 for path in self.removed_staging]
        lines += [f"converted {self.source} ({self.source_format}) -> {self.target} ({self.target_format}): "
                 f"{self.images} images, {self.annotations} annotations, {self.categories} classes"]
        if self.problems:
            lines.append(f"  {self.problems} problems met while reading (run `detlint check` on the source)")
        for loss in self.losses:
            detail = f" ({loss['detail']})" if loss.get("detail") else ""
            lines.append(f"  lost: {loss['count']} x {loss['what']}{detail}")
        if not self.losses:
            lines.append("  nothing lost")
        lines.append(f"  report: {Path(self.target) / REPORT_NAME}")
        return "\n".join(lines)


def _check_destination(src: Path, dst: Path) -> None:
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
            to_voc_origin: int = 1, link_images: bool = True, image_root: Path | None = None) -> ConversionReport:
    """``image_root``: where a COCO/VOC source's images are when not under it (else the config's)."""
    if not src.exists():
        raise UsageError(f"{src}: no such file or directory")
    _check_destination(src, dst)
    options = ReadOptions(voc_origin=voc_origin, progress=progress_enabled(),
                          image_root=image_root_for(src, image_root))
    ds = load(src, format=source_format, options=options)
    options = WriteOptions(voc_origin=to_voc_origin, link_images=link_images)
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
        class_mapping=class_mapping(ds, target), losses=options.losses, problems=len(ds.problems))
