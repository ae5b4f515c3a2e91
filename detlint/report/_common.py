"""What every reporter shares: the report itself, rule metadata, counts and display paths.

Reporters are functions ``emit(report, stream)`` (see :mod:`detlint.report`). They sort
findings the same way, look rule metadata up once per code (a run can hold 100k+ findings), and
name files the same way: the dataset path as given on the command line joined with the finding's
root-relative file, so a location resolves from the directory detlint ran in (a repository root
in CI). While building a large document they pause the cyclic garbage collector with
``collector_paused`` (the one implementation, from :mod:`detlint.fileio`): a report is a
tree of fresh dicts and strings without cycles, and with 100k findings the collector's repeated
full passes over them cost more than building them (SARIF: 3 s instead of 1.5 s).

User data (file, class and split names, messages quoting them) reaches every output through
one function, :func:`detlint.safetext.escape_text` (re-exported here): the text formats escape
each output line (html each text node and attribute value) with it, so no name can start a
line of its own (a fake finding, a GitHub ``::error`` workflow command) or send a terminal
control sequence; the JSON formats go through ``json_text``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from detlint.fileio import collector_paused
from detlint.findings import SEVERITIES, SEVERITY_RANK, Finding
from detlint.safetext import counted, escape_text, json_text

__all__ = [
    "SEVERITY_ORDER", "Counts", "Paths", "Report", "RuleInfo", "RuleTable", "collector_paused", "consequence_lines",
    "consequence_suffix", "count", "target_headline", "target_summary_lines",
    "diff_headline", "diff_summary_lines", "diff_table", "escape_text", "location_object", "sorted_findings",
    "summary_line", "write_json",
]

# Highest severity first: the order of summary counts.
SEVERITY_ORDER = tuple(reversed(SEVERITIES))


@dataclass
class Report:
    """Everything a reporter needs: the findings and what was checked."""

    findings: list[Finding]
    datasets: list[dict]  # [{"path", "format", "images", "annotations", "categories"}]
    fail_on: str = "error"
    loaded: list = field(default_factory=list)  # the Dataset objects, same order as datasets (html)
    predictions: list = field(default_factory=list)  # check --predictions: each dataset's Predictions or None
    # --target: name -> {"images_dropped", "boxes_dropped", "raises", "rewrites"}; empty when none was asked
    targets: dict[str, dict] = field(default_factory=dict)
    # detlint diff: the changes' summary and per-class table (json's "diff"); empty for check
    diff: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleInfo:
    """A rule's catalog entry, from its module (CODE, NAME, SEVERITY, FIX, docstring)."""

    code: str
    name: str
    severity: str
    fix: str | None
    summary: str  # the docstring's first line, after "name (CODE): "
    docs: str  # the rest of the docstring: why it matters, an example, the fix


def _rule_modules() -> dict[str, Any]:
    try:
        from detlint.rules import RULES
    except ImportError:  # the rule catalog is optional for rendering reader findings
        return {}
    return RULES


def _split_docstring(code: str, name: str, doc: str | None) -> tuple[str, str]:
    first, _, rest = (doc or "").strip().partition("\n")
    prefix = f"{name} ({code}):"
    summary = first[len(prefix):].strip() if first.startswith(prefix) else first.strip()
    return summary or name.replace("-", " "), rest.strip()


class RuleTable:
    """Rule metadata by code, looked up once per code per render.

    Unknown codes get the same defaults as ``Finding.name`` / ``Finding.severity``.
    """

    def __init__(self) -> None:
        self._modules = _rule_modules()
        self._cache: dict[str, RuleInfo] = {}

    def __getitem__(self, code: str) -> RuleInfo:
        info = self._cache.get(code)
        if info is None:
            info = self._cache[code] = self._load(code)
        return info

    def _load(self, code: str) -> RuleInfo:
        module = self._modules.get(code)
        if module is None:
            return RuleInfo(code, code.lower(), "error", None, code.lower(), "")
        name = getattr(module, "NAME", code.lower())
        summary, docs = _split_docstring(code, name, getattr(module, "__doc__", None))
        return RuleInfo(code, name, getattr(module, "SEVERITY", "error"), getattr(module, "FIX", None),
                        summary, docs)


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


@dataclass
class Counts:
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    safe_fixes: int = 0
    unsafe_fixes: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())

    @property
    def fixable(self) -> int:
        return self.safe_fixes + self.unsafe_fixes

    def at_or_above(self, severity: str) -> int:
        rank = SEVERITY_RANK.get(severity, 0)
        return sum(n for name, n in self.by_severity.items() if SEVERITY_RANK[name] >= rank)


def count(findings: Iterable[Finding], rules: RuleTable) -> Counts:
    counts = Counts()
    for finding in findings:
        counts.by_severity[rules[finding.code].severity] += 1
        if finding.fix is not None:
            if finding.fix.applicability == "safe":
                counts.safe_fixes += 1
            else:
                counts.unsafe_fixes += 1
    return counts


def _plural(n: int, word: str) -> str:
    return counted(n, word, "info" if word == "info" else None)  # "info" is a mass noun


def summary_line(counts: Counts, fail_on: str) -> str:
    """``Found 3 errors, 1 warning (2 fixable with --fix).`` or ``All checks passed.``"""
    if counts.total == 0:
        return "All checks passed."
    parts = [_plural(counts.by_severity[s], s) for s in SEVERITY_ORDER if counts.by_severity[s]]
    fixes = []
    if counts.safe_fixes:
        fixes.append(f"{counts.safe_fixes} fixable with --fix")
    if counts.unsafe_fixes:
        more = "more " if counts.safe_fixes else ""
        fixes.append(f"{counts.unsafe_fixes} {more}fixable with --fix --unsafe-fixes")
    line = "Found " + ", ".join(parts) + (f" ({', '.join(fixes)})" if fixes else "") + "."
    if fail_on in SEVERITY_RANK and counts.at_or_above(fail_on) == 0:
        # Explains why the exit status is 0 although something was found.
        line += f" None at or above --fail-on {fail_on}."
    return line


class Paths:
    """Where a finding's file is, for display and for reading: ``<dataset>/<file>``.

    A finding's ``file`` is relative to its dataset's root. The dataset path as given may be the
    root folder or an annotation file inside it (``data/coco/annotations/train.json``); then the
    root is the nearest folder above it holding ``file``.
    """

    def __init__(self) -> None:
        self._roots: dict[str, str] = {}
        self._display: dict[tuple[str | None, str | None], str] = {}

    def root(self, dataset: str, file: str | None) -> str:
        root = self._roots.get(dataset)
        if root is None:
            root = self._roots[dataset] = _find_root(dataset, file)
        return root

    def display(self, finding: Finding) -> str:
        """POSIX path of the finding's file as seen from the working directory."""
        key = (finding.dataset, finding.file)
        path = self._display.get(key)
        if path is None:
            path = self._display[key] = self._join(finding.dataset, finding.file)
        return path

    def _join(self, dataset: str | None, file: str | None) -> str:
        if not file:
            return _posix(dataset) if dataset else "."
        if not dataset or posixpath.isabs(file) or os.path.isabs(file):
            return file
        root = _posix(self.root(dataset, file))
        if root in ("", ".", "./"):
            return file
        joined = root.rstrip("/") + "/" + file
        # a file outside the dataset that the user named (check --predictions FILE) is relative
        # to the root through "../": shown as from the working directory, the way it was named
        return posixpath.normpath(joined) if file.startswith("../") else joined


def _posix(path: str) -> str:
    return path.replace(os.sep, "/") if os.sep != "/" else path


def _find_root(dataset: str, file: str | None) -> str:
    path = Path(dataset)
    if not path.is_file():
        return dataset
    for folder in list(path.parents)[:3]:
        if file and (folder / file).exists():
            return str(folder)
    return str(path.parent)


def location_object(finding: Finding) -> str | None:
    """The most precise in-file place: a JSON pointer, else the source's annotation key."""
    return finding.pointer or finding.annotation or finding.image



LISTED = 5  # raises and dropped images a text summary names before "... and N more"


def consequence_lines(finding: Finding) -> list[str]:
    """``  -> ultralytics: drops the whole image (3 boxes lost): ...``, one line per target (text formats)."""
    return [f"  -> {target}: {text}" for target, text in finding.consequences.items()]


def consequence_suffix(finding: Finding) -> str:
    """`` [torchvision: drops the box: ...]`` for formats with one message per finding ("" when none)."""
    if not finding.consequences:
        return ""
    return " [" + "; ".join(f"{target}: {text}" for target, text in finding.consequences.items()) + "]"


def target_headline(name: str, summary: dict) -> str:
    """``torchvision: 0 images dropped, 3 boxes dropped, 1 crash, 0 silent rewrites``."""
    return (f"{name}: {counted(len(summary['images_dropped']), 'image')} dropped, "
            f"{counted(summary['boxes_dropped'], 'box')} dropped, {counted(len(summary['raises']), 'crash')}, "
            f"{counted(summary['rewrites'], 'silent rewrite')}")


def target_summary_lines(report: Report) -> list[str]:
    """The per-target block the text formats end with (none when no target was asked)."""
    lines = []
    for name, summary in report.targets.items():
        lines.append("Target " + target_headline(name, summary))
        for label, items in (("raises", summary["raises"]), ("drops image", summary["images_dropped"])):
            lines += [f"  {label}: {item}" for item in items[:LISTED]]
            if len(items) > LISTED:
                lines.append(f"  ... and {len(items) - LISTED} more")
    return lines


DIFF_COLUMNS = (("old", "old"), ("new", "new"), ("added", "+"), ("removed", "-"), ("moved", "moved"),
                ("relabelled", "relabelled"))


def diff_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """detlint diff's per-class table: the header and a row per class that changed (cells as text)."""
    rows = [[name] + [str(row[key]) for key, _ in DIFF_COLUMNS] for name, row in report.diff.get("classes", {}).items()
            if any(row[key] for key, _ in DIFF_COLUMNS[2:]) or row["old"] != row["new"]]
    return ["class"] + [title for _, title in DIFF_COLUMNS], rows


def diff_headline(report: Report) -> str:
    diff = report.diff
    images, boxes = diff["images"], diff["boxes"]
    return (f"Changes {diff['old']} -> {diff['new']}: images +{images['added']} -{images['removed']}, "
            f"{images['renamed']} renamed, {images['split_changed']} moved to another split; boxes "
            f"+{boxes['added']} -{boxes['removed']}, {boxes['moved']} moved, {boxes['relabelled']} relabelled, "
            f"{counted(boxes['attribute_changed'], 'attribute change')}; "
            f"{counted(len(diff.get('class_map', [])), 'class-map change')}.")


def diff_summary_lines(report: Report) -> list[str]:
    """detlint diff's totals and per-class table, as a Markdown table (a CI step can post it as
    is); none for check. Boxes of added and removed images count in + and -; a relabelled box
    counts under its old class. A ``|`` in a class name becomes ``&#124;``, so the table keeps its columns."""
    if not report.diff:
        return []
    header, rows = diff_table(report)
    if not rows:
        return [diff_headline(report)]
    # as an HTML entity: a backslash would be doubled by escape_text, and Markdown shows the entity as "|"
    rows = [[row[0].replace("|", "&#124;"), *row[1:]] for row in rows]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths))) \
            + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if k else "-") for k, w in enumerate(widths)) + "|"
    return [diff_headline(report), "", line(header), rule, *map(line, rows)]


def write_json(document: Any, stream: TextIO) -> None:
    """``document`` as indent-2 JSON and a newline (the json, sarif and gitlab formats).

    ``json_text``: orjson, numpy integers (the dataset counts) as plain integers, lone surrogates
    and terminal-active characters as ``\\uXXXX`` escapes (the strings read back unchanged).
    """
    stream.write(json_text(document))
    stream.write("\n")
