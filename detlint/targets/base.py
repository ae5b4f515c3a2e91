"""What one trainer does with one dataset: the shared interface of the ``--target`` adapters.

An adapter (``detlint/targets/<name>.py``) reads the columnar :class:`~detlint.model.Dataset` and
states, row by row, what the named trainer will drop, raise on or silently rewrite before it
trains. It returns an :class:`Outcome`; the framework (:mod:`detlint.targets.consequences`) turns
outcomes into per-finding consequences and the report's per-target summary. Adapters never print
and never read outside the dataset root (image files go through :mod:`detlint.boundary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detlint.findings import Finding


@dataclass
class Raised:
    """An exception the trainer raises (at load or batch time), located where detlint can."""

    message: str  # what the trainer raises, e.g. "All bounding boxes should have positive height and width. ..."
    image_row: int | None = None
    annotation_row: int | None = None


def _reasons(rows: Iterable[int], why: str | Sequence[str]) -> Iterable[tuple[int, str]]:
    """(row, reason) pairs: one reason for every row, or one reason per row."""
    rows = [int(r) for r in rows]
    if isinstance(why, str):
        return ((row, why) for row in rows)
    reasons = list(why)
    if len(reasons) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(reasons)} reasons")
    return zip(rows, reasons)


@dataclass
class Outcome:
    """What one trainer does with one dataset, before it trains (all rows are rows of the detlint model)."""

    target: str  # the adapter's NAME
    dropped_images: dict[int, str] = field(default_factory=dict)  # image row -> why
    # annotation row -> why; boxes of dropped images need not be repeated (the framework counts them)
    dropped_boxes: dict[int, str] = field(default_factory=dict)
    rewritten_images: dict[int, str] = field(default_factory=dict)  # image row -> what it silently rewrites
    rewritten_boxes: dict[int, str] = field(default_factory=dict)  # annotation row -> what it silently changes
    raises: list[Raised] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # R-code findings the target adds, located like any finding

    def drop_images(self, rows: Iterable[int], why: str | Sequence[str]) -> None:
        """Record whole images the trainer leaves out; the first reason given for a row wins."""
        for row, reason in _reasons(rows, why):
            self.dropped_images.setdefault(row, reason)

    def drop_boxes(self, rows: Iterable[int], why: str | Sequence[str]) -> None:
        """Record boxes the trainer removes; the first reason given for a row wins."""
        for row, reason in _reasons(rows, why):
            self.dropped_boxes.setdefault(row, reason)

    def rewrite_images(self, rows: Iterable[int], what: str | Sequence[str]) -> None:
        """Record images the trainer silently changes (re-saves, resizes in place)."""
        for row, reason in _reasons(rows, what):
            self.rewritten_images.setdefault(row, reason)

    def rewrite_boxes(self, rows: Iterable[int], what: str | Sequence[str]) -> None:
        """Record boxes the trainer silently changes (clipped, remapped class, ...)."""
        for row, reason in _reasons(rows, what):
            self.rewritten_boxes.setdefault(row, reason)


@dataclass(frozen=True)
class TargetContext:
    """What an adapter may know besides the dataset."""

    root: Path  # the dataset root (never read outside it: use detlint.boundary)
    images_level: str  # "none" | "header" | "decode": what is known about the image files
    findings: Sequence[Finding] = ()  # the generic rules' findings for this dataset (read-only)
    options: Mapping[str, Any] = field(default_factory=dict)  # rule options from config/CLI (e.g. min-box-size)
