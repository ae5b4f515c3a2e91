"""concise (the default): one line per finding, then a summary line.

``data/voc/Annotations/0001.xml:14: B002 box extends 60.5 px past the right edge (width 640)``;
a COCO finding without a line is located by its JSON pointer instead
(``data/coco/train.json#/annotations/3/bbox: B004 ...``). Editors and terminals turn
``path:line`` into a link.
"""

from __future__ import annotations

from typing import TextIO

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


def location(finding: Finding, paths: Paths) -> str:
    path = paths.display(finding)
    if finding.line is not None:
        return f"{path}:{finding.line}"
    if finding.pointer:
        return f"{path}#{finding.pointer}"
    return path


def emit(report: Report, stream: TextIO) -> None:
    with collector_paused():
        paths = Paths()
        findings = sorted_findings(report.findings)
        # One line per finding whatever the names hold: see _common on escaping.
        stream.writelines(escape_text(f"{location(f, paths)}: {f.code} {f.message}") + "\n"
                          + "".join(escape_text(line) + "\n" for line in consequence_lines(f)) for f in findings)
        stream.writelines(escape_text(line) + "\n" for line in target_summary_lines(report))
        stream.writelines(escape_text(line) + "\n" for line in diff_summary_lines(report))
        stream.write(summary_line(count(findings, RuleTable()), report.fail_on) + "\n")
