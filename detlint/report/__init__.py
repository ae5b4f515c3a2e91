"""Reporters for ``detlint check``: one module per output format, registered in REPORTERS.

Formats: ``concise`` (default), ``full``, ``json`` (schemas/report.schema.json), ``sarif``
(SARIF 2.1.0 for GitHub code scanning), ``github`` (workflow annotations), ``gitlab`` (Code
Quality), ``html`` (a self-contained visual report with thumbnails).

The interface, as ruff's emitters: each reporter module has ``emit(report, stream) -> None``,
which writes the whole report to ``stream``, a text stream (``typing.TextIO``). It writes only
``str`` (orjson's bytes are decoded first), ends with a newline unless it writes nothing (github
without findings) and never closes or flushes the stream. The caller owns the stream:
``sys.stdout`` (its encoding, as ``print`` would), ``open_output(path)`` for ``-o FILE`` (UTF-8,
no newline translation, atomic), or an ``io.StringIO``. A text stream rather than a binary one,
so that the text reporters encode nothing themselves and stdout stays the interpreter's.

REPORTERS is the one table of output formats: the CLI's ``--output-format`` choices are its keys.
``render(fmt, report) -> str`` is the same output as one string (tests, library callers).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from detlint.errors import UsageError
from detlint.report import concise, full, github, gitlab, html, json_report, sarif
from detlint.report._common import Report

__all__ = ["REPORTERS", "Report", "emit", "open_output", "render"]

Reporter = Callable[[Report, TextIO], None]

REPORTERS: dict[str, Reporter] = {
    "concise": concise.emit,
    "full": full.emit,
    "json": json_report.emit,
    "sarif": sarif.emit,
    "github": github.emit,
    "gitlab": gitlab.emit,
    "html": html.emit,
}


def reporter(fmt: str) -> Reporter:
    """The reporter for output format ``fmt``; a usage error for an unknown one."""
    found = REPORTERS.get(fmt)
    if found is None:
        raise UsageError(f"unknown output format {fmt!r}; choose from {', '.join(REPORTERS)}")
    return found


def emit(fmt: str, report: Report, stream: TextIO) -> None:
    """Write the report in output format ``fmt`` to ``stream``."""
    reporter(fmt)(report, stream)


def render(fmt: str, report: Report) -> str:
    """The report as text in the output format ``fmt``."""
    buffer = io.StringIO()
    emit(fmt, report, buffer)
    return buffer.getvalue()


@contextmanager
def open_output(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text stream for ``-o FILE`` that replaces ``path`` atomically when the block ends.

    The text is encoded as it is written (no newline translation, so the bytes are those of
    stdout on POSIX) and written with ``atomic_write_bytes``: a temporary file in the same folder,
    then a rename. A block that raises leaves ``path`` as it was.
    """
    from detlint.fileio import atomic_write_bytes

    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=True)
    yield stream
    stream.flush()
    atomic_write_bytes(path, buffer.getvalue())
