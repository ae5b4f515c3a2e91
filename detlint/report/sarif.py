"""sarif: SARIF 2.1.0 for GitHub code scanning and other static-analysis viewers.

One run; ``tool.driver.rules`` holds every rule a result refers to (name, summary, the rule's
docs as help text and markdown, default level, tags). Each result is located physically
(``<dataset>/<file>`` relative to ``%SRCROOT%``, percent-encoded, with ``region.startLine`` when
the format has lines) and logically (the COCO JSON pointer or the source's annotation key), and
carries ``partialFingerprints["detlintFindingKey/v1"]``: a hash of (code, file, object key) that
survives unrelated edits, so code scanning tracks an alert across commits.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import detlint
from detlint.findings import Finding
from detlint.report._common import (
    Paths,
    Report,
    RuleInfo,
    RuleTable,
    collector_paused,
    location_object,
    sorted_findings,
    write_json,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://detlint.dev"
FINGERPRINT_KEY = "detlintFindingKey/v1"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
CATEGORY_TAGS = {"F": "format", "B": "box", "C": "class", "I": "image", "S": "split"}


def _markdown(text: str) -> str:
    """Rule docstrings are reStructuredText-ish: ``code`` becomes `code`."""
    return text.replace("``", "`")


def rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    help_text = rule.summary + ("\n\n" + rule.docs if rule.docs else "")
    tags = ["detlint", CATEGORY_TAGS.get(rule.code[:1], "other")]
    if rule.fix:
        tags.append(f"fix-{rule.fix}")
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text, "markdown": f"**{rule.name} ({rule.code})**: {_markdown(help_text)}"},
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "error")},
        "properties": {"tags": tags},
    }


def artifact_location(path: str) -> dict[str, str]:
    """A URI that resolves from the repository root; absolute paths outside it stay absolute."""
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        if relative.startswith(".."):
            try:
                return {"uri": Path(path).as_uri()}
            except UnicodeEncodeError:  # a lone surrogate that is no file system byte
                return {"uri": "file://" + _quote(Path(path).as_posix())}
        path = relative.replace(os.sep, "/")
    return {"uri": _quote(path), "uriBaseId": "%SRCROOT%"}


def _quote(path: str) -> str:
    """Percent-encoded UTF-8. A name read from a non-UTF-8 file name (``surrogateescape``) gets
    its own bytes back (``%FF``); any other lone surrogate, which no file name holds, its
    UTF-8-style bytes rather than a crash."""
    try:
        return quote(path, safe="/", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(path, safe="/", errors="surrogatepass")


def fingerprint(finding: Finding, path: str) -> str:
    key = "\0".join((finding.code, path, location_object(finding) or ""))
    return hashlib.sha256(key.encode("utf-8", errors="surrogateescape")).hexdigest()[:32]


def _location(finding: Finding, artifact: dict[str, str]) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if finding.line is not None and finding.line >= 1:
        region: dict[str, int] = {"startLine": int(finding.line)}
        if finding.column is not None and finding.column >= 1:
            region["startColumn"] = int(finding.column)
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.pointer:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.pointer, "kind": "object"}]
    elif finding.annotation is not None:
        location["logicalLocations"] = [{"name": str(finding.annotation), "kind": "object"}]
    return location


def _properties(finding: Finding) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in ("dataset", "image", "annotation", "pointer"):
        value = getattr(finding, name)
        if value is not None:
            properties[name] = str(value)
    if finding.fix is not None:
        fix = finding.fix
        properties["fix"] = {"applicability": fix.applicability, "description": fix.description}
    if finding.consequences:
        properties["consequences"] = dict(finding.consequences)
    return properties


def document(report: Report) -> dict[str, Any]:
    rules, paths = RuleTable(), Paths()
    findings = sorted_findings(report.findings)
    rule_index: dict[str, int] = {}
    for finding in findings:
        rule_index.setdefault(finding.code, len(rule_index))
    seen: dict[str, int] = {}
    artifacts: dict[str, dict[str, str]] = {}
    results = []
    for finding in findings:
        path = paths.display(finding)
        # Identical keys (two findings on one object) get an occurrence suffix, as GitHub does.
        base = fingerprint(finding, path)
        seen[base] = occurrence = seen.get(base, 0) + 1
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": rule_index[finding.code],
            "level": LEVELS.get(rules[finding.code].severity, "error"),
            "message": {"text": finding.message},
            "partialFingerprints": {FINGERPRINT_KEY: base if occurrence == 1 else f"{base}:{occurrence}"},
        }
        if path != ".":
            artifact = artifacts.get(path) or artifacts.setdefault(path, artifact_location(path))
            result["locations"] = [_location(finding, artifact)]
        properties = _properties(finding)
        if properties:
            result["properties"] = properties
        results.append(result)
    driver = {
        "name": "detlint",
        "version": detlint.__version__,
        "semanticVersion": detlint.__version__,
        "informationUri": INFORMATION_URI,
        "rules": [rule_descriptor(rules[code]) for code in rule_index],
    }
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": True}],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if report.targets:  # --target: the report's targets object, as a property bag of the run
        run["properties"] = {"targets": report.targets}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def emit(report: Report, stream: TextIO) -> None:
    with collector_paused():
        write_json(document(report), stream)
