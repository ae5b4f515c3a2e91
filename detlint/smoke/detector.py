"""The detector smoke trains (step 2): the torchvision models it knows and how it builds them.

Owns the model names (:data:`MODELS`, which the CLI offers without torch), which of them resize
internally or read label 0 as background, :func:`build_model` (random weights, nothing is ever
downloaded, misspelt options refused) and :func:`default_transforms`. torchvision is imported
inside the builders only, so importing this module needs no torch.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from detlint.errors import UsageError

MODELS = (
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_resnet50_fpn",
    "retinanet_resnet50_fpn",
    "fcos_resnet50_fpn",
    "ssdlite320_mobilenet_v3_large",
)
DEFAULT_MODEL = MODELS[0]
# Models whose internal transform resizes to min_size/max_size: pinned to --image-size so the
# model sees the images at the size the dataset produced (ssdlite is fixed at 320x320).
RESIZING_MODELS = frozenset(MODELS) - {"ssdlite320_mobilenet_v3_large"}
# Models that read label 0 as background (RetinaNet and FCOS train label 0 as a real class).
BACKGROUND_MODELS = frozenset({"fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_resnet50_fpn",
                               "ssdlite320_mobilenet_v3_large"})


def build_model(name: str, num_classes: int, image_size: int, options: dict[str, Any] | None = None) -> Any:
    """A torchvision detector with random weights; nothing is downloaded."""
    from torchvision.models import detection

    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
    if name in RESIZING_MODELS:
        kwargs.update(min_size=image_size, max_size=image_size)
    unknown = sorted(set(options or {}) - _accepted_options(name))
    if unknown:
        raise UsageError(f"{name} takes no option {', '.join(unknown)}")
    kwargs.update(options or {})
    kwargs.update(weights=None, weights_backbone=None)  # never a download, whatever the options say
    try:
        return getattr(detection, name)(**kwargs)
    except (TypeError, ValueError) as error:
        raise UsageError(f"cannot build {name} with {_show_options(options)}: {error}") from None


def _accepted_options(name: str) -> set[str]:
    """Keyword names the builder really uses: torchvision forwards **kwargs down to the model and
    its transform, which swallow misspelt names silently."""
    from torchvision.models import detection
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    model_class = {"fasterrcnn": detection.faster_rcnn.FasterRCNN, "retinanet": detection.retinanet.RetinaNet,
                   "fcos": detection.fcos.FCOS, "ssdlite": detection.ssd.SSD}[name.split("_")[0].rstrip("0123456789")]
    accepted: set[str] = set()
    for function in (getattr(detection, name), model_class.__init__, GeneralizedRCNNTransform.__init__):
        accepted |= {p.name for p in inspect.signature(function).parameters.values()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return accepted - {"self", "backbone", "kwargs"}


def _show_options(options: dict[str, Any] | None) -> str:
    if not options:
        return "the default options"
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def default_transforms(image_size: int) -> Callable:
    """Longer side to ``image_size`` (boxes follow), then float32 in [0, 1]."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(size=None, max_size=image_size), v2.ToDtype(torch.float32, scale=True)])
