"""json: the machine-readable report, a contract described by ``schemas/report.schema.json``.

    {"tool": {"name": "detlint", "version": ...},
     "datasets": [{"path", "format", "images", "annotations", "categories",
                   "predictions": {"path", "format", "detections", "images_with_detections"}}],  # --predictions
     "findings": [{"code", "name", "severity", "message", "file", "line", "pointer", "image",
                   "annotation", "fix": {"applicability", "description"} | null}],
     "summary": {"error", "warning", "info", "fixable"},
     "targets": {NAME: {"images_dropped", "boxes_dropped", "raises", "rewrites"}}}  # with --target only

With ``--target``, a finding about a box or image the trainer drops, raises on or rewrites carries
``"consequences": {NAME: "<what happens>"}``.

Findings are sorted like every other format; ``file`` is relative to the dataset root.
Serialised with orjson (indent 2): 100k findings take well under a second.
"""

from __future__ import annotations

from typing import Any, TextIO

import detlint
from detlint.findings import Finding
from detlint.report._common import (
    SEVERITY_ORDER,
    Report,
    RuleTable,
    collector_paused,
    count,
    sorted_findings,
    write_json,
)


def finding_object(finding: Finding, rules: RuleTable) -> dict[str, Any]:
    rule = rules[finding.code]
    fix = finding.fix
    return {
        "code": finding.code, "name": rule.name, "severity": rule.severity, "message": finding.message,
        "file": finding.file, "line": finding.line, "pointer": finding.pointer, "image": finding.image,
        "annotation": None if finding.annotation is None else str(finding.annotation),
        "fix": None if fix is None else {"applicability": fix.applicability, "description": fix.description},
        **({"consequences": dict(finding.consequences)} if finding.consequences else {}),
    }


def document(report: Report) -> dict[str, Any]:
    rules = RuleTable()
    findings = sorted_findings(report.findings)
    counts = count(findings, rules)
    return {
        "tool": {"name": "detlint", "version": detlint.__version__},
        "datasets": [dict(d) for d in report.datasets],
        "findings": [finding_object(f, rules) for f in findings],
        "summary": {**{s: counts.by_severity[s] for s in SEVERITY_ORDER}, "fixable": counts.fixable},
        **({"targets": report.targets} if report.targets else {}),
        **({"diff": report.diff} if report.diff else {}),
    }


def emit(report: Report, stream: TextIO) -> None:
    with collector_paused():
        write_json(document(report), stream)
