"""Parsing one COCO JSON document and wording what is wrong with it: the strict-then-lenient
parse (located F001), jsonschema's message for one item, and the located F002 findings."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import orjson

from detlint.findings import Finding, json_pointer
from detlint.resources import load_schema

_INT_DIGITS = (getattr(sys, "get_int_max_str_digits", lambda: 4300)() or 4300) + 1


def parse_json(data: bytes, file: str) -> tuple[Any, list[Finding]]:
    """orjson, then Python's lenient parser; problems become located F001 findings."""
    try:
        return orjson.loads(data), []
    except orjson.JSONDecodeError as strict_error:
        located = Finding("F001", f"invalid JSON: {strict_error.msg}", file=file,
                          line=strict_error.lineno, column=strict_error.colno)
    try:
        lenient = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        if isinstance(error, json.JSONDecodeError):
            located = Finding("F001", f"invalid JSON: {error.msg}", file=file, line=error.lineno,
                              column=error.colno)
        return None, [located]
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        return None, [_huge_integer(data, file)]
    located.message = (f"not strict JSON ({located.message.removeprefix('invalid JSON: ')}): "
                       "Python's json reads it, orjson and most other tools refuse it")
    return lenient, [located]


def _huge_integer(data: bytes, file: str) -> Finding:
    """The F001 of a document holding an integer too long to convert, at its line."""
    match = re.search(rb"\d{%d,}" % _INT_DIGITS, data)
    line = data.count(b"\n", 0, match.start()) + 1 if match else None
    digits = len(match.group()) if match else _INT_DIGITS
    return Finding("F001", f"invalid JSON: a number of {digits} digits (more than any id or coordinate "
                           "holds; Python refuses to read it)", file=file, line=line)


def problem(code: str, message: str, file: str, *pointer_parts: object, annotation: object = None) -> Finding:
    """A finding at the JSON pointer made of ``pointer_parts`` (none: no pointer)."""
    return Finding(code, message, file=file, pointer=json_pointer(*pointer_parts) if pointer_parts else None,
                   annotation=None if annotation is None else str(annotation))


def schema_messages(item: Any, definition: str) -> list[str]:
    """jsonschema's messages for one item against ``#/definitions/<definition>``."""
    import jsonschema

    schema = load_schema("coco.schema.json")
    sub = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    validator = jsonschema.Draft7Validator(sub)
    messages = []
    for error in sorted(validator.iter_errors(item), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path)
        messages.append(f"{where + ': ' if where else ''}{error.message}")
    return messages


def describe(value: Any) -> str:
    """A value for a message: its type and (the start of) its JSON text; "missing" for None."""
    if value is None:
        return "missing"
    try:
        text = repr(value) if isinstance(value, (int, float)) else orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return f"{type(value).__name__} {text[:40]}"
