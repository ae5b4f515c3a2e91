"""The ``detlint smoke`` command: parse flags, call :func:`detlint.smoke.run_smoke`, print.

Importing this module needs click and the torch-free rest of the package; torch is imported when
the command runs, so ``detlint --help`` and every other command work without it. Exit codes: 0
training runs, 1 a data or training problem was found, 2 a usage error (including torch not
installed).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import click

from detlint.clitypes import FORMAT_NAME, image_root_option
from detlint.errors import UsageError
from detlint.safetext import escape_text
from detlint.smoke.detector import DEFAULT_MODEL, MODELS
from detlint.smoke.render import render_json, render_text


def _model_options(values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is a Python literal (``64``, ``0.5``, ``True``) or a string."""
    options: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--model-option {item!r}: expected KEY=VALUE, e.g. box_batch_size_per_image=64")
        try:
            options[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = raw.strip()
    return options


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--split", default=None, help="Split to train on (default: train when present, else all images).")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), default="auto", show_default=True,
              help="auto picks CUDA when PyTorch sees a GPU.")
@click.option("--steps", type=int, default=2, show_default=True, help="Optimizer steps to run.")
@click.option("--batch-size", type=int, default=2, show_default=True)
@click.option("--model", type=click.Choice(MODELS), default=DEFAULT_MODEL, show_default=True,
              help="torchvision detector, built with random weights (nothing is downloaded).")
@click.option("--image-size", type=int, default=320, show_default=True,
              help="Longer image side after resizing (the model's min/max size follow it).")
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--no-check", is_flag=True, help="Skip the detlint check that runs first.")
@click.option("--find-batch-size", is_flag=True, help="Double the batch size until out of memory or the cap.")
@click.option("--max-batch-size", type=int, default=64, show_default=True, help="Cap for --find-batch-size.")
@click.option("--num-workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="SGD learning rate.")
@click.option("--label-offset", type=int, default=1, show_default=True,
              help="Added to category indices (1 keeps 0 for the background class).")
@click.option("--model-option", "model_option", multiple=True, metavar="KEY=VALUE",
              help="Extra torchvision builder argument, e.g. box_batch_size_per_image=64 (repeatable).")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None,
              help="Input format (default: sniffed).")
@image_root_option
def smoke(path: Path, split: str | None, device: str, steps: int, batch_size: int, model: str, image_size: int,
          output_format: str, no_check: bool, find_batch_size: bool, max_batch_size: int, num_workers: int,
          lr: float, label_offset: int, model_option: tuple[str, ...], input_format: str | None,
          image_root: Path | None) -> None:
    """Check PATH, then train a torchvision detector on it for a few steps and diagnose problems."""
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as error:
        raise UsageError(f"smoke needs PyTorch and torchvision ({error}): pip install 'detlint[torch]'") from None
    from detlint.smoke.run import run_smoke  # the check pipeline: loaded when the command runs

    options = _model_options(model_option)
    try:
        report = run_smoke(path, split=split, device=device, steps=steps, batch_size=batch_size, model=model,
                           image_size=image_size, check=not no_check, find_batch_size=find_batch_size,
                           max_batch_size=max_batch_size, num_workers=num_workers, lr=lr,
                           label_offset=label_offset, model_options=options, input_format=input_format,
                           image_root=image_root)
    except (UsageError, KeyboardInterrupt, BrokenPipeError, OSError, MemoryError):
        raise  # the command group turns these into one-line messages and exit codes
    except Exception as error:  # noqa: BLE001 - a bug must still not print a traceback at the user
        click.echo(escape_text(f"detlint smoke: internal error: {type(error).__name__}: {error}"), err=True)
        sys.exit(1)
    text = render_json(report) if output_format == "json" else render_text(report)
    sys.stdout.write(text)
    sys.stdout.flush()
    sys.exit(report.exit_code)
