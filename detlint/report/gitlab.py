"""gitlab: a GitLab Code Quality report (the Code Climate issue subset GitLab reads).

A JSON array of ``{description, check_name, fingerprint, severity, location: {path, lines:
{begin}}}``. Severity: error -> critical, warning -> minor, info -> info. The fingerprint is
the MD5 of (code, path, object key), made unique with an occurrence number, because GitLab
merges issues that share one. Findings without a line point at line 1 (GitLab requires one).
"""

from __future__ import annotations

import hashlib
from typing import Any, TextIO

from detlint.findings import Finding
from detlint.report._common import (
    Paths,
    Report,
    RuleTable,
    collector_paused,
    consequence_suffix,
    location_object,
    sorted_findings,
    write_json,
)

SEVERITIES = {"error": "critical", "warning": "minor", "info": "info"}


def _fingerprint(finding: Finding, path: str, occurrence: int) -> str:
    key = "\0".join((finding.code, path, location_object(finding) or "", str(occurrence)))
    return hashlib.md5(key.encode("utf-8", errors="surrogateescape"), usedforsecurity=False).hexdigest()


def issues(report: Report) -> list[dict[str, Any]]:
    paths, rules = Paths(), RuleTable()
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for finding in sorted_findings(report.findings):
        rule = rules[finding.code]
        path = paths.display(finding)
        key = (finding.code, path, location_object(finding) or "")
        seen[key] = occurrence = seen.get(key, 0) + 1
        where = f" (at {finding.pointer})" if finding.pointer and finding.line is None else ""
        out.append({
            "description": f"{finding.code} {rule.name}: {finding.message}{where}{consequence_suffix(finding)}",
            "check_name": f"{finding.code} {rule.name}",
            "fingerprint": _fingerprint(finding, path, occurrence),
            "severity": SEVERITIES.get(rule.severity, "critical"),
            "location": {"path": path, "lines": {"begin": finding.line or 1}},
        })
    return out


def emit(report: Report, stream: TextIO) -> None:
    with collector_paused():
        write_json(issues(report), stream)
