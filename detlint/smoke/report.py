"""The smoke report: what ran (dataset, model, steps, throughput, memory) and the diagnoses.

Owns :class:`Step` and :class:`SmokeReport` and the report's JSON document (``to_dict``); the
text and JSON renderings are in :mod:`detlint.smoke.render`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from detlint.smoke.diagnose import Diagnosis


@dataclass
class Step:
    """One optimizer step: the loss and its terms, the gradient norm, timings, the batch size."""

    step: int
    loss: float | None
    loss_terms: dict[str, float | None]
    grad_norm: float | None
    time_s: float
    data_time_s: float
    batch_size: int


@dataclass
class SmokeReport:
    """Everything ``run_smoke`` found out; ``ok`` when no diagnosis has severity ``error``."""

    dataset: str
    device: str
    model: str
    split: str | None = None
    images: int = 0
    num_classes: int = 0
    batch_size: int = 0
    image_size: int = 0
    checked: bool = False
    check_summary: dict[str, int] = field(default_factory=dict)
    inspected: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    throughput: dict[str, float | None] = field(default_factory=lambda: {"images_per_s": None,
                                                                         "steps_per_s": None})
    peak_memory_bytes: int | None = None
    peak_memory_source: str | None = None  # "cuda" (allocator peak) or "rss" (process peak)
    batch_size_search: dict[str, Any] | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnoses)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (stable keys; NaN/inf serialise as null)."""
        return {
            "dataset": self.dataset, "device": self.device, "model": self.model, "split": self.split,
            "images": self.images, "num_classes": self.num_classes, "batch_size": self.batch_size,
            "image_size": self.image_size, "checked": self.checked, "check_summary": self.check_summary,
            "inspected": self.inspected,
            "steps": [{k: _finite_or_none(v) for k, v in asdict(s).items()} for s in self.steps],
            "throughput": self.throughput, "peak_memory_bytes": self.peak_memory_bytes,
            "peak_memory_source": self.peak_memory_source, "batch_size_search": self.batch_size_search,
            "diagnoses": [d.to_dict() for d in self.diagnoses], "ok": self.ok,
        }


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value
