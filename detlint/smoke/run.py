"""The smoke entry point: :func:`run_smoke` validates the arguments, runs ``detlint check`` (step 1),
builds the dataset and detector and hands them to the trainer.

Owns argument validation, the choice of split and step 1 (check errors stop smoke, as located
diagnoses). torch is imported when ``run_smoke`` runs, never at import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detlint import load
from detlint.checking import CheckRequest, check_dataset
from detlint.config import Config, image_root_for
from detlint.engine import at_or_above, run_rules
from detlint.errors import UsageError
from detlint.findings import Finding
from detlint.model import Dataset
from detlint.smoke import diagnose
from detlint.smoke.detector import (
    BACKGROUND_MODELS,
    DEFAULT_MODEL,
    MODELS,
    build_model,
    default_transforms,
)
from detlint.smoke.device import DEVICES, peak_memory, resolve_device
from detlint.smoke.report import SmokeReport
from detlint.smoke.train import Trainer


def run_smoke(dataset: Dataset | str | Path, *, split: str | None = None, device: str = "auto",
              steps: int = 2, batch_size: int = 2, model: str = DEFAULT_MODEL, image_size: int = 320,
              check: bool = True, find_batch_size: bool = False, max_batch_size: int = 64,
              num_workers: int = 0, transforms: Callable | None = None, label_offset: int = 1,
              model_options: dict[str, Any] | None = None, lr: float = 1e-3,
              input_format: str | None = None, progress: bool | None = None,
              image_root: Path | None = None) -> SmokeReport:
    """Check, inspect and train ``dataset`` for ``steps`` steps; never raises for data problems.

    ``transforms`` replaces the default (resize the longer side to ``image_size``, then float in
    [0, 1]) and is called as ``transforms(image, target)``; a broken one is diagnosed.
    ``model_options`` go to the torchvision builder (e.g. ``box_batch_size_per_image``).
    ``image_root``: where a COCO/VOC dataset's images are when not under it (``--image-root``).
    Raises :class:`UsageError` for bad arguments or an unreadable dataset path.
    """
    _validate_arguments(steps, batch_size, model, image_size, num_workers, max_batch_size, device)
    import torch  # noqa: F401 - fail early with the install hint (detlint.torch raises it)

    # lazy: detlint.torch imports torch at import
    from detlint import torch as adapter

    torch_device = resolve_device(device)
    name = str(dataset.root) if isinstance(dataset, Dataset) else str(dataset)
    report = SmokeReport(dataset=name, device=str(torch_device), model=model, batch_size=batch_size,
                         image_size=image_size)
    ds = _checked_dataset(dataset, check, input_format, report, image_root)
    if ds is None:
        return report
    chosen_split = _choose_split(ds, split)
    data = adapter.DetectionDataset(ds, split=chosen_split, transforms=transforms or default_transforms(image_size),
                                    label_offset=label_offset)
    report.split, report.images, report.num_classes = chosen_split, len(data), data.num_classes
    report.diagnoses.extend(_left_out(data))
    if len(data) == 0:
        report.diagnoses.append(diagnose.empty_split(chosen_split))
        return report
    detector = build_model(model, data.num_classes, image_size, model_options).to(torch_device)
    trainer = Trainer(detector, data, torch_device, lr, model in BACKGROUND_MODELS, progress)
    trainer.train(steps, batch_size, num_workers, report)
    if find_batch_size and trainer.usable:
        report.batch_size_search = trainer.find_batch_size(batch_size, max_batch_size)
    report.peak_memory_bytes, report.peak_memory_source = peak_memory(torch_device)
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


def _left_out(data: Any) -> list[diagnose.Diagnosis]:
    """A diagnosis for the boxes the adapter drops for an unknown class (none when there are none)."""
    rows = data.unknown_class_rows
    if not len(rows):
        return []
    ds, first = data.ds, int(rows[0])
    ann = ds.annotations
    line = int(ann.src_line[first])
    return [diagnose.unknown_classes_left_out(len(rows), len(np.unique(ann.src_file[rows])),
                                              ds.file_of(int(ann.src_file[first])), line if line > 0 else None,
                                              int(ann.class_id[first]), len(ds.categories))]


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
                     report: SmokeReport, image_root: Path | None = None) -> Dataset | None:
    """The dataset to train on, or None when ``detlint check`` found errors (as diagnoses)."""
    ds, findings = _load_and_check(dataset, check, input_format, image_root)
    report.checked = check
    if check:
        report.check_summary = {s: len([f for f in findings if f.severity == s])
                                for s in ("error", "warning", "info")}
    errors = at_or_above(findings, "error")
    report.diagnoses.extend(diagnose.check_error(finding) for finding in errors)
    raises = _torchvision_raises(ds, findings) if check else []
    report.diagnoses.extend(raises)
    return None if errors or raises else ds


def _torchvision_raises(ds: Dataset, findings: list[Finding]) -> list[diagnose.Diagnosis]:
    """The pre-check: what ``check --target torchvision`` says the model or loader raises on."""
    from detlint.targets import torchvision
    from detlint.targets.base import TargetContext

    outcome = torchvision.assess(ds, TargetContext(root=Path(ds.root), images_level="header", findings=findings))
    ann, images = ds.annotations, ds.images
    out = []
    for raised in outcome.raises:
        row, image = raised.annotation_row, raised.image_row
        if row is not None:
            file, line = ds.file_of(int(ann.src_file[row])), int(ann.src_line[row]) or None
        else:
            file, line = str(images.path[image] or images.file_name[image]) if image is not None else None, None
        out.append(diagnose.target_raises(raised, file, line))
    return out


def _load_and_check(dataset: Dataset | str | Path, check: bool, input_format: str | None,
                    image_root: Path | None = None) -> tuple[Dataset, list[Finding]]:
    """The loaded dataset and its ``detlint check`` findings (image headers; none without ``check``)."""
    if isinstance(dataset, Dataset):
        return dataset, (run_rules(dataset, Config(images="header")) if check else [])
    if check:
        request = CheckRequest(paths=[Path(dataset)], images="header", input_format=input_format,
                               image_root=image_root)
        result = check_dataset(Path(dataset), request)
        ds, findings = result.ds, result.findings
        return ds, findings
    return load(dataset, format=input_format, image_root=image_root_for(Path(dataset), image_root)), []
