"""``detlint check`` as a library call: load each dataset, run the rules, apply fixes and the
baseline, and report. The CLI only parses flags into a :class:`CheckRequest` and writes the
:class:`CheckResult` of :func:`check_all` to stdout or ``-o FILE``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import orjson

from detlint import formats
from detlint.boundary import Limits, read_file
from detlint.config import Config, check_target, load_config
from detlint.engine import at_or_above, run_rules
from detlint.errors import UsageError
from detlint.fileio import atomic_write_bytes, progress_enabled
from detlint.findings import BASELINE_VERSION, Finding, baseline_keys
from detlint.formats import ReadOptions, load
from detlint.headers import HeaderMemo
from detlint.model import Dataset, Predictions
from detlint.rules.context import RuleContext

if TYPE_CHECKING:
    from detlint.report import Report

log = logging.getLogger("detlint")


@dataclass
class CheckRequest:
    paths: list[Path]
    output_format: str | None = None
    fail_on: str | None = None
    images: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    input_format: str | None = None
    config_file: Path | None = None
    voc_origin: int | None = None
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    baseline: Path | None = None
    write_baseline: Path | None = None
    use_cache: bool = True
    image_root: Path | None = None  # --image-root: where COCO/VOC images are when not under the dataset
    datasets: list[dict] = field(default_factory=list)
    targets: list[str] | None = None  # --target: trainers to assess for (None: the config's)
    predictions: Path | None = None  # --predictions: detections to check against the (one) dataset
    predictions_format: str | None = None  # --predictions-format (None: sniffed)
    label_issues: int = 0  # --label-issues K: the K worst images by ObjectLab (0: off)


def dataset_config(path: Path, request: CheckRequest) -> Config:
    config = load_config(path, request.config_file)
    select = request.select if request.select is not None else config.select
    return config.merged(select=select, ignore=(config.ignore + (request.ignore or [])) or None,
                         fail_on=request.fail_on, images=request.images, voc_origin=request.voc_origin,
                         display_root=str(path), image_root=request.image_root, targets=request.targets or None)


@dataclass
class DatasetResult:
    """One dataset's check: what was read, what was found (after its own baseline), the config
    that governs it, and the ``--diff`` text of its fixes."""

    path: Path
    ds: Dataset
    findings: list[Finding]
    config: Config
    diff: str = ""
    fixed: int = 0  # findings its fixes resolved (--fix) or would resolve (--diff)
    fixed_files: int = 0  # source files they changed (or would change)
    targets: dict[str, dict] = field(default_factory=dict)  # --target: the report's targets object for it
    predictions: Predictions | None = None  # --predictions, as read against this dataset

    def failing(self, fail_on: str | None) -> bool:
        """Whether a finding is at or above ``fail_on`` (the command line's), else the dataset's own."""
        return bool(at_or_above(self.findings, fail_on or self.config.fail_on))


@dataclass
class _Run:
    """The per-run state of checking one dataset: the caches and the header records its reads
    share with its rules."""

    request: CheckRequest
    config: Config
    headers: HeaderMemo = field(default_factory=HeaderMemo)
    image_cache: Any = None
    predictions: Predictions | None = None  # --predictions, read once the dataset is

    def read_options(self, progress: bool) -> ReadOptions:
        from detlint.incremental import ParseCache

        return ReadOptions(voc_origin=self.config.voc_origin, classes=self.config.classes, progress=progress,
                           cache=ParseCache.open(enabled=self.request.use_cache), headers=self.headers,
                           limits=self.config.limits, image_root=self.config.image_root)

    def rule_context(self) -> RuleContext:
        return RuleContext(options=self.config.options, images=self.config.images, cache=self.image_cache,
                           headers=self.headers, predictions=self.predictions,
                           label_issues=self.request.label_issues if self.predictions is not None else 0)

    def read(self, path: Path) -> Dataset:
        ds = load(path, format=self.request.input_format, options=self.read_options(progress_enabled()))
        if self.request.predictions is not None:
            from detlint.formats import predictions

            self.predictions = predictions.load(self.request.predictions, ds, self.request.predictions_format)
        return ds

    def rules(self, ds: Dataset, focus: Any = None) -> list[Finding]:
        return run_rules(ds, self.config, focus=focus, ctx=self.rule_context())


def _image_cache(config: Config, request: CheckRequest) -> Any:
    if config.images == "none":
        return None
    from detlint.images import ImageCache

    return ImageCache.open(enabled=request.use_cache)


def _snapshot_key(config: Config, request: CheckRequest, path: Path) -> dict:
    return {"format": request.input_format, "voc_origin": config.voc_origin, "classes": config.classes,
            "cwd": None if path.is_absolute() else os.getcwd()}


def _recheck(path: Path, run: _Run, passed: set[str] | None) -> tuple[Dataset, list[Finding]] | None:
    """Findings for a re-check of a few passed files from the dataset's snapshot (see
    :mod:`detlint.incremental.snapshot`); None when it needs a full read."""
    request = run.request
    if not passed or not request.use_cache or request.fix or request.diff or run.config.image_root \
            or request.predictions is not None:
        return None  # (a snapshot records no image root nor predictions: a re-check with one reads everything)
    from detlint.incremental import snapshot

    found = snapshot.patched(path, _snapshot_key(run.config, request, path), passed, run.read_options(False),
                                formats.get)
    if found is None:
        return None
    ds, touched = found
    return ds, run.rules(ds, focus=touched)


def check_dataset(path: Path, request: CheckRequest, passed: set[str] | None = None) -> DatasetResult:
    """Load and check one dataset; ``passed``: the files a re-check is about (pre-commit); then
    what each ``--target`` trainer does with it (none asked: nothing runs)."""
    result = _checked(path, request, passed)
    if result.config.targets and not request.diff:
        from detlint.targets.consequences import assess

        result.findings, result.targets = assess(result.ds, result.findings, result.config.targets,
                                                 images=result.config.images, options=result.config.options,
                                                 dataset=str(result.config.display_root or path))
        result.findings.sort(key=Finding.sort_key)
    return result


def _checked(path: Path, request: CheckRequest, passed: set[str] | None) -> DatasetResult:
    config = dataset_config(path, request)
    run = _Run(request, config, image_cache=_image_cache(config, request))
    fast = _recheck(path, run, passed)
    if fast is not None:
        return DatasetResult(path, fast[0], fast[1], config)
    started = time.time_ns()
    ds = run.read(path)
    if passed and request.use_cache and config.image_root is None:
        from detlint.incremental import snapshot

        snapshot.save(ds, formats.format_of(ds), path, _snapshot_key(config, request, path), config.source,
                         started)
    findings = run.rules(ds)
    if request.fix or request.diff:
        from detlint.fixes import apply_fixes

        outcome = apply_fixes(ds, findings, unsafe=request.unsafe_fixes, write=not request.diff)
        fixed = {"fixed": sum(outcome.applied.values()) if outcome.changed else 0, "fixed_files": len(outcome.files)}
        if request.diff:
            return DatasetResult(path, ds, findings, config, diff=outcome.diff, predictions=run.predictions, **fixed)
        if outcome.changed:
            run = _Run(request, config, image_cache=run.image_cache)
            ds = run.read(path)
            findings = run.rules(ds)
        return DatasetResult(path, ds, findings, config, predictions=run.predictions, **fixed)
    return DatasetResult(path, ds, findings, config, predictions=run.predictions)


@dataclass
class Baseline:
    """The findings a baseline file accepts: keys of its ``version`` (1: ``Finding.key``, as
    written before version 2; 2: :func:`detlint.findings.baseline_keys`)."""

    version: int
    keys: set[tuple[str, ...]]

    def accepts(self, findings: list[Finding], ds: Dataset) -> list[bool]:
        if self.version < BASELINE_VERSION:
            return [f.key() in self.keys for f in findings]
        return [key in self.keys for key in baseline_keys(findings, object_keys(findings, ds))]


def load_baseline(path: Path) -> Baseline:
    try:
        data = orjson.loads(read_file(path, Limits().document_bytes))
        version = data.get("version", 1)
        if not isinstance(version, int) or version > BASELINE_VERSION:
            raise TypeError(f"unknown version {version!r}")
        return Baseline(version, {tuple(entry) for entry in data["findings"]})
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{path}: not a detlint baseline ({error})") from None


def write_baseline(path: Path, results: list[DatasetResult]) -> None:
    keys = sorted({key for r in results for key in baseline_keys(r.findings, object_keys(r.findings, r.ds))})
    atomic_write_bytes(path, orjson.dumps({"tool": "detlint", "version": BASELINE_VERSION, "findings": keys},
                                          option=orjson.OPT_INDENT_2))


def object_keys(findings: list[Finding], ds: Dataset) -> list[str]:
    """What each finding is about, in terms that survive inserting, deleting and reordering other
    rows: an annotation's image, class and box (the source's own numbers, rounded to float32);
    a box-less annotation's declared id; an image's path; a class's name; else the message."""
    ann, images, names = ds.annotations, ds.images, ds.categories.names
    declared_ids = formats.format_of(ds).has(formats.Trait.DECLARED_IDS)
    out = []
    for finding in findings:
        row, image_row, category = (finding.data.get(k) for k in ("row", "image_row", "category"))
        if isinstance(row, int) and 0 <= row < len(ann):
            if ann.has_box[row] and ann.kind[row] != ann.KIND_NONE:
                out.append(f"box:{_image_key(images, int(ann.image[row]))}|{_class_key(ds, row)}|"
                           + ",".join(np.format_float_positional(v, unique=True, trim="-")
                                      for v in ann.raw[row].astype(np.float32)))
            else:
                out.append(f"id:{int(ann.id[row])}" if declared_ids else f"message:{finding.message}")
        elif isinstance(image_row, int) and 0 <= image_row < len(images):
            out.append(f"image:{_image_key(images, image_row)}")
        elif isinstance(category, int) and 0 <= category < len(names):
            out.append(f"class:{names[category]}")
        else:
            out.append(f"message:{finding.message}")
    return out


def _image_key(images: Any, row: int) -> str:
    return str(images.path[row] or images.file_name[row] or "") if 0 <= row < len(images) else ""


def _class_key(ds: Dataset, row: int) -> str:
    category = int(ds.annotations.category[row])
    names = ds.categories.names
    return names[category] if 0 <= category < len(names) else f"#{int(ds.annotations.class_id[row])}"


@dataclass
class CheckResult:
    """What a check produced: the report in its output format (or ``--diff``'s text) and the
    exit status."""

    exit_code: int
    output_format: str = "concise"
    report: Report | None = None  # None with --diff
    diff: str = ""
    fix_summary: str = ""  # --fix / --diff: what was (would be) fixed, for stderr

    def emit(self, stream: TextIO) -> None:
        """Write the report (or the diff, newline-terminated) to ``stream``."""
        if self.report is None:
            if self.diff:
                stream.write(self.diff if self.diff.endswith("\n") else self.diff + "\n")
            return
        from detlint.report import emit

        emit(self.output_format, self.report, stream)


def run_check(request: CheckRequest) -> tuple[str, int]:
    """(rendered report, exit status) for a check request: :func:`check_all` as one string."""
    import io

    result = check_all(request)
    if result.report is None:
        return result.diff, result.exit_code
    buffer = io.StringIO()
    result.emit(buffer)
    return buffer.getvalue(), result.exit_code


def check_all(request: CheckRequest) -> CheckResult:
    """Check every dataset of the request; the report is written by :meth:`CheckResult.emit`.

    Each dataset is judged by its own config: its baseline filters its own findings and its
    ``fail-on`` decides whether it fails (``--baseline`` and ``--fail-on`` override both).
    """
    from detlint.report import Report
    from detlint.selection import plan_targets

    if not request.paths:
        request.paths = _configured_datasets(request)
    if request.predictions is not None and len(request.paths) != 1:
        raise UsageError("--predictions checks one dataset: give exactly one PATH")
    if request.label_issues and request.predictions is None:
        raise UsageError("--label-issues ranks labels by predictions: give them with --predictions FILE")
    if request.label_issues:
        from detlint.labelissues import require_cleanlab

        require_cleanlab()  # before any dataset is read: a missing extra is one line at once
    for name in request.targets or ():
        check_target(name, "--target")
    results = []
    # files passed (pre-commit) are grouped by dataset
    for target in plan_targets(request.paths, use_cache=request.use_cache):
        passed = target.passed if not target.class_map_passed else None
        result = check_dataset(target.path, request, passed)
        result.findings = _without_baseline(target.keep(result.findings, result.ds.root), result, request)
        results.append(result)
    all_findings = [f for result in results for f in result.findings]
    if request.write_baseline is not None:
        write_baseline(request.write_baseline, results)
    if request.diff:  # as ruff: exit 1 when applying the fixes would change a file
        would_change = any(result.fixed_files for result in results)
        return CheckResult(exit_code=1 if would_change else 0, diff="".join(result.diff for result in results),
                           fix_summary=fix_summary(results, all_findings, request))
    report = Report(findings=all_findings, datasets=[_dataset_summary(r) for r in results],
                    fail_on=_shown_fail_on(request, results), loaded=[r.ds for r in results],
                    predictions=[r.predictions for r in results],
                    targets=_target_summaries(results))
    failing = any(result.failing(request.fail_on) for result in results)
    exit_code = 1 if failing and request.write_baseline is None else 0
    return CheckResult(exit_code=exit_code, output_format=request.output_format or "concise", report=report,
                       fix_summary=fix_summary(results, all_findings, request) if request.fix else "")


def _dataset_summary(result: DatasetResult) -> dict:
    """The report's entry for one dataset, with what was read of ``--predictions`` against it."""
    summary = result.ds.summary() | {"path": str(result.path)}
    preds = result.predictions
    if preds is not None:
        matched = preds.detections.image[preds.detections.image >= 0]
        summary["predictions"] = {"path": str(preds.source), "format": preds.format, "detections": len(preds),
                                  "images_with_detections": int(len(np.unique(matched)))}
        readiness = next((f.data["evaluation"] for f in result.findings if "evaluation" in f.data), None)
        if readiness is not None:  # P013: what the evaluator will do with the file
            summary["predictions"]["evaluation"] = readiness
    return summary


def _target_summaries(results: list[DatasetResult]) -> dict[str, dict]:
    """Each asked target's summary over every dataset (empty when a dataset gives it nothing)."""
    if not any(r.config.targets for r in results):
        return {}
    from detlint.targets.consequences import empty_summary, merged

    out: dict[str, dict] = {}
    for result in results:
        for name in result.config.targets:
            out[name] = merged(out.get(name, empty_summary()), result.targets.get(name, empty_summary()))
    return out


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def fix_summary(results: list[DatasetResult], findings: list[Finding], request: CheckRequest) -> str:
    """"fixed N findings in M files, K remaining" (``--fix``; ``--diff``: "would fix N findings in M
    files"), with the unsafe fixes still on offer when ``--unsafe-fixes`` was not given."""
    fixed, files = sum(r.fixed for r in results), sum(r.fixed_files for r in results)
    if request.diff:
        text = f"would fix {_counted(fixed, 'finding')} in {_counted(files, 'file')}"
    else:
        text = f"fixed {_counted(fixed, 'finding')} in {_counted(files, 'file')}, {len(findings)} remaining"
    unsafe = 0 if request.unsafe_fixes else sum(1 for f in findings if f.fix and f.fix.applicability == "unsafe")
    if unsafe:
        text += f" ({unsafe} fixable with --unsafe-fixes)"
    return text


def _without_baseline(findings: list[Finding], result: DatasetResult, request: CheckRequest) -> list[Finding]:
    """``findings`` (of ``result``'s dataset) less those in the baseline that governs it."""
    config = result.config
    baseline = request.baseline or (Path(config.baseline) if config.baseline else None)
    if baseline is None or request.write_baseline is not None:
        return findings
    if not (baseline.is_absolute() or request.baseline) and config.source:
        baseline = config.source.parent / baseline
    accepted = load_baseline(baseline).accepts(findings, result.ds)
    return [f for f, known in zip(findings, accepted) if not known]


def _shown_fail_on(request: CheckRequest, results: list[DatasetResult]) -> str:
    """The threshold the report's summary line names: the command line's, else the datasets'
    common one ("error" when they differ, as each dataset is judged by its own)."""
    if request.fail_on:
        return request.fail_on
    levels = {result.config.fail_on for result in results}
    return levels.pop() if len(levels) == 1 else "error"


def _configured_datasets(request: CheckRequest) -> list[Path]:
    config = load_config(Path.cwd(), request.config_file)
    if not config.datasets:
        raise UsageError("no PATH given and no 'datasets' in the config")
    base = config.source.parent if config.source else Path.cwd()
    return [_as_given(base, Path(p)) for p in config.datasets]


def _as_given(base: Path, entry: Path) -> Path:
    """A config's ``datasets`` entry as a path from the current folder: a relative entry stays
    relative (``data/coco``, or ``../data/coco`` from below the config), so no report prints an
    absolute path the user did not write."""
    if entry.is_absolute():
        return entry
    try:
        return Path(os.path.relpath(base / entry))
    except ValueError:  # another drive (Windows): no relative path exists
        return base / entry
