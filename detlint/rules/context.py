"""The per-run context every rule's ``check(ds, ctx)`` receives.

It carries the run's options and image access, and the run's memos: derived columns that
several rules need (image sizes per box, finite boxes, segmentation kinds) and the image report
are computed once per run and dataset, here, never on the dataset itself. A new run gets a new
context, so nothing computed for one run leaks into another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from detlint.headers import HeaderMemo
from detlint.model import Dataset, Predictions

T = TypeVar("T")


@dataclass
class RuleContext:
    """Rule options (kebab-case keys), the image access level, the run's image cache and header
    records, the predictions given with the check, and the memos of derived values."""

    options: dict[str, Any] = field(default_factory=dict)
    images: str = "header"  # none | header | decode
    cache: Any = None  # detlint.images.ImageCache, when image rules run with a cache
    headers: HeaderMemo | None = None  # header records the reader already probed
    memo: dict[Any, Any] = field(default_factory=dict)
    # check --predictions: the detections the P rules check against the dataset (None: none given)
    predictions: Predictions | None = None
    # check --label-issues K: how many of the worst images the L rules report (0: they do not run)
    label_issues: int = 0

    def get(self, defaults: dict[str, Any], name: str) -> Any:
        """The configured value of a rule option, else the rule's default."""
        return self.options.get(name, defaults[name])

    def memoized(self, ds: Dataset, name: str, inputs: tuple[np.ndarray, ...], compute: Callable[[], T]) -> T:
        """``compute()``, once per run and dataset while its ``inputs`` are the same arrays (a fix
        that replaces a column gets a fresh value). Callers must not modify the result."""
        key = (id(ds), name)
        found = self.memo.get(key)
        if found is not None and len(found[0]) == len(inputs) and all(a is b for a, b in zip(found[0], inputs)):
            return found[1]
        value = compute()
        self.memo[key] = (inputs, value)
        return value

    def memo_for(self, ds: Dataset, name: str) -> dict[Any, Any]:
        """A dict of this run's memos about ``ds`` under ``name`` (e.g. its image reports)."""
        return self.memo.setdefault((id(ds), name), {})
