"""Start-up cost, guarded by what is imported (never by time: the CI machine's speed varies).

``detlint --version`` and ``--help`` import click and detlint's thin CLI only; a check imports the
reader of its own format, not the other formats' (lxml for a COCO check), nor the image
decoders' process pool, nor the reporters it does not use. Each runs in a fresh interpreter
under ``-X importtime``, whose stderr lists every module imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT / "fixtures" / "rules" / "coco_clean"
YOLO = ROOT / "fixtures" / "yolo_clean"
# Heavy third-party packages (and torch, which only smoke needs): none may load before a command needs it.
HEAVY = ("numpy", "PIL", "lxml", "jsonschema", "pycocotools", "matplotlib", "torch", "torchvision", "yaml", "tqdm")
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


def imported(*args: str | Path) -> set[str]:
    """The modules ``python -X importtime -m detlint ARGS`` imports (this checkout's detlint)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "detlint", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    modules = set(_IMPORT_LINE.findall(done.stderr))
    assert "detlint.cli" in modules, done.stderr[-2000:]
    return modules


def packages(modules: set[str], wanted: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in wanted)


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("rule", "--help")])
def test_version_and_help_import_nothing_heavy(args: tuple[str, ...]) -> None:
    modules = imported(*args)
    assert packages(modules, HEAVY) == []
    # nor detlint's own commands, readers, rules or reporters (--help lists smoke and show: it loads them)
    assert sorted(m for m in modules if m.startswith(("detlint.formats", "detlint.rules", "detlint.report.",
                                                       "detlint.checking", "detlint.images"))) == []


def test_version_does_not_load_smoke_or_show() -> None:
    modules = imported("--version")
    assert not {"detlint.show_cli", "detlint.smoke", "detlint.smoke.cli", "logging"} & modules


def test_coco_check_imports_only_its_reader_and_reporter() -> None:
    modules = imported("check", COCO, "--images", "none", "--no-cache")
    assert "detlint.formats.coco.read" in modules
    assert packages(modules, ("PIL", "lxml", "jsonschema", "matplotlib", "torch", "torchvision", "yaml")) == []
    assert not {"detlint.formats.voc.read", "detlint.formats.yolo.read", "detlint.formats.coco.write",
                "detlint.formats.coco.writeback", "concurrent.futures.process", "detlint.report.html",
                "detlint.report.sarif"} & modules


def test_yolo_check_imports_no_xml_parser() -> None:
    modules = imported("check", YOLO, "--images", "none", "--no-cache")
    assert "detlint.formats.yolo.read" in modules
    assert packages(modules, ("lxml", "matplotlib", "torch", "torchvision")) == []
    assert "detlint.formats.voc.read" not in modules and "detlint.formats.coco.read" not in modules
