"""detlint: make object-detection datasets trustworthy before training on them.

Python API::

    ds = detlint.load("data/coco")          # COCO, VOC or YOLO, sniffed
    findings = detlint.check(ds)             # list of Finding
    detlint.save(ds, "out", format="yolo")   # returns the list of losses
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load", "save", "check", "__version__"]

if TYPE_CHECKING:
    from detlint.model import Dataset


def load(path: Any, format: str | None = None, **options: Any) -> Dataset:
    from detlint.formats import load as _load
    from detlint.formats.protocol import ReadOptions

    return _load(path, format=format, options=ReadOptions(**options) if options else None)


def save(ds: Dataset, path: Any, format: str, **options: Any) -> list[dict]:
    from detlint.formats import save as _save
    from detlint.formats.protocol import WriteOptions

    return _save(ds, path, format, WriteOptions(**options)).losses


def check(ds: Dataset, config: Any = None) -> list:
    from detlint.engine import run_rules

    return run_rules(ds, config)
