"""Run the selected rules over a dataset and return located findings."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

import numpy as np

from detlint.findings import SEVERITY_RANK, Finding
from detlint.formats import format_of
from detlint.headers import IMAGE_LEVELS
from detlint.model import Dataset
from detlint.rules import RULES
from detlint.rules.context import RuleContext


def selected_codes(select: Iterable[str] | None, ignore: Iterable[str] | None) -> list[str]:
    """Codes chosen by prefixes: ``select=["B", "C001"]``, ``ignore=["B008"]``; ALL selects all."""
    def matches(code: str, prefixes: Iterable[str]) -> bool:
        return any(p == "ALL" or code.startswith(p) for p in prefixes)

    chosen = [c for c in RULES if select is None or matches(c, select)]
    return [c for c in chosen if not matches(c, ignore or ())]


def _wanted(rule: Any, targets: Iterable[str], ctx: RuleContext) -> bool:
    """A trainer's rule (``TARGET``, the R codes) runs only when its target was asked for; a
    rule about predictions (``NEEDS = "predictions"``, the P codes) only when predictions were
    given, and a label-issue rule (``NEEDS = "label-issues"``, the L codes) only when
    ``--label-issues`` was asked as well. A change between versions (``NEEDS = "diff"``, the D
    codes) is never looked for in one dataset: ``detlint diff`` builds those findings itself."""
    target = getattr(rule, "TARGET", None)
    if target is not None and target not in targets:
        return False
    needs = getattr(rule, "NEEDS", None)
    if needs == "diff":
        return False
    if needs == "predictions":
        return ctx.predictions is not None
    if needs == "label-issues":
        return ctx.predictions is not None and ctx.label_issues > 0
    return True


def run_rules(ds: Dataset, config: Any = None, focus: np.ndarray | None = None,
              ctx: RuleContext | None = None) -> list[Finding]:
    """All findings of the selected rules on ``ds``, in a stable order.

    ``focus`` (image rows): per-image rules (``SCOPE = "image"``) run on those images only, so
    their findings about other images are missing; dataset-wide rules run on everything. A
    re-check of a few files uses it: the other images' findings are not reported anyway.
    """
    from detlint.config import Config

    config = config or Config()
    ctx = ctx or RuleContext(options=config.options, images=config.images)
    level = IMAGE_LEVELS.index(config.images)
    focused = _Focus(ds, focus) if focus is not None else None
    findings: list[Finding] = []
    traits = format_of(ds).traits
    for code in selected_codes(config.select, config.ignore):
        rule = RULES[code]
        if not _wanted(rule, config.targets, ctx):
            continue
        if IMAGE_LEVELS.index(getattr(rule, "IMAGES", "none")) > level:
            continue
        if not traits.issuperset(getattr(rule, "REQUIRES", ())):
            continue  # the rule means nothing for this format
        # NaN/inf coordinates are findings (B004), not reasons for numpy to warn
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if focused is not None and getattr(rule, "SCOPE", None) == "image":
                findings.extend(focused.mapped(f) for f in rule.check(focused.part, ctx))
            else:
                findings.extend(rule.check(ds, ctx))
    dataset = str(config.display_root or ds.root)
    for finding in findings:
        finding.dataset = finding.dataset or dataset
        rule = RULES.get(finding.code)
        finding.stamped(rule.NAME if rule else finding.code.lower(), rule.SEVERITY if rule else "error")
    findings = [f for f in findings if not _ignored_for_file(f, config.per_file_ignores)]
    findings.sort(key=Finding.sort_key)
    return findings


class _Focus:
    """The focused images as a dataset of their own, and the way back to the full row numbers."""

    def __init__(self, ds: Dataset, focus: np.ndarray) -> None:
        rows = np.unique(np.asarray(focus, np.int64))
        paths = ds.images.path
        if len(rows) and len(paths):
            # image-file findings go to the first entry of a file: its fellow entries come along
            shared = np.isin(paths, [p for p in paths[rows].tolist() if p])
            rows = np.union1d(rows, np.flatnonzero(shared))
        self.image_rows = rows
        self.part, self.annotation_rows = ds.subset(rows)

    def mapped(self, finding: Finding) -> Finding:
        data = finding.data
        if data:
            for key, rows in (("row", self.annotation_rows), ("duplicate_of", self.annotation_rows),
                              ("image_row", self.image_rows)):
                if isinstance(data.get(key), int) and 0 <= data[key] < len(rows):
                    data[key] = int(rows[data[key]])
        return finding


def _ignored_for_file(finding: Finding, per_file_ignores: dict[str, list[str]]) -> bool:
    if not per_file_ignores:
        return False
    paths = [p for p in (finding.file, finding.image) if p]
    for pattern, codes in per_file_ignores.items():
        if any(fnmatch.fnmatch(p, pattern) for p in paths) and any(finding.code.startswith(c) for c in codes):
            return True
    return False


def at_or_above(findings: Iterable[Finding], severity: str) -> list[Finding]:
    floor = SEVERITY_RANK[severity]
    return [f for f in findings if SEVERITY_RANK[f.severity] >= floor]
