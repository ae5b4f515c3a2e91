"""github: GitHub Actions workflow commands, shown as annotations on the pull request.

    ::error file=data/voc/Annotations/0001.xml,line=14,title=B002 box-out-of-image::box extends ...

``error`` / ``warning`` / ``notice`` follow the rule's severity (info -> notice). Escaping follows
the runner (actions/toolkit ``command.ts``): in the message ``%``, ``\\r`` and ``\\n``; in
property values also ``:`` and ``,``. Then every other non-printable character (NUL, ESC, bidi
controls, lone surrogates) is escaped as in the text formats (``escape_text``: ``\\x1b``, a
backslash doubled), which the runner shows as it is. A COCO finding without a line names its JSON pointer in the
message. Paths resolve from the working directory, which is the repository root in a workflow.
"""

from __future__ import annotations

from typing import TextIO

from detlint.findings import Finding
from detlint.report._common import (
    Paths,
    Report,
    RuleTable,
    collector_paused,
    consequence_suffix,
    escape_text,
    sorted_findings,
    target_headline,
)

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(finding: Finding, paths: Paths, rules: RuleTable) -> str:
    rule = rules[finding.code]
    properties = [f"file={escape_property(paths.display(finding))}"]
    if finding.line is not None:
        properties.append(f"line={finding.line}")
        if finding.column is not None:
            properties.append(f"col={finding.column}")
    properties.append(f"title={escape_property(f'{finding.code} {rule.name}')}")
    message = finding.message
    if finding.pointer and finding.line is None:
        message += f" (at {finding.pointer})"
    message += consequence_suffix(finding)
    command = COMMANDS.get(rule.severity, "error")
    return f"::{command} {','.join(properties)}::{escape_data(message)}"


def emit(report: Report, stream: TextIO) -> None:
    """One command per line; nothing at all when there are no findings."""
    with collector_paused():
        paths, rules = Paths(), RuleTable()
        stream.writelines(escape_text(_command(f, paths, rules)) + "\n" for f in sorted_findings(report.findings))
        # one notice per --target: its summary in the run's annotations
        stream.writelines(escape_text(f"::notice title={escape_property(f'detlint --target {name}')}::"
                                      f"{escape_data(target_headline(name, summary))}") + "\n"
                          for name, summary in report.targets.items())
