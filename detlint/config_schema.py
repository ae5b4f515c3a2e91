"""Generate the rule-option part of ``schemas/config.schema.json`` from the rule catalog.

    python -m detlint.config_schema          # rewrite the committed schema
    python -m detlint.config_schema --check  # exit 1 when it is not the generated one

The general keys (``select``, ``fail-on``, ... : ``detlint.config.GENERAL_KEYS``) are written by
hand in the file and kept as they are; every other property is generated from the rules'
``Option`` declarations (:mod:`detlint.rules._options`): type, bounds, default, description, in
catalog order. A property that is neither a general key nor a declared option is dropped.
tests/test_config_schema.py runs the check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from detlint.config import GENERAL_KEYS
from detlint.resources import schema_path
from detlint.rules import RULES
from detlint.rules._options import catalog_options

SCHEMA = "config.schema.json"


def generate(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its rule-option properties regenerated from the catalog."""
    properties = schema.get("properties", {})
    missing = GENERAL_KEYS - set(properties)
    if missing:
        raise ValueError(f"{SCHEMA}: general keys missing from properties: {', '.join(sorted(missing))}")
    options = catalog_options(RULES.values())
    clash = GENERAL_KEYS & set(options)
    if clash:
        raise ValueError(f"rule options named like general config keys: {', '.join(sorted(clash))}")
    general = {key: value for key, value in properties.items() if key in GENERAL_KEYS}
    return {**schema, "properties": {**general, **{key: o.schema() for key, o in options.items()}}}


def dumps(schema: dict[str, Any]) -> str:
    """The file's layout: one top-level key per line, one property per line."""
    def line(indent: int, key: str, value: Any, last: bool) -> str:
        return f"{' ' * indent}{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{'' if last else ','}"

    lines = ["{"]
    items = list(schema.items())
    for i, (key, value) in enumerate(items):
        last = i == len(items) - 1
        if key == "properties":
            lines.append('  "properties": {')
            properties = list(value.items())
            lines += [line(4, k, v, j == len(properties) - 1) for j, (k, v) in enumerate(properties)]
            lines.append("  }" + ("" if last else ","))
        else:
            lines.append(line(2, key, value, last))
    lines.append("}")
    return "\n".join(lines) + "\n"


def expected(path: Path | None = None) -> tuple[Path, str, str]:
    """(schema file, its committed text, the generated text)."""
    path = path or schema_path(SCHEMA)
    committed = path.read_text(encoding="utf-8")
    return path, committed, dumps(generate(json.loads(committed)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path, committed, generated = expected()
    if committed == generated:
        return 0
    if "--check" in args:
        print(f"{path} is not the generated schema: run python -m detlint.config_schema", file=sys.stderr)
        return 1
    path.write_bytes(generated.encode("utf-8"))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
