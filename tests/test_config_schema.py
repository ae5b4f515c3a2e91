"""The config schema's rule options are the rule catalog's: names, types, bounds, defaults.

``schemas/config.schema.json`` is committed (config validation reads it), and its rule-option
properties are generated from the ``Option`` declarations in the rule modules
(``detlint/rules/_options.py``). After adding or changing a rule option, regenerate it with

    python -m detlint.config_schema

and commit the result; ``test_committed_schema_is_generated`` fails until then.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import jsonschema
import pytest

from detlint import config_schema as schema_generator
from detlint.config import GENERAL_KEYS
from detlint.resources import load_schema
from detlint.rules import RULES
from detlint.rules._options import (
    NEAR_DUPLICATE_DISTANCE,
    Option,
    Options,
    catalog_options,
)


def test_committed_schema_is_generated() -> None:
    path, committed, generated = schema_generator.expected()
    assert committed == generated, f"{path} is stale: run python -m detlint.config_schema"
    assert schema_generator.main(["--check"]) == 0


def test_schema_options_are_the_catalog_options() -> None:
    properties = load_schema("config.schema.json")["properties"]
    options = {key: value for key, value in properties.items() if key not in GENERAL_KEYS}
    defaults = {key: default for rule in RULES.values() for key, default in rule.OPTIONS.items()}
    assert set(options) == set(defaults)
    for key, prop in options.items():
        assert prop["default"] == defaults[key], key
        assert type(prop["default"]) is type(defaults[key]), key
        jsonschema.Draft7Validator(prop).validate(defaults[key])  # a default meets its own bounds


def test_every_option_is_declared_once() -> None:
    declared = catalog_options(RULES.values())
    for rule in RULES.values():
        assert isinstance(rule.OPTIONS, dict)
        assert set(rule.OPTIONS) == set(getattr(rule.OPTIONS, "declared", {})), rule.CODE
    # I010 and S002 share one definition.
    assert RULES["I010"].OPTIONS.declared["near-duplicate-distance"] is NEAR_DUPLICATE_DISTANCE
    assert RULES["S002"].OPTIONS.declared["near-duplicate-distance"] is NEAR_DUPLICATE_DISTANCE
    assert declared["near-duplicate-distance"] is NEAR_DUPLICATE_DISTANCE


def test_catalog_refuses_undeclared_or_conflicting_options() -> None:
    plain = SimpleNamespace(CODE="X001", OPTIONS={"some-limit": 3})
    with pytest.raises(ValueError, match="without a declaration"):
        catalog_options([plain])
    one = SimpleNamespace(CODE="X001", OPTIONS=Options(Option("some-limit", 3, "integer", "a", minimum=0)))
    two = SimpleNamespace(CODE="X002", OPTIONS=Options(Option("some-limit", 4, "integer", "a", minimum=0)))
    with pytest.raises(ValueError, match="declared differently"):
        catalog_options([one, two])
    with pytest.raises(TypeError, match="not a JSON integer"):
        Option("some-limit", 1.5, "integer", "a")


def test_generator_drops_stale_options_and_keeps_general_keys() -> None:
    schema = json.loads(schema_generator.expected()[1])
    schema["properties"]["retired-option"] = {"type": "number"}
    generated = schema_generator.generate(schema)["properties"]
    assert "retired-option" not in generated
    assert set(generated) >= GENERAL_KEYS
