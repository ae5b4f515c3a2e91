"""full: each finding with its severity and rule name, the offending source line under a caret
(or the JSON pointer for COCO, whose files are often one huge line), and the fix when there is
one; the consequence per ``--target`` (``  -> torchvision: drops the box: ...``); then the
per-target summary and the summary line.

    data/voc/Annotations/0001.xml:14: B002 box-out-of-image [error] box extends ...
       |
    14 |     <xmax>700.5</xmax>
       |     ^^^^^^^^^^^^^^^^^^
       = image: JPEGImages/0001.jpg, annotation: 3
       = fix (unsafe): clip to the image

Source lines are read from ``<dataset>/<file>``; a file that is gone,
unreadable or very large is skipped, never an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from detlint.boundary import read_file
from detlint.findings import Finding
from detlint.report._common import (
    Paths,
    Report,
    RuleTable,
    collector_paused,
    consequence_lines,
    count,
    diff_summary_lines,
    escape_text,
    sorted_findings,
    summary_line,
    target_summary_lines,
)
from detlint.report.concise import location

MAX_SOURCE_BYTES = 32 * 1024 * 1024  # a COCO file can be 450 MB; it is located by pointer anyway
MAX_LINE_CHARS = 160
TAB = 4


class SourceLines:
    """Lines of source files, read once per file."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str] | None] = {}

    def line(self, finding: Finding, paths: Paths, number: int) -> str | None:
        display = paths.display(finding)
        if display not in self._lines:
            self._lines[display] = self._read(display)
        lines = self._lines[display]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]

    def _read(self, display: str) -> list[str] | None:
        try:
            path = Path(display)
            if path.is_symlink():  # a snippet is never read through a link (it may lead out of the dataset)
                return None
            data = read_file(path, MAX_SOURCE_BYTES)
        except (OSError, ValueError):
            return None
        if b"\0" in data[:8192]:  # an image or other binary file: no lines to show
            return None
        # Lines end at "\n" only, as the readers count them: str.splitlines would also break at
        # a form feed, U+2028 and others inside a line and shift every snippet after it.
        return [line.removesuffix("\r") for line in data.decode("utf-8", errors="replace").split("\n")]


def _snippet(text: str, number: int, column: int | None) -> list[str]:
    """The source line with a caret under the column (or under the whole stripped line).

    The line is escaped like every other (a control character in the file shows as ``\\x1b``);
    the caret is placed on the escaped text, which escaping the prefix gives."""
    expanded = escape_text(text.expandtabs(TAB))
    if column is not None and column >= 1:
        start = len(escape_text(text[:column - 1].expandtabs(TAB)))
        width = 1
    else:
        start = len(expanded) - len(expanded.lstrip())
        width = max(1, len(expanded.rstrip()) - start)
    shown = expanded.rstrip()
    if len(shown) > MAX_LINE_CHARS:  # window around the caret
        offset = max(0, min(start - MAX_LINE_CHARS // 4, len(shown) - MAX_LINE_CHARS))
        shown = shown[offset:offset + MAX_LINE_CHARS]
        start -= offset
        width = min(width, MAX_LINE_CHARS - start)
    gutter = " " * len(str(number))
    return [f"{gutter} |", f"{number} | {shown}", f"{gutter} | {' ' * start}{'^' * max(1, width)}"]


def _block(finding: Finding, paths: Paths, rules: RuleTable, sources: SourceLines) -> list[str]:
    """The finding's lines, each escaped (see _common): a name never starts a line of its own."""
    rule = rules[finding.code]
    head = f"{location(finding, paths)}: {finding.code} {rule.name} [{rule.severity}] {finding.message}"
    text = sources.line(finding, paths, finding.line) if finding.line and not finding.pointer else None
    snippet = _snippet(text, finding.line, finding.column) if text is not None else []
    return [escape_text(head), *snippet, *map(escape_text, _facts(finding, text is not None)),
            *map(escape_text, consequence_lines(finding))]


def _facts(finding: Finding, with_snippet: bool) -> list[str]:
    """The ``= ...`` lines under a finding: pointer, image and annotation, fix."""
    lines = []
    indent = " " * (len(str(finding.line)) + 1 if with_snippet else 2)
    if finding.pointer:
        lines.append(f"{indent}= at: {finding.pointer}")
    where = [f"image: {finding.image}"] if finding.image else []
    if finding.annotation is not None:
        where.append(f"annotation: {finding.annotation}")
    if where:
        lines.append(f"{indent}= {', '.join(where)}")
    if finding.fix is not None:
        lines.append(f"{indent}= fix ({finding.fix.applicability}): {finding.fix.description}")
    return lines


def emit(report: Report, stream: TextIO) -> None:
    with collector_paused():
        paths, rules, sources = Paths(), RuleTable(), SourceLines()
        findings = sorted_findings(report.findings)
        # each block, then an empty line
        stream.writelines("".join(line + "\n" for line in _block(f, paths, rules, sources)) + "\n" for f in findings)
        summaries = target_summary_lines(report) + diff_summary_lines(report)
        stream.writelines(escape_text(line) + "\n" for line in summaries)
        stream.write("\n" if summaries else "")
        stream.write(summary_line(count(findings, rules), report.fail_on) + "\n")
