"""The tools that run as their own command line (no Python wrapper around them): panlabel (a Rust
binary), hotcoco's ``coco`` CLI for healthcheck and convert, and ``detlint --version``; and the
peers' environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.tasks import PEER_PACKAGES, PEERS_VENV, TARGET_OF, TASKS, coco_json


class Unsupported(Exception):
    """The tool cannot do this task on this layout (recorded as such, with the reason)."""


def _is_coco(fmt: str) -> bool:
    return fmt in ("coco", "coco_poly", "dense_coco", "coco_preds")


def _panlabel_format(fmt: str) -> str:
    return "coco" if _is_coco(fmt) else fmt.removeprefix("dense_")


def _panlabel_input(fmt: str, root: Path) -> str:
    return str(coco_json(root)) if _is_coco(fmt) else str(root)


def _panlabel(bin_dir: Path, task: str, root: Path, out: Path) -> list[str]:
    fmt = TASKS[task][0]
    exe = str(bin_dir / "panlabel")
    if task.startswith("check_"):
        return [exe, "validate", "--format", _panlabel_format(fmt), "--output-format", "json",
                _panlabel_input(fmt, root)]
    target = TARGET_OF[task]
    dest = out / "dataset" / "annotations.json" if target == "coco" else out / "dataset"
    dest.parent.mkdir(parents=True, exist_ok=True)
    # --allow-lossy: panlabel refuses COCO -> YOLO/VOC without it (it drops info, licenses, supercategory)
    return [exe, "convert", "-f", _panlabel_format(fmt), "-t", target, "--allow-lossy", "--output-format", "json",
            "-i", _panlabel_input(fmt, root), "-o", str(dest)]


def _hotcoco(bin_dir: Path, task: str, root: Path, out: Path) -> list[str]:
    fmt = TASKS[task][0]
    exe = str(bin_dir / "coco")
    if task.startswith("check_"):
        return [exe, "healthcheck", "--json", str(coco_json(root))]
    if not _is_coco(fmt):
        raise Unsupported("hotcoco's YOLO reader wants data.yaml beside the label files; this layout "
                          "(and ultralytics') has labels/train/ and data.yaml at the root")
    return [exe, "convert", "--json", "--from", "coco", "--to", TARGET_OF[task], "--input", str(coco_json(root)),
            "--output", str(out / "dataset")]


def cli_command(tool: str, task: str, root: Path, out: Path, peers_python: str) -> list[str] | None:
    """The command line of a (tool, task) that runs as its own program; None for a Python child."""
    bin_dir = Path(peers_python).parent
    if tool == "detlint" and task == "version":
        return [sys.executable, "-m", "detlint", "--version"]
    if tool == "panlabel":
        return _panlabel(bin_dir, task, root, out)
    if tool == "hotcoco" and not task.startswith("load_"):
        return _hotcoco(bin_dir, task, root, out)
    return None


def cli_versions(tool: str, peers_python: str) -> dict:
    bin_dir = Path(peers_python).parent
    try:
        if tool == "panlabel":
            line = subprocess.run([str(bin_dir / "panlabel"), "--version"], capture_output=True, text=True).stdout
            return {"panlabel": line.split()[-1]} if line.strip() else {}
        if tool == "hotcoco":
            line = subprocess.run([str(bin_dir / "coco"), "--version"], capture_output=True, text=True).stdout
            return {"hotcoco": line.split()[-1]} if line.strip() else {}
    except OSError:
        pass
    return {}


def setup_peers() -> dict:
    """Create benchmarks/.venv-peers and install each peer on its own (a failure is recorded)."""
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = str(PEERS_VENV / "bin" / "pip")
    outcome = {}
    for package in PEER_PACKAGES:
        try:
            done = subprocess.run([pip, "install", "-q", package], capture_output=True, text=True, timeout=600)
            outcome[package] = "ok" if done.returncode == 0 else "failed: " + done.stderr.strip()[-300:]
        except subprocess.TimeoutExpired:
            outcome[package] = "failed: install took over 10 minutes"
    return outcome
