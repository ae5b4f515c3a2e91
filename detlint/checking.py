"""``detlint check`` as a library call: load each dataset, run the rules, apply fixes and the
baseline, and report. The CLI only parses flags into a :class:`CheckRequest` and writes the
:class:`CheckResult` of :func:`check_all` to stdout or ``-o FILE``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import orjson

from detlint.config import Config, load_config
from detlint.engine import at_or_above, run_rules
from detlint.errors import UsageError
from detlint.findings import Finding
from detlint.formats import load
from detlint.formats.base import ReadOptions, atomic_write_bytes, progress_enabled
from detlint.model import Dataset

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
    datasets: list[dict] = field(default_factory=list)


def dataset_config(path: Path, request: CheckRequest) -> Config:
    config = load_config(path, request.config_file)
    select = request.select if request.select is not None else config.select
    return config.merged(select=select, ignore=(config.ignore + (request.ignore or [])) or None,
                         fail_on=request.fail_on, images=request.images, voc_origin=request.voc_origin,
                         display_root=str(path))


def _read(path: Path, config: Config, input_format: str | None, use_cache: bool = False) -> Dataset:
    from detlint import incremental

    options = ReadOptions(voc_origin=config.voc_origin, classes=config.classes, progress=progress_enabled())
    with incremental.activated(incremental.ParseCache.open(enabled=use_cache)):
        return load(path, format=input_format, options=options)


def _attach_images(config: Config, request: CheckRequest) -> None:
    if config.images == "none":
        return
    try:
        from detlint.images import ImageCache
    except ImportError:
        return
    config.cache = ImageCache.open(enabled=request.use_cache)


def _snapshot_key(config: Config, request: CheckRequest, path: Path) -> dict:
    return {"format": request.input_format, "voc_origin": config.voc_origin, "classes": config.classes,
            "cwd": None if path.is_absolute() else os.getcwd()}


def _recheck(path: Path, config: Config, request: CheckRequest,
             passed: set[str] | None) -> tuple[Dataset, list[Finding]] | None:
    """Findings for a re-check of a few passed files from the dataset's snapshot (see
    :mod:`detlint.snapshot`); None when it needs a full read."""
    if not passed or not request.use_cache or request.fix or request.diff:
        return None
    from detlint import snapshot

    options = ReadOptions(voc_origin=config.voc_origin, classes=config.classes, progress=False)
    found = snapshot.patched(path, _snapshot_key(config, request, path), passed, options)
    if found is None:
        return None
    ds, touched = found
    return ds, run_rules(ds, config, focus=touched)


def check_dataset(path: Path, request: CheckRequest,
                  passed: set[str] | None = None) -> tuple[Dataset, list[Finding], Config]:
    """Load and check one dataset; ``passed``: the files a re-check is about (pre-commit)."""
    config = dataset_config(path, request)
    _attach_images(config, request)
    fast = _recheck(path, config, request, passed)
    if fast is not None:
        return fast[0], fast[1], config
    started = time.time_ns()
    ds = _read(path, config, request.input_format, request.use_cache)
    if passed and request.use_cache:
        from detlint import snapshot

        snapshot.save(ds, path, _snapshot_key(config, request, path), config.source, started)
    findings = run_rules(ds, config)
    if request.fix or request.diff:
        from detlint.fixes import apply_fixes

        outcome = apply_fixes(ds, findings, unsafe=request.unsafe_fixes, write=not request.diff)
        if request.diff:
            return ds, findings, config.merged(options={"__diff__": outcome.diff})
        if outcome.changed:
            ds = _read(path, config, request.input_format, request.use_cache)
            findings = run_rules(ds, config)
    return ds, findings, config


def load_baseline(path: Path) -> set[tuple[str, str, str]]:
    try:
        data = orjson.loads(path.read_bytes())
        return {tuple(entry) for entry in data["findings"]}  # type: ignore[misc]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: not a detlint baseline ({error})") from None


def write_baseline(path: Path, findings: list[Finding]) -> None:
    keys = sorted({f.key() for f in findings})
    atomic_write_bytes(path, orjson.dumps({"tool": "detlint", "findings": keys}, option=orjson.OPT_INDENT_2))


@dataclass
class CheckResult:
    """What a check produced: the report in its output format (or ``--diff``'s text) and the
    exit status."""

    exit_code: int
    output_format: str = "concise"
    report: Report | None = None  # None with --diff
    diff: str = ""

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
    """Check every dataset of the request; the report is written by :meth:`CheckResult.emit`."""
    from detlint.report import Report

    if not request.paths:
        request.paths = _configured_datasets(request)
    all_findings: list[Finding] = []
    summaries: list[dict] = []
    loaded: list[Dataset] = []
    fail_on = request.fail_on
    diff_texts: list[str] = []
    from detlint.precommit import plan_targets

    for target in plan_targets(request.paths, use_cache=request.use_cache):  # files passed (pre-commit): grouped by dataset
        path = target.path
        passed = target.passed if not target.class_map_passed else None
        ds, findings, config = check_dataset(path, request, passed)
        findings = target.keep(findings, ds.root)
        summaries.append(ds.summary() | {"path": str(path)})
        loaded.append(ds)
        all_findings.extend(findings)
        fail_on = fail_on or config.fail_on
        diff_texts.append(config.options.get("__diff__", ""))
        baseline = request.baseline or (Path(config.baseline) if config.baseline else None)
        if baseline is not None and request.write_baseline is None:
            known = load_baseline(baseline if baseline.is_absolute() or request.baseline else
                                  (config.source.parent / baseline if config.source else baseline))
            all_findings = [f for f in all_findings if f.key() not in known]
    if request.write_baseline is not None:
        write_baseline(request.write_baseline, all_findings)
    if request.diff:
        return CheckResult(exit_code=0, diff="".join(diff_texts))
    fail_on = fail_on or "error"
    report = Report(findings=all_findings, datasets=summaries, fail_on=fail_on, loaded=loaded)
    exit_code = 1 if at_or_above(all_findings, fail_on) and request.write_baseline is None else 0
    return CheckResult(exit_code=exit_code, output_format=request.output_format or "concise", report=report)


def _configured_datasets(request: CheckRequest) -> list[Path]:
    config = load_config(Path.cwd(), request.config_file)
    if not config.datasets:
        raise UsageError("no PATH given and no 'datasets' in the config")
    base = config.source.parent if config.source else Path.cwd()
    return [base / p for p in config.datasets]
