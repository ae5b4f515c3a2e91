"""The README says what a new user needs: the extras, a CPU-only torch at the pinned versions, why
tests skip in a plain clone, and the two Quick-start commands (#15 item 21)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
EXTRAS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]

QUICK_START = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && detlint check fixtures/demo",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest",
)
# (test module, the words of its skip reason): the README explains each one
SKIPS = [
    ("test_corpus_check.py", "shared corpus not found"),
    ("test_reporters.py", "SARIF schema not found"),
    ("test_html.py", "headless Chromium not installed"),
    ("test_incremental.py", "root"),
    ("test_precommit.py", "pre-commit could not build the hook environment offline"),
]


def _upper_pin(requirement: str) -> str:
    match = re.search(r"<=\s*([0-9.]+)", requirement)
    assert match, f"{requirement}: no upper pin"
    return match.group(1)


def test_quick_start_commands_are_unchanged() -> None:
    for command in QUICK_START:
        assert f"```bash\n{command}\n```" in README


def test_the_cpu_torch_command_installs_the_pinned_versions() -> None:
    pins = {req.split(">")[0].split("<")[0].strip(): _upper_pin(req) for req in EXTRAS["torch"]}
    command = (f"pip install torch=={pins['torch']} torchvision=={pins['torchvision']} "
               "--index-url https://download.pytorch.org/whl/cpu")
    assert command in README
    assert README.index(command) < README.index("pip install -e '.[test]'\n```")  # CPU wheel first


def test_the_plot_extra_is_named() -> None:
    assert "plot" in EXTRAS and any(req.startswith("matplotlib") for req in EXTRAS["plot"])
    assert "pip install -e '.[plot]'" in README and "detlint[plot]" in README


@pytest.mark.parametrize(("module", "reason"), SKIPS)
def test_every_plain_clone_skip_is_explained(module: str, reason: str) -> None:
    assert reason in (REPO / "tests" / module).read_text(encoding="utf-8"), f"{module} no longer skips so"
    section = README.split("**Skipped tests.**", 1)[1].split("\n## ", 1)[0]
    assert reason in section and module.removesuffix(".py") in section
