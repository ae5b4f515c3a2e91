"""Diagnoses: each problem smoke can find, turned into a message with its sample, file and fix.

Owns the :class:`Diagnosis` record, the T-code names, the :class:`Diagnoses` collector (one
entry per code, repeats only raise the count) and one constructor per problem, so the wording of
every message and fix lives here and the inspection and training code only detects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detlint.findings import Finding
from detlint.safetext import counted

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
# Sample problems that make the model raise later; a failed step points back at them.
SAMPLE_CODES = ("T001", "T003", "T006", "T007", "T010", "T018", "T021")


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
        return NAMES.get(self.code) or self.code.lower()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "severity": self.severity, "message": self.message,
                "sample": self.sample, "file": self.file, "line": self.line, "fix": self.fix,
                "count": self.count}


class Diagnoses:
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


def last_line(error: BaseException) -> str:
    """The informative line of an error (a DataLoader worker error carries a whole traceback)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


# ----------------------------------------------------------------------------------------------
# step 1 and the dataset


def check_error(finding: Finding) -> Diagnosis:
    """A ``detlint check`` error that stops smoke before training, under its rule code."""
    fix = finding.fix.description if finding.fix else f"see: detlint rule {finding.code}"
    return Diagnosis(finding.code, finding.message, file=finding.file or finding.image, line=finding.line, fix=fix)


def target_raises(raised: Any, file: str | None, line: int | None) -> Diagnosis:
    """What the torchvision target (:mod:`detlint.targets.torchvision`) says will raise: T006 for a
    box the model rejects, T015 for a sample that cannot load. The same rule as ``check --target
    torchvision``, so the two never disagree."""
    if raised.annotation_row is not None:
        return Diagnosis("T006", f"torchvision raises at batch time: {raised.message}", file=file, line=line,
                         fix="drop or fix the box (detlint check --fix drops zero-size boxes: B001)")
    return Diagnosis("T015", raised.message, file=file, line=line, fix="restore the image or drop its entry (I001)")


def unknown_classes_left_out(boxes: int, files: int, file: str | None, line: int | None, class_id: int,
                             num_categories: int) -> Diagnosis:
    """T007 before training: boxes whose class is not in the class list, which the adapter leaves
    out (``detlint check`` would have stopped on them as C001; ``--no-check`` trains without them)."""
    where = f"{file}:{line}" if file and line else file or "the annotations"
    verb = "has" if boxes == 1 else "have"
    return Diagnosis("T007", f"{counted(boxes, 'box')} in {counted(files, 'file')} {verb} a class outside the "
                             f"{counted(num_categories, 'declared class', 'declared classes')} and "
                             f"{'was' if boxes == 1 else 'were'} left out of training (first: class {class_id} "
                             f"at {where})", severity="warning", file=file,
                     line=line, count=boxes,
                     fix="add the class to the class list or correct the label (detlint check: C001)")


def empty_split(split: str | None) -> Diagnosis:
    where = f"split {split!r}" if split is not None else "the dataset"
    return Diagnosis("T019", f"{where} has no images to train on", fix="point smoke at a split with images (--split)")


# ----------------------------------------------------------------------------------------------
# step 3: one transformed sample


def malformed_sample(index: int, file: str | None, error: ValueError) -> Diagnosis:
    return Diagnosis("T010", str(error), sample=index, file=file,
                     fix="return (image, {'boxes': (N, 4) tensor, 'labels': (N,) int64 tensor}) from "
                         "__getitem__ and use collate_fn=detlint.torch.collate")


def bad_target_dtype(index: int, file: str | None, boxes_dtype: Any, labels_dtype: Any) -> Diagnosis:
    return Diagnosis("T021", f"boxes are {boxes_dtype} and labels {labels_dtype}; detectors need floating "
                             "boxes and int64 labels", sample=index, file=file,
                     fix="torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.int64)")


def wrong_channel_count(index: int, file: str | None, shape: tuple[int, ...]) -> Diagnosis:
    channels = shape[0]
    hint = " (the tensor looks HWC: permute(2, 0, 1))" if shape[-1] == 3 else ""
    kind = {1: "grayscale", 4: "RGBA"}.get(channels, f"{channels}-channel")
    return Diagnosis("T003", f"image is {kind}: shape {shape}; detectors expect 3 channels "
                             f"(torchvision's normalisation silently broadcasts 1 channel to 3, other "
                             f"counts fail){hint}", sample=index, file=file,
                     fix="convert to RGB when decoding (PIL .convert('RGB')) or drop the channel-changing transform")


def non_finite_pixels(index: int, file: str | None) -> Diagnosis:
    return Diagnosis("T017", "image has NaN or infinite pixel values", sample=index, file=file,
                     fix="check the transforms for a division by zero (e.g. Normalize with std 0)")


def integer_images(index: int, file: str | None, dtype: Any, low: float, high: float) -> Diagnosis:
    return Diagnosis("T001", f"image is {dtype} (values {low:g}..{high:g}); torchvision detectors "
                             "expect float images in [0, 1] and fail or train on garbage otherwise",
                     sample=index, file=file, fix=SCALE_FIX)


def unscaled_float_images(index: int, file: str | None, high: float) -> Diagnosis:
    return Diagnosis("T002", f"float image values reach {high:g}: pixels are in 0-255, not [0, 1] "
                             "(missing normalisation), so the model's own normalisation is off by 255x",
                     sample=index, file=file, fix=SCALE_FIX.replace("add", "use").replace(" to the", " in the"))


def already_normalized(index: int, file: str | None, low: float) -> Diagnosis:
    return Diagnosis("T016", f"image values go down to {low:g}: the images look normalised already, but "
                             "torchvision detectors normalise inside the model (image_mean/image_std)",
                     severity="warning", sample=index, file=file,
                     fix="drop v2.Normalize from the transforms; give the model [0, 1] floats")


def wrong_box_format(index: int, file: str | None, format_name: str) -> Diagnosis:
    return Diagnosis("T018", f"boxes are {format_name}; torchvision detectors take XYXY",
                     sample=index, file=file, fix="add v2.ConvertBoundingBoxFormat('XYXY') to the transforms")


def boxes_not_transformed(index: int, file: str | None, canvas: tuple[int, ...], width: int,
                          height: int) -> Diagnosis:
    return Diagnosis("T005", f"the boxes belong to a {canvas[1]}x{canvas[0]} image but the transformed "
                             f"image is {width}x{height}: the transform changed the image and not the "
                             "boxes", sample=index, file=file, fix=TRANSFORM_FIX)


def degenerate_boxes(index: int, file: str | None, count: int, first: Iterable[float]) -> Diagnosis:
    return Diagnosis("T006", f"{counted(count, 'box')} with non-positive width/height or non-finite "
                             f"coordinates after the transforms, e.g. {box_text(first)}; the "
                             "detector rejects them", sample=index, file=file,
                     fix="add v2.SanitizeBoundingBoxes() after geometric transforms, or fix the annotation "
                         "(detlint check: B001, B004)")


def box_outside_image(index: int, file: str | None, first: Iterable[float], width: int, height: int,
                      outside: int, total: int) -> Diagnosis:
    return Diagnosis("T004", f"box {box_text(first)} extends past the transformed {width}x{height} "
                             f"image ({outside} of {counted(total, 'box')})", sample=index, file=file,
                     fix=TRANSFORM_FIX + "; or clip the annotation (detlint check: B002)")


def box_text(box: Iterable[float]) -> str:
    return "[" + ", ".join(f"{float(v):.1f}" for v in box) + "]"


def label_out_of_range(index: int, file: str | None, label: int, num_classes: int) -> Diagnosis:
    return Diagnosis("T007", f"label {label} is outside the model's classes 0..{num_classes - 1} "
                             f"(num_classes = {num_classes}); on CUDA this is a device-side assert (the sample "
                             "is left out of the steps)",
                     sample=index, file=file,
                     fix="make labels category index + label_offset, and num_classes = categories + offset")


def background_label(index: int, file: str | None) -> Diagnosis:
    return Diagnosis("T008", "label 0 is the background class of torchvision detectors: these boxes train "
                             "as background", sample=index, file=file,
                     fix="shift labels by 1 (DetectionDataset(label_offset=1)) and build the model with "
                         "num_classes = categories + 1")


def empty_targets(empty: int, samples: int) -> Diagnosis:
    """T009: a warning when every inspected sample is empty, else an info note on the negatives."""
    if empty == samples:
        return Diagnosis("T009", f"all {samples} inspected samples have no boxes: the "
                                 "steps train on background only", severity="warning",
                         fix="check the split and that the labels were found (detlint check: I005)")
    return Diagnosis("T009", f"{empty} of {samples} inspected samples have no "
                             "boxes (negatives; torchvision detectors accept them, some "
                             "other trainers do not)", severity="info")


# ----------------------------------------------------------------------------------------------
# steps 4 and 5: loading and training


def sample_loading_failed(index: int, file: str | None, error: str) -> Diagnosis:
    return Diagnosis("T015", f"loading failed: {error}", sample=index, file=file,
                     fix="fix the image file or the dataset's __getitem__ / transforms (see the message)")


def loader_failed(error: BaseException) -> Diagnosis:
    return Diagnosis("T015", f"the DataLoader failed: {last_line(error)}",
                     fix="run with --num-workers 0 to see which sample fails")


def no_step_ran() -> Diagnosis:
    return Diagnosis("T013", "no training step ran: every sample was left out", fix="see the other diagnoses")


def out_of_memory(step: int, batch_size: int) -> Diagnosis:
    return Diagnosis("T014", f"step {step} ran out of memory with batch size {batch_size}",
                     fix="lower --batch-size or --image-size (--find-batch-size finds the largest batch that fits)")


def step_failed(step: int, error: BaseException, earlier_codes: set[str]) -> Diagnosis:
    return Diagnosis("T013", f"step {step}: {type(error).__name__}: {last_line(error)}",
                     fix=_fix_for_failure(error, earlier_codes))


def _fix_for_failure(error: BaseException, earlier_codes: set[str]) -> str:
    if "Expected more than 1 value per channel" in str(error):
        return ("a batch of one image reached BatchNorm layers in training mode: use a batch size of 2 "
                "or more and DataLoader(drop_last=True)")
    earlier = [c for c in SAMPLE_CODES if c in earlier_codes]
    if earlier:
        return f"fix the sample problems reported above ({', '.join(earlier)}) first"
    return "see the message; rerun with --num-workers 0 and --batch-size 1 to isolate the sample"


def non_finite_loss(step: int, terms: dict[str, float], bad: list[str]) -> Diagnosis:
    return Diagnosis("T011", f"step {step}: loss term(s) {', '.join(bad)} are not finite "
                             f"({', '.join(f'{k}={terms[k]}' for k in bad)})",
                     fix="look for degenerate boxes, 0-255 images or a too high learning rate")


def non_finite_gradient(step: int, grad_norm: float) -> Diagnosis:
    return Diagnosis("T012", f"step {step}: the gradient norm is {grad_norm}",
                     fix="look for degenerate boxes or 0-255 images; lower the learning rate")


def loss_diverging(first: float, last: float, steps: int) -> Diagnosis:
    return Diagnosis("T020", f"the loss grew from {first:.4g} to {last:.4g} in {counted(steps, 'step')}",
                     severity="warning",
                     fix="lower the learning rate; check the image value range")
