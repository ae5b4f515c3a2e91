"""The torch device smoke runs on: choosing it, moving batches to it, syncing, out-of-memory, peak memory.

Every function imports torch when called, so importing this module needs no torch.
"""

from __future__ import annotations

import resource
import sys
from typing import Any

from detlint.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> Any:
    """``auto`` is CUDA when PyTorch sees a GPU, else the CPU; ``cuda`` without one is a usage error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to PyTorch (use --device cpu or auto)")
    return torch.device(device)


def to_device(images: list, targets: list, device: Any) -> tuple[list, list]:
    """Plain tensors on ``device``: the images, and each target's boxes and labels."""
    import torch

    moved_images = [img.as_subclass(torch.Tensor).to(device) for img in images]
    moved_targets = [{"boxes": t["boxes"].as_subclass(torch.Tensor).to(device),
                      "labels": t["labels"].as_subclass(torch.Tensor).to(device)} for t in targets]
    return moved_images, moved_targets


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def empty_cache(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_oom(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def peak_memory(device: Any) -> tuple[int, str]:
    """The CUDA allocator peak on a GPU, else the process's peak RSS, in bytes, and which it is."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024), "rss"
