"""User data made safe to print: the one escaping every text output uses, and JSON that never fails.

File names, class names, split names and messages quoting them are user data. Printed raw, a
newline in one starts a new output line that can pose as a finding (``file:1: B001 ...``) or as
a GitHub Actions workflow command (``::error file=...``: the runner executes those from stdout
and stderr alike); an ESC starts a terminal control sequence; a bidi override (U+202A-U+202E,
U+2066-U+2069) reorders what is shown; and a lone surrogate (a JSON ``"\\ud800"``, a non-UTF-8
file name decoded with ``surrogateescape``) cannot be encoded at all, so printing it crashes.

:func:`escape_text` is the rule for every text output (concise, full, github, html, stats,
show, convert, smoke, error messages and logs): each character that ``str.isprintable`` rejects
(C0 and C1 controls, DEL, U+2028/U+2029, format characters such as bidi controls, unassigned
and surrogate code points, spaces other than U+0020) becomes a Python-style escape: ``\\n``,
``\\r``, ``\\t``, ``\\xNN`` below U+0100, ``\\uNNNN`` (``\\ud800`` for a lone surrogate),
``\\UNNNNNNNN`` above the BMP. A backslash is shown doubled (``\\\\``), so the output reads back
unambiguously: ``\\n`` is always a newline in the data, ``\\\\n`` a backslash and an ``n``. The
escaping is injective, so two different names never print the same. Printable text, any script
or emoji, is left as it is.

:func:`json_text` is orjson's indent-2 JSON, which escapes controls itself but rejects lone
surrogates; for a document holding one it falls back to the standard library. Either way the
characters JSON allows raw but terminals act on (C1 controls, bidi and other format characters,
U+2028/U+2029, surrogates) are written as ``\\uXXXX`` escapes, so the document parses back to
the original strings and its text holds no raw control character.

:func:`counted` is the one way a count and its noun are printed (``1 box``, ``2 boxes``,
``0 warnings``): every message that says how many of something agrees in number.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

import orjson

__all__ = ["counted", "escape_text", "json_text"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Characters JSON allows raw but a terminal or a log viewer acts on: DEL and C1 controls, bidi and
# other invisible format characters, line/paragraph separators, and (fallback only) surrogates.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                          "\ufeff\ufff9-\ufffb\ud800-\udfff]")


def escape_text(text: str) -> str:
    """``text`` with every non-printable character and every backslash escaped (see the module)."""
    if text.isprintable() and "\\" not in text:  # nearly every string: one C-speed scan
        return text
    return "".join(_escape_char(char) for char in text)


def _escape_char(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def json_text(document: Any) -> str:
    """``document`` as indent-2 JSON (no trailing newline); numpy values become plain numbers."""
    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError:  # orjson refuses lone surrogates; the standard library writes them raw
        text = json.dumps(_plain(document), indent=2, ensure_ascii=False)
    if text.isascii():  # nearly every report: one C-speed scan instead of the pattern's
        return text
    # Outside strings JSON is ASCII, so each such character is inside a string, where its
    # "\uXXXX" escape is the same character: the document parses to the same data.
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _plain(value: Any) -> Any:
    """What orjson would write, as standard-library JSON values (non-finite floats as null)."""
    if isinstance(value, dict):
        return {str(key) if not isinstance(key, str) else key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_SIBILANT = ("s", "x", "z", "ch", "sh")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` agreeing in number: ``1 box``, ``0 boxes``, ``3 entries``, ``2 classes``.

    English's regular plural of ``noun`` (``-es`` after a sibilant, ``-ies`` after a consonant
    and ``y``), or ``plural`` where it is irregular (``counted(2, "info", "info")``)."""
    if n == 1:
        return f"{n} {noun}"
    if plural is None:
        if noun.endswith(_SIBILANT):
            plural = noun + "es"
        elif noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
            plural = noun[:-1] + "ies"
        else:
            plural = noun + "s"
    return f"{n} {plural}"
