"""``detlint diff OLD NEW``: what changed between two versions of a dataset, as located findings.

Both versions are read through :func:`detlint.formats.load` (any format, sniffed; the two may
differ). OLD is a second path, or the one PATH at a git revision (``--rev``, rebuilt by
:mod:`detlint.diffing.gitrev` without a checkout). Images are matched by relative path, then by
content for renames and moves; boxes within a matched image by class and IoU
(:mod:`detlint.diffing.matching`). Each change is a D-code finding located at the NEW file and
line or pointer, a removal at OLD's (``Finding.dataset`` is then OLD's path); the catalog stamps
name and severity, as the engine does for rules. The per-class summary goes in
``Report.diff``: the text reporters print it after the findings, json writes it as ``"diff"``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from detlint.diffing import changes
from detlint.diffing.gitrev import Revision, rebuild, scratch_parent
from detlint.errors import UsageError
from detlint.findings import Finding
from detlint.formats import ReadOptions, load
from detlint.model import Dataset
from detlint.report import Report, emit
from detlint.rules import RULES

__all__ = ["KINDS", "DiffRequest", "DiffResult", "diff", "diff_datasets", "parse_kinds"]

# --fail-on-change kinds: each D rule's name, also without its "-changed" ending
KINDS: dict[str, str] = {}
for _code, _rule in RULES.items():
    if getattr(_rule, "NEEDS", None) == "diff":
        KINDS[_rule.NAME] = _code
        KINDS[_rule.NAME.removesuffix("-changed")] = _code


def parse_kinds(text: str | None) -> set[str]:
    """``class-map,box-removed`` (or ``any``, or D codes) as a set of D codes."""
    if not text:
        return set()
    wanted: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() in ("any", "all"):
            wanted.update(KINDS.values())
        elif part.upper() in KINDS.values():
            wanted.add(part.upper())
        elif part.lower() in KINDS:
            wanted.add(KINDS[part.lower()])
        else:
            choices = ", ".join(sorted(k for k in KINDS if not k.endswith("-changed")))
            raise UsageError(f"--fail-on-change: unknown kind {part!r}; choose from any, {choices}")
    return wanted


@dataclass
class DiffRequest:
    new: Path
    old: Path | None = None  # None: ``new`` at ``rev``
    rev: str | None = None
    iou: float = 0.5
    input_format: str | None = None
    fail_on_change: set[str] = field(default_factory=set)  # D codes
    output_format: str = "concise"


@dataclass
class DiffResult:
    findings: list[Finding]
    summary: dict[str, Any]
    report: Report
    exit_code: int
    output_format: str = "concise"
    _scratch: Any = None  # the rebuilt revision's folder: kept while html may draw its images

    def emit(self, stream: TextIO) -> None:
        emit(self.output_format, self.report, stream)

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> DiffResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load(path: Path, input_format: str | None) -> Dataset:
    return load(path, format=input_format, options=ReadOptions(progress=False))


def diff(request: DiffRequest) -> DiffResult:
    """Run ``detlint diff``: load both versions, match them, and build the report."""
    if not 0.0 < request.iou <= 1.0:
        raise UsageError(f"--iou {request.iou}: must be in (0, 1]")
    scratch = None
    revision: Revision | None = None
    if request.rev is not None:
        if request.old is not None:
            raise UsageError("--rev takes one PATH (the dataset now), not OLD and NEW")
        scratch = tempfile.TemporaryDirectory(prefix="detlint-diff-", dir=scratch_parent(request.new))
        try:
            revision = rebuild(request.new, request.rev, Path(scratch.name))
        except BaseException:
            scratch.cleanup()
            raise
        old_path, old_display = revision.root, str(request.new)
        old_label = f"{request.new}@{request.rev}"
    elif request.old is None:
        raise UsageError("detlint diff needs OLD and NEW, or one PATH with --rev REV")
    else:
        old_path, old_display = request.old, str(request.old)
        old_label = old_display
    try:
        old = _load(old_path, request.input_format)
        new = _load(request.new, request.input_format)
        findings, summary = diff_datasets(old, new, iou=request.iou, old_display=old_display,
                                          new_display=str(request.new), old_blobs=revision.blobs if revision else None)
    except BaseException:
        if scratch is not None:
            scratch.cleanup()
        raise
    summary.update({"old": old_label, "new": str(request.new), "rev": request.rev})
    if revision is not None:
        summary["blobs_read"] = revision.read
    datasets = [old.summary() | {"path": old_label}, new.summary() | {"path": str(request.new)}]
    report = Report(findings=findings, datasets=datasets, fail_on="none", loaded=[old, new], diff=summary)
    failing = any(f.code in request.fail_on_change for f in findings)
    return DiffResult(findings, summary, report, 1 if failing else 0, request.output_format, scratch)


def diff_datasets(old: Dataset, new: Dataset, iou: float = 0.5, old_display: str | None = None,
                  new_display: str | None = None, old_blobs: dict[str, str] | None = None
                  ) -> tuple[list[Finding], dict[str, Any]]:
    """The D findings (stamped, sorted) and the summary of the changes from ``old`` to ``new``.

    ``old_blobs``: the old version's git blob ids by path relative to its root (``--rev``), used
    as its images' content hashes instead of reading them."""
    found, summary = changes.collect(old, new, iou, old_blobs)
    old_display = old_display or str(old.root)
    new_display = new_display or str(new.root)
    for finding in found:
        on_old = finding.data.get("side") == "old"
        finding.dataset = old_display if on_old else new_display
        if on_old:
            finding.data["root"] = str(old.root)  # html: draw it from the old version
        rule = RULES[finding.code]
        finding.stamped(rule.NAME, rule.SEVERITY)
    found.sort(key=Finding.sort_key)
    return found, summary
