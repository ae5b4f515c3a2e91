"""Rendering a :class:`~detlint.smoke.report.SmokeReport`: the JSON document and the human text report.

Owns every line of the text output (what ran, the steps, the summary, one block per diagnosis,
the verdict); the JSON document's keys are :meth:`SmokeReport.to_dict`'s.
"""

from __future__ import annotations

import math
from typing import Any

from detlint.safetext import counted, escape_text, json_text
from detlint.smoke.diagnose import Diagnosis
from detlint.smoke.report import SmokeReport, Step


def render_json(report: SmokeReport) -> str:
    return json_text(report.to_dict()) + "\n"


def render_text(report: SmokeReport) -> str:
    """A human report: what ran, the steps, then one block per diagnosis, then the verdict."""
    lines = [f"detlint smoke: {report.dataset}"]
    if report.checked:
        counts = report.check_summary
        lines.append(f"  check: {counted(counts.get('error', 0), 'error')}, "
                     f"{counted(counts.get('warning', 0), 'warning')}, {counts.get('info', 0)} info")
    if report.images:
        split = f"split {report.split!r}" if report.split is not None else "all images"
        lines.append(f"  data: {split}, {counted(report.images, 'image')}, "
                     f"{counted(report.num_classes, 'model class')} (incl. background)")
        lines.append(f"  model: {report.model} (random weights) on {report.device}, batch {report.batch_size}, "
                     f"image size {report.image_size}")
    lines += _inspection_lines(report.inspected)
    lines += [_step_line(s, len(report.steps)) for s in report.steps]
    lines += _summary_lines(report)
    for diagnosis in report.diagnoses:
        lines += _diagnosis_lines(report, diagnosis)
    lines.append("")
    lines.append(_verdict(report))
    # Each line escaped: the dataset path, split, file and messages are user data (see safetext).
    return "\n".join(map(escape_text, lines)) + "\n"


def _inspection_lines(inspected: dict[str, Any]) -> list[str]:
    if not inspected.get("samples"):
        return []
    low, high = inspected.get("min_value"), inspected.get("max_value")
    values = f" in [{low:.3g}, {high:.3g}]" if low is not None and high is not None else ""
    return [(f"  inspected {counted(inspected['samples'], 'sample')}: {'/'.join(inspected['dtypes'])}{values}, "
             f"channels {'/'.join(str(c) for c in inspected['channels'])}, {counted(inspected['boxes'], 'box')}, "
             f"{counted(inspected['empty_targets'], 'empty target')}")]


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
        return f"OK: {counted(len(report.steps), 'training step')} ran with finite losses."
    if report.checked and not report.steps and not report.images and errors and not errors[0].code.startswith("T"):
        return (f"FAILED: detlint check found {counted(len(errors), 'error')}; smoke stopped before training "
                "(fix them, or pass --no-check to train anyway).")
    verb = "breaks or corrupts" if len(errors) == 1 else "break or corrupt"
    return f"FAILED: {counted(len(errors), 'problem')} that {verb} training."
