"""Rule options, each declared once: config key, default, JSON type, bounds and a description.

A rule module declares its options beside their defaults::

    OPTIONS = Options(Option("min-box-size", 1.0, "number", "...", minimum=0))

``Options`` is a plain ``dict`` of defaults by kebab-case key, which is what ``ctx.get(OPTIONS,
key)``, ``detlint rule CODE`` and config validation read, and keeps the declarations in
``.declared``. An option that several rules read is defined here once and imported by each
(:data:`NEAR_DUPLICATE_DISTANCE`: I010 and S002); two rules declaring one key differently is an
error in :func:`catalog_options`.

The rule-option properties of ``schemas/config.schema.json`` are generated from these
declarations by :mod:`detlint.config_schema` (``python -m detlint.config_schema``), and
tests/test_config_schema.py fails when the committed file is not the generated one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

JSON_TYPES = {"number": (int, float), "integer": (int,)}


@dataclass(frozen=True)
class Option:
    """One config key of a rule: its default and the JSON Schema that a configured value meets."""

    key: str
    default: int | float
    type: str  # JSON Schema type: "number" or "integer"
    description: str
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        kinds = JSON_TYPES.get(self.type)
        if kinds is None:
            raise ValueError(f"option {self.key}: unknown type {self.type!r}")
        if isinstance(self.default, bool) or not isinstance(self.default, kinds):
            raise TypeError(f"option {self.key}: default {self.default!r} is not a JSON {self.type}")

    def schema(self) -> dict[str, Any]:
        """The option's property in the config schema."""
        schema: dict[str, Any] = {"type": self.type}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            schema["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        schema["default"] = self.default
        schema["description"] = self.description
        return schema


class Options(dict):
    """A rule's option defaults by key (a plain dict to read), with their declarations."""

    def __init__(self, *declared: Option) -> None:
        super().__init__((option.key, option.default) for option in declared)
        self.declared: dict[str, Option] = {option.key: option for option in declared}


def catalog_options(rules: Iterable[ModuleType]) -> dict[str, Option]:
    """Every declared option of the rules, in catalog order; each key must have one declaration."""
    found: dict[str, Option] = {}
    for rule in rules:
        options = rule.OPTIONS
        declared = getattr(options, "declared", {})
        undeclared = set(options) - set(declared)
        if undeclared:
            raise ValueError(f"{rule.CODE}: options without a declaration: {', '.join(sorted(undeclared))} "
                             "(use OPTIONS = Options(Option(...)))")
        for key, option in declared.items():
            if found.setdefault(key, option) != option:
                raise ValueError(f"{rule.CODE}: option {key} is declared differently by another rule; "
                                 "define it once in detlint/rules/_options.py")
    return found


# Options shared by several rules.

NEAR_DUPLICATE_DISTANCE = Option(
    "near-duplicate-distance", 6, "integer",
    "Largest difference in bits between two 64-bit perceptual hashes that makes the images near "
    "copies (I010 within a split, S002 across splits; --images decode).", minimum=0)

OUT_OF_IMAGE_TOLERANCE = Option(
    "out-of-image-tolerance", 0.5, "number",
    "Overshoot past the image edge, in px, accepted before B002 (a box) or P006 (a prediction) fires.",
    minimum=0)

DUPLICATE_IOU = Option(
    "duplicate-iou", 0.95, "number",
    "IoU at or above which two boxes of one class and image are duplicates (B006: labels, P010: detections).",
    exclusive_minimum=0, maximum=1)

MAX_DETS = Option(
    "max-dets", 100, "integer",
    "Detections per image and class that COCOeval scores (its maxDets; P009, P013).", minimum=1)
