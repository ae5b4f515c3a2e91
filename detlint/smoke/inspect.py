"""Inspecting the samples the steps train on, *after* the transforms (step 3 of smoke).

Owns :func:`inspect_sample` and the running :class:`Inspection` totals: image dtype, value range
and channels; boxes in XYXY, inside the transformed image, moved with it, of positive size; labels
inside the model's classes and never the background; empty targets. It only detects: the
messages come from :mod:`detlint.smoke.diagnose`. torch is imported when a sample is inspected,
never at import (a sample only exists once torch is loaded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detlint.smoke import diagnose
from detlint.smoke.diagnose import Diagnoses

BOX_TOLERANCE_PX = 0.5  # the same tolerance as B002


@dataclass
class Inspection:
    """Running totals over the inspected samples (for the summary line)."""

    samples: int = 0
    boxes: int = 0
    empty: int = 0
    dtypes: set = field(default_factory=set)
    channels: set = field(default_factory=set)
    low: float = math.inf
    high: float = -math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "boxes": self.boxes, "empty_targets": self.empty,
                "dtypes": sorted(self.dtypes), "channels": sorted(self.channels),
                "min_value": self.low if self.samples and math.isfinite(self.low) else None,
                "max_value": self.high if self.samples and math.isfinite(self.high) else None}


def inspect_sample(index: int, sample: Any, num_classes: int, background: bool,
                   totals: Inspection, out: Diagnoses) -> bool:
    """Diagnose one transformed sample; False when it cannot be given to the model at all."""
    import torch

    # lazy: detlint.torch imports torch at import
    from detlint.torch import validate_sample

    file = _file_of(sample)
    try:
        validate_sample(index, sample)
    except ValueError as error:
        out.add(diagnose.malformed_sample(index, file, error))
        return False
    image, target = sample
    totals.samples += 1
    _inspect_image(index, file, image, totals, out)
    boxes, labels = target["boxes"], target["labels"]
    totals.boxes += int(boxes.shape[0])
    if boxes.shape[0] == 0:
        totals.empty += 1
        return True
    if not torch.is_floating_point(boxes) or labels.dtype != torch.int64:
        out.add(diagnose.bad_target_dtype(index, file, boxes.dtype, labels.dtype))
    _inspect_boxes(index, file, image, boxes, out)
    # An out-of-range label is a device-side assert on CUDA, which poisons every later step.
    return _inspect_labels(index, file, labels, num_classes, background, out)


def _file_of(sample: Any) -> str | None:
    if isinstance(sample, (tuple, list)) and len(sample) == 2 and isinstance(sample[1], Mapping):
        file = sample[1].get("file")
        return file if isinstance(file, str) else None
    return None


def _inspect_image(index: int, file: str | None, image: Any, totals: Inspection, out: Diagnoses) -> None:
    import torch

    totals.dtypes.add(str(image.dtype).replace("torch.", ""))
    channels = int(image.shape[0])
    totals.channels.add(channels)
    if channels != 3:
        out.add(diagnose.wrong_channel_count(index, file, tuple(image.shape)))
    if image.numel() == 0:
        return
    values = image.detach().float()
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        out.add(diagnose.non_finite_pixels(index, file))
        values = values[finite]
        if values.numel() == 0:
            return
    low, high = float(values.min()), float(values.max())
    totals.low, totals.high = min(totals.low, low), max(totals.high, high)
    _inspect_value_range(index, file, image, low, high, out)


def _inspect_value_range(index: int, file: str | None, image: Any, low: float, high: float,
                         out: Diagnoses) -> None:
    import torch

    if not torch.is_floating_point(image):
        out.add(diagnose.integer_images(index, file, image.dtype, low, high))
    elif high > 1.0 + 1e-3:
        out.add(diagnose.unscaled_float_images(index, file, high))
    elif low < -1e-3:
        out.add(diagnose.already_normalized(index, file, low))


def _inspect_boxes(index: int, file: str | None, image: Any, boxes: Any, out: Diagnoses) -> None:
    import torch
    from torchvision import tv_tensors

    height, width = int(image.shape[-2]), int(image.shape[-1])
    if isinstance(boxes, tv_tensors.BoundingBoxes):
        if boxes.format != tv_tensors.BoundingBoxFormat.XYXY:
            out.add(diagnose.wrong_box_format(index, file, boxes.format.name))
            return
        canvas = tuple(int(v) for v in boxes.canvas_size)
        if canvas != (height, width):
            out.add(diagnose.boxes_not_transformed(index, file, canvas, width, height))
    values = boxes.detach().as_subclass(torch.Tensor).double()
    finite = torch.isfinite(values).all(dim=1)
    widths, heights = values[:, 2] - values[:, 0], values[:, 3] - values[:, 1]
    degenerate = ~finite | (widths <= 0) | (heights <= 0)
    if bool(degenerate.any()):
        first = int(torch.nonzero(degenerate)[0])
        out.add(diagnose.degenerate_boxes(index, file, int(degenerate.sum()), values[first]))
    tol = BOX_TOLERANCE_PX
    outside = finite & ((values[:, 0] < -tol) | (values[:, 1] < -tol) | (values[:, 2] > width + tol)
                        | (values[:, 3] > height + tol))
    if bool(outside.any()):
        first = int(torch.nonzero(outside)[0])
        out.add(diagnose.box_outside_image(index, file, values[first], width, height, int(outside.sum()),
                                           len(values)))


def _inspect_labels(index: int, file: str | None, labels: Any, num_classes: int, background: bool,
                    out: Diagnoses) -> bool:
    """Diagnose the labels; False when one is outside the model's classes."""
    values = labels.detach().long()
    beyond = (values >= num_classes) | (values < 0)
    if bool(beyond.any()):
        out.add(diagnose.label_out_of_range(index, file, int(values[beyond][0]), num_classes))
    if background and bool((values == 0).any()):
        out.add(diagnose.background_label(index, file))
    return not bool(beyond.any())
