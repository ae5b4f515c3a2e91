"""unparseable-file (F001): a JSON, XML, txt or YAML file that cannot be parsed.

Why it matters: the trainer stops at this file, or, worse, its loader skips it and trains
without those labels. The finding gives the line and column of the parse error. JSON that only
lenient parsers accept (bare ``NaN``, ``Infinity``, numbers like ``1e400``) is reported too:
Python's json reads it, strict parsers (orjson, JavaScript, most tools) refuse it.

Example: a COCO JSON cut short by a full disk ("unexpected end of data: line 1 column 5").

Fix: repair or re-export the file; detlint cannot guess the missing content.
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, reader_problems

CODE = "F001"
NAME = "unparseable-file"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    """Reported by the format reader while parsing (only it sees the raw text)."""
    return reader_problems(ds, CODE)
