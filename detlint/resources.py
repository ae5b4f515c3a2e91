"""Bundled JSON schemas: ``schemas/`` in a checkout, ``detlint/schemas/`` in an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson


def schema_path(name: str) -> Path:
    installed = Path(__file__).with_name("schemas") / name
    if installed.is_file():
        return installed
    return Path(__file__).resolve().parents[1] / "schemas" / name


@cache
def load_schema(name: str) -> dict:
    return orjson.loads(schema_path(name).read_bytes())
