"""Trainer adapters for ``detlint check --target NAME``: what a named trainer drops, raises on or
rewrites (see :mod:`detlint.targets.base` for the interface).

One module per trainer, registered once in :data:`ADAPTERS` and imported only when asked for, so
a check without ``--target`` pays nothing. An adapter module defines ``NAME`` (the ``--target``
value), ``TITLE``, ``SOURCE`` (the trainer version and files read) and
``assess(ds, ctx) -> Outcome``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ADAPTERS: dict[str, str] = {
    "torchvision": "detlint.targets.torchvision",
    "ultralytics": "detlint.targets.ultralytics",
    "mmdet": "detlint.targets.mmdet",
    "detectron2": "detlint.targets.detectron2",
    "rfdetr": "detlint.targets.rfdetr",
}


def names() -> list[str]:
    """The ``--target`` choices, sorted."""
    return sorted(ADAPTERS)


def adapter(name: str) -> ModuleType:
    """The adapter module for ``name``; a ``KeyError`` naming the known targets when there is none."""
    try:
        module = ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown target {name!r} (known: {', '.join(names())})") from None
    return importlib.import_module(module)
