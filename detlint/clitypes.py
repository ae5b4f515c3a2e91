"""Click parameter types shared by the commands: choices read from their one home at parse time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click


def _names() -> tuple[str, ...]:
    from detlint import formats  # on use: ``detlint --help`` imports no format, nor numpy

    return formats.names()


class FormatName(click.ParamType):
    """A dataset format name from the registry (``detlint.formats.names()``), read when the
    command line is parsed, so a format registered by a plugin is accepted like a built-in one."""

    name = "format"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(_names()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in _names():
            return str(value)
        self.fail(f"{value!r} is not one of {', '.join(map(repr, _names()))}.", param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        return [CompletionItem(name) for name in _names() if name.startswith(incomplete)]


FORMAT_NAME = FormatName()


_Command = TypeVar("_Command", bound=Callable[..., Any])


def image_root_option(command: _Command) -> _Command:
    """``--image-root DIR``, the same on every command that reads a dataset."""
    return click.option("--image-root", "image_root", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="Folder holding the dataset's images when they are not under it (COCO, VOC; "
                             "default: the config's image-root). Images are read from there only.")(command)
