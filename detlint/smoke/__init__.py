"""``detlint smoke``: prove a dataset trains, with a few steps of a real torchvision detector.

``run_smoke(path)`` does, in order:

1. ``detlint check`` (image headers): errors stop it here, located (file, line), because they
   break or silently corrupt training (``check=False`` skips this).
2. Builds the detector with random weights (``weights=None, weights_backbone=None``: nothing is
   ever downloaded), ``num_classes = len(categories) + label_offset``.
3. Inspects every sample of the batches it trains on, *after* the transforms: dtype and value
   range, channels, boxes inside the transformed image, positive width/height, boxes moved with
   the image, labels inside the model's classes and never the background, empty targets.
4. Runs the optimizer steps (SGD): every loss term finite, gradient norm, loss trend, step time,
   throughput, peak memory (CUDA allocator peak, else the process's peak RSS).
5. Optionally doubles the batch size until out of memory (or a cap).

Every problem becomes a :class:`Diagnosis`: what, which sample and file, how to fix. Codes
(T = training; check findings keep their rule code):

=====  ===========================  ==================================================
T001   integer-images               uint8 images reach a model that expects float [0, 1]
T002   unscaled-float-images        float images in 0-255 (ToDtype without scale=True)
T003   wrong-channel-count          not 3 channels (grayscale, RGBA) or not CHW
T004   box-outside-image            a box extends past the transformed image
T005   boxes-not-transformed        the transform resized the image but not the boxes
T006   degenerate-box               width/height <= 0 or non-finite after the transform
T007   label-out-of-range           a label >= num_classes or < 0; as a warning, boxes of a class
                                    outside the class list left out of training (``--no-check``)
T008   background-label             a label equal to the background index 0
T009   empty-targets                samples without boxes (info; warning when all are)
T010   malformed-sample             not (image, dict), boxes not (N, 4), labels length
T011   non-finite-loss              a loss term is NaN or infinite
T012   non-finite-gradient          the gradient norm is NaN or infinite
T013   training-step-failed         the model raised during a step
T014   out-of-memory                a step ran out of memory
T015   sample-loading-failed        the dataset raised while loading a sample
T016   already-normalized-images    negative values: normalised twice (warning)
T017   non-finite-image-values      NaN or infinite pixels
T018   wrong-box-format             boxes not XYXY
T019   empty-split                  no images to train on
T020   loss-diverging               the loss grew more than 10x (warning)
T021   bad-target-dtype             boxes not floating point or labels not int64
=====  ===========================  ==================================================

The report is ``ok`` when no diagnosis has severity ``error``.

The package, by what each module owns:

- :mod:`~detlint.smoke.run`: :func:`run_smoke`, argument validation, step 1 (``detlint check``)
- :mod:`~detlint.smoke.detector`: the model names, :func:`build_model`, :func:`default_transforms`
- :mod:`~detlint.smoke.inspect`: step 3, :func:`inspect_sample` over the transformed samples
- :mod:`~detlint.smoke.loader`: the endless DataLoader whose failing samples name themselves
- :mod:`~detlint.smoke.train`: steps 4 and 5, the optimizer steps and the batch size search
- :mod:`~detlint.smoke.device`: the torch device (choice, transfers, out of memory, peak memory)
- :mod:`~detlint.smoke.diagnose`: :class:`Diagnosis`, the T-code names, every message and fix
- :mod:`~detlint.smoke.report`: :class:`SmokeReport` and :class:`Step`, the JSON document
- :mod:`~detlint.smoke.render`: :func:`render_text` and :func:`render_json`
- :mod:`~detlint.smoke.cli`: the ``detlint smoke`` command

Importing the package needs no torch: every module imports torch and torchvision inside the
functions that run once smoke starts.
"""

from __future__ import annotations

from detlint.smoke.detector import (
    BACKGROUND_MODELS,
    DEFAULT_MODEL,
    MODELS,
    RESIZING_MODELS,
    build_model,
    default_transforms,
)
from detlint.smoke.device import DEVICES
from detlint.smoke.diagnose import NAMES, SCALE_FIX, TRANSFORM_FIX, Diagnosis
from detlint.smoke.inspect import BOX_TOLERANCE_PX, inspect_sample
from detlint.smoke.render import render_json, render_text
from detlint.smoke.report import SmokeReport, Step
from detlint.smoke.train import DIVERGENCE_FACTOR

__all__ = [
    "BACKGROUND_MODELS", "BOX_TOLERANCE_PX", "DEFAULT_MODEL", "DEVICES", "DIVERGENCE_FACTOR", "MODELS", "NAMES",
    "RESIZING_MODELS", "SCALE_FIX", "TRANSFORM_FIX", "Diagnosis", "SmokeReport", "Step", "build_model",
    "default_transforms", "inspect_sample", "render_json", "render_text", "run_smoke",
]


def __getattr__(name: str) -> object:
    # run_smoke pulls in the check pipeline (checking, rules, formats): loaded when first used,
    # so that registering the ``smoke`` command costs ``detlint --help`` nothing
    if name == "run_smoke":
        from detlint.smoke.run import run_smoke

        return run_smoke
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
