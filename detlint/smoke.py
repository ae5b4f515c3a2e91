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
T007   label-out-of-range           a label >= num_classes or < 0
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
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detlint.errors import UsageError
from detlint.model import Dataset

MODELS = (
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_resnet50_fpn",
    "retinanet_resnet50_fpn",
    "fcos_resnet50_fpn",
    "ssdlite320_mobilenet_v3_large",
)
DEFAULT_MODEL = MODELS[0]
DEVICES = ("auto", "cpu", "cuda")
BOX_TOLERANCE_PX = 0.5  # the same tolerance as B002
DIVERGENCE_FACTOR = 10.0
# Models whose internal transform resizes to min_size/max_size: pinned to --image-size so the
# model sees the images at the size the dataset produced (ssdlite is fixed at 320x320).
RESIZING_MODELS = frozenset(MODELS) - {"ssdlite320_mobilenet_v3_large"}
# Models that read label 0 as background (RetinaNet and FCOS train label 0 as a real class).
BACKGROUND_MODELS = frozenset({"fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_resnet50_fpn",
                               "ssdlite320_mobilenet_v3_large"})

NAMES = {
    "T001": "integer-images", "T002": "unscaled-float-images", "T003": "wrong-channel-count",
    "T004": "box-outside-image", "T005": "boxes-not-transformed", "T006": "degenerate-box",
    "T007": "label-out-of-range", "T008": "background-label", "T009": "empty-targets",
    "T010": "malformed-sample", "T011": "non-finite-loss", "T012": "non-finite-gradient",
    "T013": "training-step-failed", "T014": "out-of-memory", "T015": "sample-loading-failed",
    "T016": "already-normalized-images", "T017": "non-finite-image-values", "T018": "wrong-box-format",
    "T019": "empty-split", "T020": "loss-diverging", "T021": "bad-target-dtype",
}

TRANSFORM_FIX = ("transform the image and the target together: call transforms(image, target) with "
                 "torchvision.transforms.v2 and keep target['boxes'] a tv_tensors.BoundingBoxes")
SCALE_FIX = "add v2.ToDtype(torch.float32, scale=True) to the transforms (or DetectionDataset(dtype='float'))"


@dataclass
class Diagnosis:
    """One problem: what, where (sample index in the dataset, file, line), how to fix it."""

    code: str
    message: str
    severity: str = "error"
    sample: int | None = None
    file: str | None = None
    line: int | None = None
    fix: str | None = None
    count: int = 1  # samples (or steps) with this problem; the message describes the first

    @property
    def name(self) -> str:
        from detlint.findings import Finding

        return NAMES.get(self.code) or Finding(self.code, "").name

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "severity": self.severity, "message": self.message,
                "sample": self.sample, "file": self.file, "line": self.line, "fix": self.fix,
                "count": self.count}


@dataclass
class Step:
    step: int
    loss: float | None
    loss_terms: dict[str, float | None]
    grad_norm: float | None
    time_s: float
    data_time_s: float
    batch_size: int


@dataclass
class SmokeReport:
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


class _Diagnoses:
    """Collects diagnoses, one per (code, detail key): repeats only raise the count."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Diagnosis] = {}

    def add(self, diagnosis: Diagnosis, key: str = "") -> None:
        existing = self.items.get((diagnosis.code, key))
        if existing is None:
            self.items[(diagnosis.code, key)] = diagnosis
        else:
            existing.count += diagnosis.count

    def codes(self) -> set[str]:
        return {code for code, _ in self.items}

    def as_list(self) -> list[Diagnosis]:
        return list(self.items.values())


# ----------------------------------------------------------------------------------------------
# entry point


def run_smoke(dataset: Dataset | str | Path, *, split: str | None = None, device: str = "auto",
              steps: int = 2, batch_size: int = 2, model: str = DEFAULT_MODEL, image_size: int = 320,
              check: bool = True, find_batch_size: bool = False, max_batch_size: int = 64,
              num_workers: int = 0, transforms: Callable | None = None, label_offset: int = 1,
              model_options: dict[str, Any] | None = None, lr: float = 1e-3,
              input_format: str | None = None, progress: bool | None = None) -> SmokeReport:
    """Check, inspect and train ``dataset`` for ``steps`` steps; never raises for data problems.

    ``transforms`` replaces the default (resize the longer side to ``image_size``, then float in
    [0, 1]) and is called as ``transforms(image, target)``; a broken one is diagnosed.
    ``model_options`` go to the torchvision builder (e.g. ``box_batch_size_per_image``).
    Raises :class:`UsageError` for bad arguments or an unreadable dataset path.
    """
    _validate_arguments(steps, batch_size, model, image_size, num_workers, max_batch_size, device)
    import torch  # noqa: F401 - fail early with the install hint (detlint.torch raises it)

    from detlint import torch as adapter

    torch_device = _resolve_device(device)
    name = str(dataset.root) if isinstance(dataset, Dataset) else str(dataset)
    report = SmokeReport(dataset=name, device=str(torch_device), model=model, batch_size=batch_size,
                         image_size=image_size)
    ds = _checked_dataset(dataset, check, input_format, report)
    if ds is None:
        return report
    chosen_split = _choose_split(ds, split)
    data = adapter.DetectionDataset(ds, split=chosen_split, transforms=transforms or default_transforms(image_size),
                                    label_offset=label_offset)
    report.split, report.images, report.num_classes = chosen_split, len(data), data.num_classes
    if len(data) == 0:
        where = f"split {chosen_split!r}" if chosen_split is not None else "the dataset"
        report.diagnoses.append(Diagnosis("T019", f"{where} has no images to train on",
                                          fix="point smoke at a split with images (--split)"))
        return report
    detector = build_model(model, data.num_classes, image_size, model_options).to(torch_device)
    trainer = _Trainer(detector, data, torch_device, lr, model in BACKGROUND_MODELS, progress)
    trainer.train(steps, batch_size, num_workers, report)
    if find_batch_size and trainer.usable:
        report.batch_size_search = trainer.find_batch_size(batch_size, max_batch_size)
    report.peak_memory_bytes, report.peak_memory_source = _peak_memory(torch_device)
    report.diagnoses = trainer.diagnoses.as_list() + report.diagnoses
    return report


def _validate_arguments(steps: int, batch_size: int, model: str, image_size: int, num_workers: int,
                        max_batch_size: int, device: str) -> None:
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if max_batch_size < 1:
        raise UsageError("--max-batch-size must be at least 1")
    if image_size < 32:
        raise UsageError("--image-size must be at least 32")
    if num_workers < 0:
        raise UsageError("--num-workers must be 0 or more")
    if model not in MODELS:
        raise UsageError(f"unknown model {model!r} (choose from {', '.join(MODELS)})")
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")


def _resolve_device(device: str) -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to PyTorch (use --device cpu or auto)")
    return torch.device(device)


def default_transforms(image_size: int) -> Callable:
    """Longer side to ``image_size`` (boxes follow), then float32 in [0, 1]."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize(size=None, max_size=image_size), v2.ToDtype(torch.float32, scale=True)])


def _choose_split(ds: Dataset, split: str | None) -> str | None:
    splits = ds.splits
    if split is not None:
        if split not in splits:
            known = ", ".join(repr(s) for s in splits if s) or "none"
            raise UsageError(f"--split {split}: no such split in {ds.root} (splits: {known})")
        return split
    if "train" in splits:
        return "train"
    return None


# ----------------------------------------------------------------------------------------------
# step 1: detlint check


def _checked_dataset(dataset: Dataset | str | Path, check: bool, input_format: str | None,
                     report: SmokeReport) -> Dataset | None:
    """The dataset to train on, or None when ``detlint check`` found errors (as diagnoses)."""
    from detlint.engine import at_or_above

    if isinstance(dataset, Dataset):
        ds = dataset
        findings = _check_loaded(ds) if check else []
    elif check:
        from detlint.checking import CheckRequest, check_dataset

        result = check_dataset(Path(dataset), CheckRequest(paths=[Path(dataset)], images="header",
                                                           input_format=input_format))
        ds, findings = result.ds, result.findings
    else:
        from detlint import load

        ds, findings = load(dataset, format=input_format), []
    report.checked = check
    if check:
        report.check_summary = {s: len([f for f in findings if f.severity == s])
                                for s in ("error", "warning", "info")}
    errors = at_or_above(findings, "error")
    for finding in errors:
        fix = finding.fix.description if finding.fix else f"see: detlint rule {finding.code}"
        report.diagnoses.append(Diagnosis(finding.code, finding.message, file=finding.file or finding.image,
                                          line=finding.line, fix=fix))
    return None if errors else ds


def _check_loaded(ds: Dataset) -> list:
    from detlint.config import Config
    from detlint.engine import run_rules

    return run_rules(ds, Config(images="header"))


# ----------------------------------------------------------------------------------------------
# step 2: the model


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
    import inspect

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


# ----------------------------------------------------------------------------------------------
# step 3: sample inspection


@dataclass
class _Failure:
    """A sample whose loading raised; travels through the DataLoader instead of the exception."""

    index: int
    file: str | None
    error: str


class _Located:
    """Wraps a dataset so a failing sample names itself (works inside DataLoader workers)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        try:
            return index, self.dataset[index]
        except Exception as error:  # any failure of user code or I/O becomes a diagnosis
            file = self.dataset.file_of(index) if hasattr(self.dataset, "file_of") else None
            return index, _Failure(index, file, f"{type(error).__name__}: {error}")


class _Cycle:
    """Sample indices 0..n-1, over and over (an endless sequential sampler)."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self) -> Iterator[int]:
        while True:
            yield from range(self.n)


def _keep_samples(batch: list) -> list:
    return batch


@dataclass
class _Inspection:
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
                   totals: _Inspection, out: _Diagnoses) -> bool:
    """Diagnose one transformed sample; False when it cannot be given to the model at all."""
    import torch

    from detlint.torch import validate_sample

    file = _file_of(sample)
    try:
        validate_sample(index, sample)
    except ValueError as error:
        out.add(Diagnosis("T010", str(error), sample=index, file=file,
                          fix="return (image, {'boxes': (N, 4) tensor, 'labels': (N,) int64 tensor}) from "
                              "__getitem__ and use collate_fn=detlint.torch.collate"))
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
        out.add(Diagnosis("T021", f"boxes are {boxes.dtype} and labels {labels.dtype}; detectors need floating "
                                  "boxes and int64 labels", sample=index, file=file,
                          fix="torch.as_tensor(boxes, dtype=torch.float32), "
                              "torch.as_tensor(labels, dtype=torch.int64)"))
    _inspect_boxes(index, file, image, boxes, out)
    # An out-of-range label is a device-side assert on CUDA, which poisons every later step.
    return _inspect_labels(index, file, labels, num_classes, background, out)


def _file_of(sample: Any) -> str | None:
    if isinstance(sample, (tuple, list)) and len(sample) == 2 and isinstance(sample[1], Mapping):
        file = sample[1].get("file")
        return file if isinstance(file, str) else None
    return None


def _inspect_image(index: int, file: str | None, image: Any, totals: _Inspection, out: _Diagnoses) -> None:
    import torch

    totals.dtypes.add(str(image.dtype).replace("torch.", ""))
    channels = int(image.shape[0])
    totals.channels.add(channels)
    if channels != 3:
        hint = " (the tensor looks HWC: permute(2, 0, 1))" if image.shape[-1] == 3 else ""
        kind = {1: "grayscale", 4: "RGBA"}.get(channels, f"{channels}-channel")
        out.add(Diagnosis("T003", f"image is {kind}: shape {tuple(image.shape)}; detectors expect 3 channels "
                                  f"(torchvision's normalisation silently broadcasts 1 channel to 3, other "
                                  f"counts fail){hint}", sample=index, file=file,
                          fix="convert to RGB when decoding (PIL .convert('RGB')) or drop the channel-changing "
                              "transform"))
    if image.numel() == 0:
        return
    values = image.detach().float()
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        out.add(Diagnosis("T017", "image has NaN or infinite pixel values", sample=index, file=file,
                          fix="check the transforms for a division by zero (e.g. Normalize with std 0)"))
        values = values[finite]
        if values.numel() == 0:
            return
    low, high = float(values.min()), float(values.max())
    totals.low, totals.high = min(totals.low, low), max(totals.high, high)
    if not torch.is_floating_point(image):
        out.add(Diagnosis("T001", f"image is {image.dtype} (values {low:g}..{high:g}); torchvision detectors "
                                  "expect float images in [0, 1] and fail or train on garbage otherwise",
                          sample=index, file=file, fix=SCALE_FIX))
    elif high > 1.0 + 1e-3:
        out.add(Diagnosis("T002", f"float image values reach {high:g}: pixels are in 0-255, not [0, 1] "
                                  "(missing normalisation), so the model's own normalisation is off by 255x",
                          sample=index, file=file, fix=SCALE_FIX.replace("add", "use").replace(" to the", " in the")))
    elif low < -1e-3:
        out.add(Diagnosis("T016", f"image values go down to {low:g}: the images look normalised already, but "
                                  "torchvision detectors normalise inside the model (image_mean/image_std)",
                          severity="warning", sample=index, file=file,
                          fix="drop v2.Normalize from the transforms; give the model [0, 1] floats"))


def _inspect_boxes(index: int, file: str | None, image: Any, boxes: Any, out: _Diagnoses) -> None:
    import torch
    from torchvision import tv_tensors

    height, width = int(image.shape[-2]), int(image.shape[-1])
    if isinstance(boxes, tv_tensors.BoundingBoxes):
        if boxes.format != tv_tensors.BoundingBoxFormat.XYXY:
            out.add(Diagnosis("T018", f"boxes are {boxes.format.name}; torchvision detectors take XYXY",
                              sample=index, file=file, fix="add v2.ConvertBoundingBoxFormat('XYXY') to the transforms"))
            return
        canvas = tuple(int(v) for v in boxes.canvas_size)
        if canvas != (height, width):
            out.add(Diagnosis("T005", f"the boxes belong to a {canvas[1]}x{canvas[0]} image but the transformed "
                                      f"image is {width}x{height}: the transform changed the image and not the "
                                      "boxes", sample=index, file=file, fix=TRANSFORM_FIX))
    values = boxes.detach().as_subclass(torch.Tensor).double()
    finite = torch.isfinite(values).all(dim=1)
    widths, heights = values[:, 2] - values[:, 0], values[:, 3] - values[:, 1]
    degenerate = ~finite | (widths <= 0) | (heights <= 0)
    if bool(degenerate.any()):
        first = int(torch.nonzero(degenerate)[0])
        out.add(Diagnosis("T006", f"{int(degenerate.sum())} box(es) with non-positive width/height or non-finite "
                                  f"coordinates after the transforms, e.g. {_box_text(values[first])}; the "
                                  "detector rejects them", sample=index, file=file,
                          fix="add v2.SanitizeBoundingBoxes() after geometric transforms, or fix the annotation "
                              "(detlint check: B001, B004)"))
    tol = BOX_TOLERANCE_PX
    outside = finite & ((values[:, 0] < -tol) | (values[:, 1] < -tol) | (values[:, 2] > width + tol)
                        | (values[:, 3] > height + tol))
    if bool(outside.any()):
        first = int(torch.nonzero(outside)[0])
        out.add(Diagnosis("T004", f"box {_box_text(values[first])} extends past the transformed {width}x{height} "
                                  f"image ({int(outside.sum())} of {len(values)} boxes)", sample=index, file=file,
                          fix=TRANSFORM_FIX + "; or clip the annotation (detlint check: B002)"))


def _box_text(box: Any) -> str:
    return "[" + ", ".join(f"{float(v):.1f}" for v in box) + "]"


def _inspect_labels(index: int, file: str | None, labels: Any, num_classes: int, background: bool,
                    out: _Diagnoses) -> bool:
    """Diagnose the labels; False when one is outside the model's classes."""
    values = labels.detach().long()
    beyond = (values >= num_classes) | (values < 0)
    if bool(beyond.any()):
        bad = int(values[beyond][0])
        out.add(Diagnosis("T007", f"label {bad} is outside the model's classes 0..{num_classes - 1} "
                                  f"(num_classes = {num_classes}); on CUDA this is a device-side assert (the sample "
                                  "is left out of the steps)",
                          sample=index, file=file,
                          fix="make labels category index + label_offset, and num_classes = categories + offset"))
    if background and bool((values == 0).any()):
        out.add(Diagnosis("T008", "label 0 is the background class of torchvision detectors: these boxes train "
                                  "as background", sample=index, file=file,
                          fix="shift labels by 1 (DetectionDataset(label_offset=1)) and build the model with "
                              "num_classes = categories + 1"))
    return not bool(beyond.any())


# ----------------------------------------------------------------------------------------------
# step 4 and 5: training


class _Trainer:
    def __init__(self, model: Any, dataset: Any, device: Any, lr: float, background: bool,
                 progress: bool | None):
        import torch

        self.model = model
        self.dataset = dataset
        self.device = device
        self.background = background
        self.num_classes = dataset.num_classes
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=lr, momentum=0.9, weight_decay=1e-4)
        self.diagnoses = _Diagnoses()
        self.totals = _Inspection()
        self.verdicts: dict[int, bool] = {}  # dataset index -> the sample can go to the model
        self.progress = _progress_default() if progress is None else progress
        self.usable = False  # at least one step ran without raising

    # batches ----------------------------------------------------------------------------------

    def _batches(self, batch_size: int, num_workers: int) -> Iterator[list]:
        from torch.utils.data import DataLoader

        # Cycle through the samples so every batch is full, as with drop_last in a real run: a
        # short last batch of 1 would fail in BatchNorm layers for a reason training never meets.
        loader = DataLoader(_Located(self.dataset), batch_size=batch_size, sampler=_Cycle(len(self.dataset)),
                            num_workers=num_workers, collate_fn=_keep_samples)
        yield from loader

    def _clean_batch(self, batch: list) -> tuple[list, list]:
        """Inspect a batch of (index, sample); keep the samples the model can take."""
        keep_images, keep_targets = [], []
        for index, sample in batch:
            if isinstance(sample, _Failure):
                self.diagnoses.add(Diagnosis("T015", f"loading failed: {sample.error}", sample=index,
                                             file=sample.file, fix="fix the image file or the dataset's "
                                             "__getitem__ / transforms (see the message)"))
                continue
            usable = self.verdicts.get(index)
            if usable is None:  # each sample is inspected once, however often the steps cycle
                usable = inspect_sample(index, sample, self.num_classes, self.background, self.totals,
                                        self.diagnoses)
                self.verdicts[index] = usable
            if usable:
                keep_images.append(sample[0])
                keep_targets.append(sample[1])
        return keep_images, keep_targets

    def _to_device(self, images: list, targets: list) -> tuple[list, list]:
        import torch

        moved_images = [img.as_subclass(torch.Tensor).to(self.device) for img in images]
        moved_targets = [{"boxes": t["boxes"].as_subclass(torch.Tensor).to(self.device),
                          "labels": t["labels"].as_subclass(torch.Tensor).to(self.device)} for t in targets]
        return moved_images, moved_targets

    # steps ------------------------------------------------------------------------------------

    def train(self, steps: int, batch_size: int, num_workers: int, report: SmokeReport) -> None:
        batches = self._batches(batch_size, num_workers)
        self.model.train()
        self._reset_peak()
        for step in _progress(range(1, steps + 1), steps, self.progress):
            started = time.perf_counter()
            try:
                batch = next(batches)
            except Exception as error:  # a worker crash or a failing sampler: nothing more to train on
                self.diagnoses.add(Diagnosis("T015", f"the DataLoader failed: {_last_line(error)}",
                                             fix="run with --num-workers 0 to see which sample fails"))
                break
            images, targets = self._clean_batch(batch)
            data_time = time.perf_counter() - started
            if not images:
                continue
            result = self._step(step, images, targets, data_time)
            if result is None:
                break
            report.steps.append(result)
        report.inspected = self.totals.to_dict()
        if not report.steps and not any(d.severity == "error" for d in self.diagnoses.as_list()):
            self.diagnoses.add(Diagnosis("T013", "no training step ran: every sample was left out",
                                         fix="see the other diagnoses"))
        self._empty_target_note()
        self._trend(report)
        report.throughput = _throughput(report.steps)

    def _step(self, step: int, images: list, targets: list, data_time: float) -> Step | None:
        images, targets = self._to_device(images, targets)
        started = time.perf_counter()
        try:
            self.optimizer.zero_grad(set_to_none=True)
            loss_terms = self.model(images, targets)
            total = sum(loss_terms.values())
            total.backward()
            grad_norm = _grad_norm(self.params)
            terms = {k: float(v.detach()) for k, v in loss_terms.items()}
            finite = all(math.isfinite(v) for v in terms.values()) and math.isfinite(grad_norm)
            if finite:  # a NaN update would poison every later step and hide what caused it
                self.optimizer.step()
            _synchronize(self.device)
        except Exception as error:
            self._step_failed(step, len(images), error)
            return None
        self.usable = True
        self._check_finite(step, terms, grad_norm)
        return Step(step=step, loss=float(total.detach()), loss_terms=terms, grad_norm=grad_norm,
                    time_s=time.perf_counter() - started, data_time_s=data_time, batch_size=len(images))

    def _step_failed(self, step: int, batch_size: int, error: BaseException) -> None:
        if _is_oom(error):
            self.diagnoses.add(Diagnosis("T014", f"step {step} ran out of memory with batch size {batch_size}",
                                         fix="lower --batch-size or --image-size (--find-batch-size finds the "
                                             "largest batch that fits)"))
            return
        self.diagnoses.add(Diagnosis("T013", f"step {step}: {type(error).__name__}: {_last_line(error)}",
                                     fix=self._fix_for_failure(error)))

    def _fix_for_failure(self, error: BaseException) -> str:
        if "Expected more than 1 value per channel" in str(error):
            return ("a batch of one image reached BatchNorm layers in training mode: use a batch size of 2 "
                    "or more and DataLoader(drop_last=True)")
        earlier = [c for c in ("T001", "T003", "T006", "T007", "T010", "T018", "T021") if c in self.diagnoses.codes()]
        if earlier:
            return f"fix the sample problems reported above ({', '.join(earlier)}) first"
        return "see the message; rerun with --num-workers 0 and --batch-size 1 to isolate the sample"

    def _check_finite(self, step: int, terms: dict[str, float], grad_norm: float) -> None:
        bad = [k for k, v in terms.items() if not math.isfinite(v)]
        if bad:
            self.diagnoses.add(Diagnosis("T011", f"step {step}: loss term(s) {', '.join(bad)} are not finite "
                                                 f"({', '.join(f'{k}={terms[k]}' for k in bad)})",
                                         fix="look for degenerate boxes, 0-255 images or a too high learning rate"),
                               key="")
        elif not math.isfinite(grad_norm):
            self.diagnoses.add(Diagnosis("T012", f"step {step}: the gradient norm is {grad_norm}",
                                         fix="look for degenerate boxes or 0-255 images; lower the learning rate"))

    def _empty_target_note(self) -> None:
        totals = self.totals
        if totals.empty == 0 or totals.samples == 0:
            return
        if totals.empty == totals.samples:
            self.diagnoses.add(Diagnosis("T009", f"all {totals.samples} inspected samples have no boxes: the "
                                                 "steps train on background only", severity="warning",
                                         fix="check the split and that the labels were found (detlint check: I005)"))
        else:
            self.diagnoses.add(Diagnosis("T009", f"{totals.empty} of {totals.samples} inspected samples have no "
                                                 "boxes (negatives; torchvision detectors accept them, some "
                                                 "other trainers do not)", severity="info"))

    def _trend(self, report: SmokeReport) -> None:
        losses = [s.loss for s in report.steps if s.loss is not None and math.isfinite(s.loss)]
        if len(losses) >= 2 and losses[0] > 0 and losses[-1] > DIVERGENCE_FACTOR * losses[0]:
            self.diagnoses.add(Diagnosis("T020", f"the loss grew from {losses[0]:.4g} to {losses[-1]:.4g} in "
                                                 f"{len(losses)} steps", severity="warning",
                                         fix="lower the learning rate; check the image value range"))

    def _reset_peak(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    # batch size search ------------------------------------------------------------------------

    def find_batch_size(self, start: int, cap: int) -> dict[str, Any]:
        """Double the batch from ``start`` until out of memory or past ``cap``."""
        pool = self._sample_pool(min(max(start, cap), len(self.dataset)))
        trials: list[dict[str, Any]] = []
        largest, reason, size = None, f"reached the cap {cap}", start
        while size <= max(cap, start):
            fits, error = self._trial(pool, size)
            trials.append({"batch_size": size, "fits": fits, "error": error})
            if not fits:
                reason = f"out of memory at batch size {size}" if error == "out of memory" else error
                break
            largest = size
            size *= 2
        self.optimizer.zero_grad(set_to_none=True)
        return {"largest": largest, "limit": reason, "cap": cap, "trials": trials}

    def _sample_pool(self, count: int) -> list[tuple[Any, Any]]:
        pool = []
        for index in range(count):
            try:
                sample = self.dataset[index]
            except Exception:  # already diagnosed during the steps when it matters
                continue
            if inspect_sample(index, sample, self.num_classes, self.background, _Inspection(), _Diagnoses()):
                pool.append(sample)
        return pool

    def _trial(self, pool: list, size: int) -> tuple[bool, str | None]:
        import torch

        if not pool:
            return False, "no usable samples"
        batch = [pool[i % len(pool)] for i in range(size)]
        images, targets = self._to_device([b[0] for b in batch], [b[1] for b in batch])
        try:
            self.optimizer.zero_grad(set_to_none=True)
            losses = self.model(images, targets)
            sum(losses.values()).backward()
            _synchronize(self.device)
            return True, None
        except Exception as error:
            if _is_oom(error):
                return False, "out of memory"
            return False, f"{type(error).__name__}: {_last_line(error)}"
        finally:
            del images, targets
            if self.device.type == "cuda":
                torch.cuda.empty_cache()


def _grad_norm(params: list) -> float:
    import torch

    norms = [p.grad.detach().norm(2) for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(norms), 2))


def _synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _is_oom(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _last_line(error: BaseException) -> str:
    """The informative line of an error (a DataLoader worker error carries a whole traceback)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _throughput(steps: list[Step]) -> dict[str, float | None]:
    """Images and steps per second, leaving the first (warm-up) step out when there are more."""
    timed = steps[1:] if len(steps) > 1 else steps
    seconds = sum(s.time_s + s.data_time_s for s in timed)
    if not timed or seconds <= 0:
        return {"images_per_s": None, "steps_per_s": None}
    return {"images_per_s": sum(s.batch_size for s in timed) / seconds, "steps_per_s": len(timed) / seconds}


def _peak_memory(device: Any) -> tuple[int, str]:
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024), "rss"


def _progress_default() -> bool:
    from detlint.fileio import progress_enabled

    return progress_enabled()


def _progress(steps: range, total: int, enabled: bool) -> Iterator[int]:
    if not enabled:
        yield from steps
        return
    from tqdm import tqdm

    yield from tqdm(steps, total=total, desc="smoke", unit="step", file=sys.stderr, leave=False)


# ----------------------------------------------------------------------------------------------
# rendering


def render_json(report: SmokeReport) -> str:
    import orjson

    return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"


def render_text(report: SmokeReport) -> str:
    """A human report: what ran, the steps, then one block per diagnosis, then the verdict."""
    lines = [f"detlint smoke: {report.dataset}"]
    if report.checked:
        counts = report.check_summary
        lines.append(f"  check: {counts.get('error', 0)} error(s), {counts.get('warning', 0)} warning(s), "
                     f"{counts.get('info', 0)} info")
    if report.images:
        split = f"split {report.split!r}" if report.split is not None else "all images"
        lines.append(f"  data: {split}, {report.images} image(s), {report.num_classes} model classes "
                     "(incl. background)")
        lines.append(f"  model: {report.model} (random weights) on {report.device}, batch {report.batch_size}, "
                     f"image size {report.image_size}")
    lines += _inspection_lines(report.inspected)
    lines += [_step_line(s, len(report.steps)) for s in report.steps]
    lines += _summary_lines(report)
    for diagnosis in report.diagnoses:
        lines += _diagnosis_lines(report, diagnosis)
    lines.append("")
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


def _inspection_lines(inspected: dict[str, Any]) -> list[str]:
    if not inspected.get("samples"):
        return []
    low, high = inspected.get("min_value"), inspected.get("max_value")
    values = f" in [{low:.3g}, {high:.3g}]" if low is not None and high is not None else ""
    return [f"  inspected {inspected['samples']} sample(s): {'/'.join(inspected['dtypes'])}{values}, "
            f"channels {'/'.join(str(c) for c in inspected['channels'])}, {inspected['boxes']} box(es), "
            f"{inspected['empty_targets']} empty target(s)"]


def _step_line(step: Step, total: int) -> str:
    terms = ", ".join(f"{k} {_number(v)}" for k, v in step.loss_terms.items())
    return (f"  step {step.step}/{total}: loss {_number(step.loss)} [{terms}] grad-norm {_number(step.grad_norm)} "
            f"{step.time_s:.3f} s (data {step.data_time_s:.3f} s)")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _summary_lines(report: SmokeReport) -> list[str]:
    lines = []
    losses = [s.loss for s in report.steps if s.loss is not None and math.isfinite(s.loss)]
    if len(losses) >= 2:
        trend = "falling" if losses[-1] < losses[0] else "rising" if losses[-1] > losses[0] else "flat"
        lines.append(f"  loss: {losses[0]:.4g} -> {losses[-1]:.4g} ({trend})")
    rate = report.throughput
    if rate.get("images_per_s"):
        note = " (first step left out as warm-up)" if len(report.steps) > 1 else ""
        lines.append(f"  throughput: {rate['images_per_s']:.2f} images/s, {rate['steps_per_s']:.2f} steps/s{note}")
    if report.peak_memory_bytes is not None:
        source = "CUDA allocator peak" if report.peak_memory_source == "cuda" else "process peak RSS"
        lines.append(f"  peak memory: {report.peak_memory_bytes / 2**20:.1f} MiB ({source})")
    search = report.batch_size_search
    if search is not None:
        largest = search["largest"] if search["largest"] is not None else "none"
        lines.append(f"  batch size: largest that fits {largest} ({search['limit']})")
    return lines


def _diagnosis_lines(report: SmokeReport, diagnosis: Diagnosis) -> list[str]:
    where = []
    if diagnosis.file:
        location = f"{report.dataset.rstrip('/')}/{diagnosis.file}"
        where.append(f"{location}:{diagnosis.line}" if diagnosis.line else location)
    if diagnosis.sample is not None:
        where.append(f"sample {diagnosis.sample}")
    more = f" ({diagnosis.count} times)" if diagnosis.count > 1 else ""
    head = f"{' '.join(where)}: " if where else ""
    lines = ["", f"{head}{diagnosis.code} {diagnosis.severity}: {diagnosis.message}{more}"]
    if diagnosis.fix:
        lines.append(f"  fix: {diagnosis.fix}")
    return lines


def _verdict(report: SmokeReport) -> str:
    errors = [d for d in report.diagnoses if d.severity == "error"]
    if report.ok:
        return f"OK: {len(report.steps)} training step(s) ran with finite losses."
    if report.checked and not report.steps and not report.images and errors and not errors[0].code.startswith("T"):
        return (f"FAILED: detlint check found {len(errors)} error(s); smoke stopped before training "
                "(fix them, or pass --no-check to train anyway).")
    return f"FAILED: {len(errors)} problem(s) that break or corrupt training."
