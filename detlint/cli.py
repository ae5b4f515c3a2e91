"""The ``detlint`` command: thin click commands that parse arguments, call the library and pick a
reporter. Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or input errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from detlint import __version__
from detlint.clitypes import FORMAT_NAME, image_root_option
from detlint.errors import UsageError, out_of_memory
from detlint.headers import IMAGE_LEVELS
from detlint.report import REPORTERS
from detlint.safetext import escape_text, json_text
from detlint.targets import names as target_names

SEVERITY_CHOICES = ("error", "warning", "info")
TARGET_NAMES = target_names()  # the --target choices, from the adapter registry
MAX_COMMAND_SHOWN = 300  # characters of the command line an error message quotes


class DetlintGroup(click.Group):
    """Turns every failure into a one-line message and exit 2: never a traceback for bad input.

    ``smoke`` and ``show`` are imported when named (or listed by ``--help``): ``--version`` and
    ``check`` load neither module."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(_LAZY_COMMANDS[cmd_name](), cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Exit as exit_:
            sys.exit(exit_.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(2)
        except UsageError as error:
            _fail(f"detlint: error: {error}")
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)
        except MemoryError as error:  # its str is often empty: say what ran out, and where
            _fail(f"detlint: error: {out_of_memory(error, _command_line(args, kwargs))}")
        except OSError as error:
            _fail(f"detlint: error: {error}")
        except Exception as error:  # a bug in detlint: still one line for the user
            import logging

            logging.getLogger("detlint").debug("internal error", exc_info=True)
            _fail(f"detlint: internal error: {type(error).__name__}: {error} "
                  "(run with -vv for the traceback, and please report it)")


def _fail(message: str) -> NoReturn:
    """The one-line message on stderr, escaped (it may quote a path or a name), and exit 2."""
    click.echo(escape_text(message), err=True)
    sys.exit(2)


def _command_line(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``detlint check data`` as it was run, for messages that can name nothing closer (cut
    short: pre-commit passes hundreds of files)."""
    argv = kwargs.get("args", args[0] if args else None)
    argv = sys.argv[1:] if argv is None else argv
    import shlex

    line = shlex.join(["detlint", *map(str, argv)])
    return line if len(line) <= MAX_COMMAND_SHOWN else line[:MAX_COMMAND_SHOWN - 4] + " ..."


def _setup_logging(verbose: int) -> None:
    import logging  # here: ``--version`` and ``--help`` never log

    class EscapingFormatter(logging.Formatter):
        """Log messages quote paths and names: escaped, each stays one line (a traceback after it
        keeps its own lines)."""

        def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
            return escape_text(super().formatMessage(record))

    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("detlint: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


@click.group(cls=DetlintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="detlint")
@click.option("-v", "--verbose", count=True, help="More logging on stderr.")
def main(verbose: int) -> None:
    """Lint, fix, convert and smoke-train object-detection datasets (COCO, VOC, YOLO)."""
    _setup_logging(verbose)


def _write_output(emit: Callable[[TextIO], None], output: Path | None) -> None:
    """``emit(stream)`` to stdout, or atomically to ``output`` (``-o FILE``)."""
    if output is None:
        emit(sys.stdout)
        sys.stdout.flush()
        return
    from detlint.report import open_output

    with open_output(output) as stream:
        emit(stream)


def _codes(option: str | None) -> list[str] | None:
    from detlint.config import parse_codes

    return parse_codes(option)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--output-format", "output_format", type=click.Choice(tuple(REPORTERS)), default=None,
              help="Output format (default: concise).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None,
              help="Lowest severity that makes the exit status 1 (default: error).")
@click.option("--images", type=click.Choice(IMAGE_LEVELS), default=None,
              help="Image access: none, header (default) or decode.")
@click.option("--select", default=None, help="Comma-separated codes or prefixes to check (e.g. B,C001).")
@click.option("--ignore", default=None, help="Comma-separated codes or prefixes to skip.")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None,
              help="Input format (default: sniffed).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="Config file (default: nearest detlint.toml, .detlint.toml or pyproject.toml).")
@click.option("--voc-origin", type=click.Choice(("0", "1")), default=None,
              help="VOC pixel convention: 1 = devkit 1-based inclusive (default), 0 = 0-based.")
@click.option("--fix", is_flag=True, help="Apply safe fixes to the source files (atomically); stderr then says "
              "'fixed N findings in M files, K remaining'.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply unsafe fixes (with --fix, or alone).")
@click.option("--diff", is_flag=True, help="Show what --fix would change, without writing; exit 1 when it would "
              "change a file, 0 when not.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Report only findings not in this baseline file.")
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write all current findings to a baseline file.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the image cache.")
@click.option("--target", "targets", multiple=True, metavar="NAME",
              help=f"Say what this trainer drops, raises on or rewrites (repeatable; {', '.join(TARGET_NAMES)}).")
@image_root_option
@click.option("--predictions", "predictions", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Also check these detections against the dataset (P codes): a COCO results JSON, or a "
                   "folder of YOLO prediction txt files.")
# the choices are formats.predictions.READERS, written out: the CLI starts without the readers
@click.option("--predictions-format", type=click.Choice(("coco-results", "yolo-txt")), default=None,
              help="Kind of the --predictions file (default: sniffed: a folder is yolo-txt).")
@click.option("--label-issues", "label_issues", type=click.IntRange(min=1), default=None, is_flag=False,
              flag_value=20, metavar="[K]", help="With --predictions: rank likely label errors with cleanlab's "
              "ObjectLab and report the K worst images (default 20; needs detlint[labelissues]).")
def check(paths: tuple[Path, ...], output_format: str | None, output: Path | None, fail_on: str | None,
          images: str | None, select: str | None, ignore: str | None, input_format: str | None,
          config_file: Path | None, voc_origin: str | None, fix: bool, unsafe_fixes: bool, diff: bool,
          baseline: Path | None, write_baseline: Path | None, no_cache: bool, targets: tuple[str, ...],
          image_root: Path | None, predictions: Path | None, predictions_format: str | None,
          label_issues: int | None) -> None:
    """Lint datasets: located findings, exit 1 when any is at or above --fail-on."""
    from detlint.checking import CheckRequest, check_all

    request = CheckRequest(
        paths=list(paths), output_format=output_format, fail_on=fail_on, images=images,
        select=_codes(select), ignore=_codes(ignore), input_format=input_format, config_file=config_file,
        voc_origin=int(voc_origin) if voc_origin is not None else None, fix=(fix or unsafe_fixes) and not diff,
        unsafe_fixes=unsafe_fixes, diff=diff, baseline=baseline, write_baseline=write_baseline,
        use_cache=not no_cache, image_root=image_root, targets=list(targets) or None, predictions=predictions,
        predictions_format=predictions_format, label_issues=label_issues or 0)
    result = check_all(request)
    _write_output(result.emit, output)
    if result.fix_summary:
        click.echo(result.fix_summary, err=True)
    sys.exit(result.exit_code)


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--to", "target", type=FORMAT_NAME, required=True, help="Target format.")
@click.option("--from", "source_format", type=FORMAT_NAME, default=None,
              help="Source format (default: sniffed).")
@click.option("--voc-origin", type=click.Choice(("0", "1")), default="1", show_default=True,
              help="VOC pixel convention when reading VOC.")
@click.option("--to-voc-origin", type=click.Choice(("0", "1")), default="1", show_default=True,
              help="VOC pixel convention when writing VOC.")
@click.option("--copy", "copy_images", is_flag=True, help="Copy images instead of hard-linking them.")
@click.option("--val-fraction", type=float, default=None,
              help="Make a val split of this share of the training (or unsplit) images, chosen by a hash "
                   "of each path (deterministic), for a source without one.")
# the choices are formats.protocol.GEOMETRIES, written out: the CLI starts without numpy
@click.option("--geometry", type=click.Choice(("auto", "box", "mask")), default="auto", show_default=True,
              help="YOLO output: auto keeps each row's kind (polygon rows stay polygons, COCO masks are "
                   "dropped), box writes boxes only, mask writes a segmentation row from every polygon or RLE "
                   "mask (YOLO trainers use one kind per dataset).")
@image_root_option
def convert(src: Path, dst: Path, target: str, source_format: str | None, voc_origin: str,
            to_voc_origin: str, copy_images: bool, val_fraction: float | None, image_root: Path | None,
            geometry: str) -> None:
    """Convert SRC to a new dataset DST in another format; every loss is reported.

    A source without a validation split converted to YOLO gets no val: key (ultralytics then
    refuses it) rather than val: on the training images; --val-fraction makes one."""
    from detlint.converting import convert as run_convert

    report = run_convert(src, dst, target, source_format=source_format, voc_origin=int(voc_origin),
                         to_voc_origin=int(to_voc_origin), link_images=not copy_images,
                         val_fraction=val_fraction, image_root=image_root, geometry=geometry)
    click.echo(_escaped_summary(report), err=True)


@main.command("split")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "dst", type=click.Path(path_type=Path), required=True, help="The new dataset's folder.")
@click.option("--ratios", default="0.8,0.1,0.1", show_default=True, help="Share of each split, summing to 1.")
@click.option("--names", default=None, help="Split names, one per ratio (default: train,val[,test]).")
@click.option("--group-by", default="hash", show_default=True,
              help="What keeps images together: hash, phash, folder, regex:PATTERN (last), comma-separated.")
@click.option("--seed", type=int, default=0, show_default=True, help="Orders groups of one size (deterministic).")
@click.option("--keep", default=None, help="A split whose images stay where they are (e.g. test).")
@click.option("--to", "target", type=FORMAT_NAME, default=None, help="Output format (default: the source's).")
@click.option("--lists-only", is_flag=True, help="Write only the source format's split lists.")
@click.option("--near-duplicate-distance", "near_distance", type=click.IntRange(0, 64), default=None,
              help="phash: the largest hash distance in bits that joins two images (default: the config's "
                   "near-duplicate-distance, I010's, 6).")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None, help="Input format (default: sniffed).")
@image_root_option
def split_command(src: Path, dst: Path, ratios: str, names: str | None, group_by: str, seed: int,
                  keep: str | None, target: str | None, lists_only: bool, near_distance: int | None,
                  input_format: str | None, image_root: Path | None) -> None:
    """Split SRC anew into --out without leaks: groups of duplicates, near copies, frames of one
    video or one folder stay in one split, stratified by class; the split report goes to stderr."""
    from detlint import splitting

    request = splitting.SplitRequest(
        src=src, dst=dst, ratios=splitting.parse_ratios(ratios),
        names=[n.strip() for n in names.split(",")] if names else None,
        group_by=splitting.parse_group_by(group_by), seed=seed, keep=keep, target=target, lists_only=lists_only,
        near_distance=near_distance, source_format=input_format, image_root=image_root)
    click.echo(_escaped_report(splitting.split(request)).summary(), err=True)


@main.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "dst", type=click.Path(path_type=Path), required=True, help="The merged dataset's folder.")
@click.option("--classes", "class_map", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="YAML class map: per source, class name or id -> target name, null drops it.")
@click.option("--to", "target", type=FORMAT_NAME, default=None, help="Output format (default: the first source's).")
@click.option("--keep-variants", is_flag=True,
              help="Keep class names that differ only by case, separator or plural apart (else: exit 2, listed).")
@click.option("--no-dedup", is_flag=True, help="Keep images with the same bytes in two sources as two images.")
def merge_command(sources: tuple[Path, ...], dst: Path, class_map: Path | None, target: str | None,
                  keep_variants: bool, no_dedup: bool) -> None:
    """Merge datasets into --out: classes by name or by the --classes map, colliding ids
    renumbered, images with the same bytes made one; the merge report goes to stderr."""
    from detlint import merging

    request = merging.MergeRequest(sources=list(sources), dst=dst, class_map=class_map, target=target,
                                   keep_variants=keep_variants, dedup=not no_dedup)
    click.echo(_escaped_report(merging.merge(request)).summary(), err=True)


def _escaped_report(report: Any) -> Any:
    """The split or merge report with every string in it escaped before its summary joins them
    into lines: a newline in a class name or path escaped afterwards would already be a line."""
    import dataclasses

    return dataclasses.replace(report, **{f.name: _escaped_values(getattr(report, f.name))
                                          for f in dataclasses.fields(report) if f.init})


def _escaped_values(value: Any) -> Any:
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, Path):
        return escape_text(str(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_escaped_values(v) for v in value)
    if isinstance(value, dict):
        return {k: _escaped_values(v) for k, v in value.items()}
    return value


def _escaped_summary(report: Any) -> str:
    """The conversion summary with its names escaped (they are joined into lines there)."""
    import dataclasses

    losses = [{**loss, "what": escape_text(str(loss.get("what", ""))),
               "detail": escape_text(str(loss.get("detail") or ""))} for loss in report.losses]
    return dataclasses.replace(report, source=escape_text(str(report.source)), target=escape_text(str(report.target)),
                               losses=losses, notes=[escape_text(note) for note in report.notes]).summary()


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write a PNG with class counts, box centres and width/height (needs matplotlib).")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None)
@image_root_option
def stats(path: Path, output_format: str, plot_path: Path | None, input_format: str | None,
          image_root: Path | None) -> None:
    """Counts per split, class histogram, box size and aspect distributions.

    Exit 1, as ``check`` for F001, when a file could not be parsed (listed on stderr)."""
    from detlint import stats as stats_module
    from detlint.config import image_root_for
    from detlint.formats import ReadOptions, load

    ds = load(path, format=input_format, options=ReadOptions(image_root=image_root_for(path, image_root)))
    result = stats_module.compute(ds)
    if output_format == "json":
        click.echo(json_text(result))
    else:
        click.echo(stats_module.render_text(result), nl=False)
    if plot_path is not None:
        try:
            stats_module.plot(ds, plot_path)
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'detlint[plot]'") from None
    unreadable = stats_module.unreadable(ds)
    if unreadable:
        click.echo(stats_module.render_unreadable(unreadable, str(path)), err=True, nl=False)
        sys.exit(1)


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Explain a rule (its documentation), or list the whole catalog."""
    import inspect

    from detlint.rules import RULES, summary

    if show_all or code is None:
        for rule_code, module in RULES.items():
            fix = module.FIX or "-"
            click.echo(f"{rule_code}  {module.NAME:<28} {module.SEVERITY:<8} fix:{fix:<7} {summary(module)}")
        return
    key = code.upper()
    module = RULES.get(key) or next((m for m in RULES.values() if code.lower() == m.NAME), None)
    if module is None:
        raise UsageError(f"unknown rule {code!r} (see: detlint rule --all)")
    click.echo(f"{module.CODE} {module.NAME} ({module.SEVERITY}; fix: {module.FIX or 'none'})\n")
    click.echo(inspect.cleandoc(module.__doc__ or ""))
    if module.OPTIONS:
        click.echo("\nOptions (config keys): " + ", ".join(f"{k} = {v!r}" for k, v in module.OPTIONS.items()))


@main.command(name="diff")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="OLD NEW | PATH --rev REV")
@click.option("--rev", default=None, metavar="REV",
              help="Compare PATH with itself at this git revision (read from git, never checked out).")
@click.option("--iou", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.5, show_default=True,
              help="Least IoU for a box to be the same box, moved or relabelled.")
@click.option("--output-format", "output_format", type=click.Choice(tuple(REPORTERS)), default="concise",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None, help="Input format (default: sniffed).")
@click.option("--fail-on-change", "fail_on_change", default=None, metavar="KINDS",
              help="Exit 1 when a change of these kinds is found: comma-separated (class-map, box-removed, "
                   "image-added, ...) or any. Default: exit 0 whatever changed.")
def diff_command(paths: tuple[Path, ...], rev: str | None, iou: float, output_format: str, output: Path | None,
                 input_format: str | None, fail_on_change: str | None) -> None:
    """What changed between two versions of a dataset (D codes), located in NEW (removals in OLD)."""
    from detlint.diffing import DiffRequest, diff, parse_kinds

    wanted = 1 if rev is not None else 2
    if len(paths) != wanted:
        raise UsageError("diff takes OLD and NEW, or one PATH with --rev REV")
    request = DiffRequest(new=paths[-1], old=None if rev is not None else paths[0], rev=rev, iou=iou,
                          input_format=input_format, fail_on_change=parse_kinds(fail_on_change),
                          output_format=output_format)
    with diff(request) as result:
        _write_output(result.emit, output)
    sys.exit(result.exit_code)


def _smoke_command() -> click.Command:
    from detlint.smoke.cli import smoke

    return smoke


def _show_command() -> click.Command:
    from detlint.show_cli import show

    return show


# The commands that live in their own modules, loaded by DetlintGroup.get_command when named.
_LAZY_COMMANDS: dict[str, Callable[[], click.Command]] = {"smoke": _smoke_command, "show": _show_command}


if __name__ == "__main__":  # pragma: no cover
    main()
