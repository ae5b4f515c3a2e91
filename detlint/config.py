"""Configuration: ``[tool.detlint]`` in pyproject.toml, ``detlint.toml`` or ``.detlint.toml``.

The nearest file wins, searching from the dataset (or the current folder) upwards; command-line
flags override it. Files are validated against ``schemas/config.schema.json``; a bad file is a
one-line usage error (exit 2). The schema's rule-option properties (type, bounds, default) are
generated from the rules' ``Option`` declarations (``python -m detlint.config_schema``; see
``detlint/rules/_options.py``); a key that is neither a general key nor a rule option is refused.

Example (``detlint.toml``)::

    select = ["F", "B", "C"]
    ignore = ["B008"]
    fail-on = "warning"
    min-box-size = 2
    voc-origin = 1
    image-root = "../images"  # COCO/VOC images stored elsewhere (relative to this file)
    max-label-mib = 64        # a bigger YOLO .txt / VOC .xml is F001, not read
    max-document-mib = 8192   # likewise a COCO JSON, data.yaml or image list
    [per-file-ignores]
    "legacy/**" = ["B005"]
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detlint.boundary import MIB, Limits, read_file, within
from detlint.errors import UsageError

CONFIG_FILES = ("detlint.toml", ".detlint.toml", "pyproject.toml")
CONFIG_BYTES = 16 * MIB  # a config file larger than this is not one
GENERAL_KEYS = {"select", "ignore", "per-file-ignores", "fail-on", "images", "baseline", "datasets",
                "classes", "voc-origin", "max-label-mib", "max-document-mib", "image-root", "target"}


@dataclass
class Config:
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    fail_on: str = "error"
    images: str = "header"
    options: dict[str, Any] = field(default_factory=dict)  # rule options, kebab-case
    voc_origin: int = 1
    limits: Limits = field(default_factory=Limits)  # the largest files a read opens
    classes: list[str] | None = None
    baseline: str | None = None
    datasets: list[str] = field(default_factory=list)
    source: Path | None = None  # the file it came from
    cache: Any = None
    display_root: str | None = None
    image_root: Path | None = None  # where the images are, when not under the dataset (COCO, VOC)
    targets: list[str] = field(default_factory=list)  # --target / target: trainers to assess the data for

    def merged(self, **overrides: Any) -> Config:
        """A copy with the non-None overrides applied (command-line flags win)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        options = {**self.options, **values.pop("options", {})}
        return Config(**{**self.__dict__, **values, "options": options})


def _toml_load(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(read_file(path, CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{_from_here(path)}: cannot read config: {error}") from None


def find_config(start: Path) -> tuple[Path, dict] | None:
    """The nearest config file at or above ``start`` and its detlint table."""
    folder = start.resolve()
    if folder.is_file():
        folder = folder.parent
    for directory in (folder, *folder.parents):
        for name in CONFIG_FILES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            data = _toml_load(candidate)
            if name == "pyproject.toml":
                table = data.get("tool", {}).get("detlint")
                if table is None:
                    continue
                return candidate, table
            return candidate, data.get("tool", {}).get("detlint", data)
    return None


def validate(table: dict, source: Path) -> None:
    import jsonschema

    from detlint.resources import load_schema

    validator = jsonschema.Draft7Validator(load_schema("config.schema.json"))
    errors = sorted(validator.iter_errors(table), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise UsageError(f"{source}: invalid config at {where}: {error.message}")
    from detlint.rules import RULES

    known_options = {name for rule in RULES.values() for name in rule.OPTIONS}
    for key in table:
        if key not in GENERAL_KEYS and key not in known_options:
            raise UsageError(f"{source}: unknown config key '{key}'")
    for key in ("select", "ignore"):
        for code in table.get(key, []):
            _check_code_prefix(code, source)
    for name in table.get("target", []):
        check_target(name, source)


def check_target(name: str, source: Path | str) -> None:
    """A usage error naming the known targets when ``name`` is not one."""
    from detlint import targets

    if name not in targets.ADAPTERS:
        raise UsageError(f"{source}: unknown target '{name}' (known: {', '.join(targets.names())})")


def _check_code_prefix(code: str, source: Path | str) -> None:
    from detlint.rules import RULES

    if code != "ALL" and not any(c.startswith(code) for c in RULES):
        raise UsageError(f"{source}: unknown rule code '{code}'")


def from_table(table: dict, source: Path | None) -> Config:
    options = {k: v for k, v in table.items() if k not in GENERAL_KEYS}
    return Config(
        select=table.get("select"), ignore=list(table.get("ignore", [])),
        per_file_ignores={k: list(v) for k, v in table.get("per-file-ignores", {}).items()},
        fail_on=table.get("fail-on", "error"), images=table.get("images", "header"), options=options,
        voc_origin=int(table.get("voc-origin", 1)), classes=table.get("classes"),
        baseline=table.get("baseline"), datasets=list(table.get("datasets", [])), source=source,
        image_root=_config_path(table.get("image-root"), source), targets=list(table.get("target", [])),
        limits=Limits(label_bytes=int(table.get("max-label-mib", Limits.label_bytes // MIB)) * MIB,
                      document_bytes=int(table.get("max-document-mib", Limits.document_bytes // MIB)) * MIB),
    )


def _config_path(value: str | None, source: Path | None) -> Path | None:
    """A path the config names, relative to the config file; shown relative to the current
    folder when it was written relative (messages print no absolute path the user did not)."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and source is not None:
        path = Path(os.path.relpath(source.parent / path))
    if source is not None and not path.is_dir():  # the config's own error, not a flag's
        raise UsageError(f"{_from_here(source)}: image-root '{value}': no such folder")
    return path


def load_config(start: Path, explicit: Path | None = None) -> Config:
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: config file not found")
        data = _toml_load(explicit)
        table = data.get("tool", {}).get("detlint", data if explicit.name != "pyproject.toml" else {})
        validate(table, explicit)
        return from_table(table, explicit)
    found = find_config(start)
    if found is None:
        return Config()
    path, table = found
    validate(table, _from_here(path))  # found from the resolved start: absolute, though the user gave none
    config = from_table(table, path)
    _refuse_widening(config, start)
    return config


def _refuse_widening(config: Config, start: Path) -> None:
    """A config found inside the dataset is the dataset's own data (a pull request can change
    it): its ``image-root`` may not lead out of the dataset, or the dataset would widen its own
    boundary. A config above the dataset, ``--config`` or ``--image-root`` is the user's choice."""
    if config.image_root is None or config.source is None:
        return
    dataset = os.path.realpath(start if start.is_dir() else start.parent)
    if not within(os.path.realpath(config.source), dataset):
        return
    if not within(os.path.realpath(config.image_root), dataset):
        raise UsageError(f"{_from_here(config.source)}: image-root leads out of the dataset the config is in "
                         f"(to {config.image_root}); a dataset's own config may not widen what detlint reads: pass "
                         "--image-root on the command line, or put the setting in a config above the dataset")


def image_root_for(path: Path, given: Path | None) -> Path | None:
    """The image root a read of the dataset at ``path`` uses: the command line's, else its config's."""
    return given if given is not None else load_config(path).image_root


def _from_here(path: Path) -> Path:
    """``path`` relative to the current folder (``../pyproject.toml`` above it), so a message
    naming the config prints no absolute path; as it is on another drive (Windows)."""
    try:
        return Path(os.path.relpath(path))
    except ValueError:
        return path


def parse_codes(text: str | None, source: str = "command line") -> list[str] | None:
    if text is None:
        return None
    codes = [c.strip().upper() for c in text.replace(";", ",").split(",") if c.strip()]
    for code in codes:
        _check_code_prefix(code, source)
    return codes
