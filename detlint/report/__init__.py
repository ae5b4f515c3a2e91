"""Reporters for ``detlint check``: one module per output format, registered in REPORTERS.

Each reporter is a pure function ``render(report) -> str``; the CLI writes the text to stdout
or to ``-o FILE``. Formats: ``concise`` (default), ``full``, ``json`` (schemas/
report.schema.json), ``sarif`` (SARIF 2.1.0 for GitHub code scanning), ``github`` (workflow
annotations), ``gitlab`` (Code Quality),
``html`` (a self-contained visual report with thumbnails).
"""

from __future__ import annotations

from typing import Callable

from detlint.errors import UsageError
from detlint.report import concise, full, github, gitlab, html, json_report, sarif
from detlint.report._common import Report

__all__ = ["REPORTERS", "Report", "render"]

REPORTERS: dict[str, Callable[[Report], str]] = {
    "concise": concise.render,
    "full": full.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "html": html.render,
}


def render(fmt: str, report: Report) -> str:
    """The report as text in the output format ``fmt``."""
    reporter = REPORTERS.get(fmt)
    if reporter is None:
        raise UsageError(f"unknown output format {fmt!r}; choose from {', '.join(REPORTERS)}")
    return reporter(report)
