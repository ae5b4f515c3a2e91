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
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from detlint.errors import UsageError

if TYPE_CHECKING:
    from detlint.report._common import Report

__all__ = ["REPORTERS", "Report", "emit", "open_output", "render"]

Reporter = Callable[["Report", TextIO], None]


def _lazy(module: str) -> Reporter:
    """A reporter that imports ``detlint.report.<module>`` when it first runs."""
    def emit_lazily(report: Report, stream: TextIO) -> None:
        import_module(f"detlint.report.{module}").emit(report, stream)
    return emit_lazily


# Each reporter's module is imported when it runs: the CLI reads this table's keys at start-up,
# and html alone pulls in numpy and the drawing code (~0.1 s of a 0.15 s ``detlint --version``).
REPORTERS: dict[str, Reporter] = {name: _lazy(module) for name, module in (
    ("concise", "concise"), ("full", "full"), ("json", "json_report"), ("sarif", "sarif"),
    ("github", "github"), ("gitlab", "gitlab"), ("html", "html"))}


def __getattr__(name: str) -> Any:
    """``Report`` on first use (``from detlint.report import Report``): the CLI imports this
    package for the table above, before any report exists."""
    if name == "Report":
        from detlint.report._common import Report

        return Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
