"""Hostile datasets and the harness that runs detlint on them (used by ``test_hostile.py``).

Every case is a dataset folder ``ds`` beside an ``outside`` folder holding a secret: a text file
whose lines look like labels, a JPEG, a folder of ``.txt`` files, a COCO JSON. Each case points
into ``outside`` some way (a listed path, a config key, a symlinked file or folder) or plants a
special file (FIFO). A run passes when it ends in time without a traceback, the secret appears
in no output, no file under ``outside`` was opened or linked (``strace`` where available), and
no output file shares an inode with a file under ``outside``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

SECRET = "SECRET-7f3a9c"
TIME_LIMIT_S = 20
STRACE = shutil.which("strace") if sys.platform.startswith("linux") else None
_OPEN_CALL = re.compile(r'^(?:\[pid\s+)?\d*\]?\s*(open|openat|openat2|link|linkat)\((?:AT_FDCWD, |\d+, )?"((?:[^"\\]|\\.)*)"'
                        r'.*\)\s+=\s+(-?\d+)')


def jpeg_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class World:
    """A tmp folder with ``ds/`` (the dataset under attack) and ``outside/`` (what must stay untouched)."""

    base: Path
    ds: Path = field(init=False)
    outside: Path = field(init=False)

    def __post_init__(self) -> None:
        self.ds = self.base / "ds"
        self.outside = self.base / "outside"
        self.ds.mkdir()
        (self.outside / "etc").mkdir(parents=True)
        secret_label = f"0 0.5 0.5 0.2 0.2 {SECRET}\n{SECRET}=token\n"
        (self.outside / "secret.txt").write_text(secret_label)
        (self.outside / "etc" / "a.txt").write_text(secret_label)
        (self.outside / "etc" / f"{SECRET}.txt").write_text(secret_label)
        (self.outside / "secret.jpg").write_bytes(jpeg_bytes())
        (self.outside / "etc" / f"{SECRET}.jpg").write_bytes(jpeg_bytes())
        (self.outside / "secret.xml").write_text(voc_xml("secret.jpg", SECRET))
        (self.outside / "secret.json").write_text(json.dumps(coco_doc(["x.jpg"], names=[SECRET])))

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.ds / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def link(self, rel: str, target: Path | str) -> Path:
        path = self.ds / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        return path

    def fifo(self, rel: str) -> Path:
        path = self.ds / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        return path

    def outside_inodes(self) -> dict[tuple[int, int], Path]:
        return {(p.stat().st_dev, p.stat().st_ino): p for p in self.outside.rglob("*") if p.is_file()}

    def outside_links(self) -> dict[Path, int]:
        return {p: p.stat().st_nlink for p in self.outside.rglob("*") if p.is_file()}


def voc_xml(filename: str, name: str = "cat", extra: str = "") -> str:
    return (f"<annotation><filename>{filename}</filename><size><width>32</width><height>24</height>"
            f"<depth>3</depth></size>{extra}<object><name>{name}</name><bndbox><xmin>2</xmin><ymin>2</ymin>"
            "<xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")


def coco_doc(files: list[str], names: list[str] | None = None) -> dict:
    names = names or ["cat"]
    return {"images": [{"id": i + 1, "file_name": f, "width": 32, "height": 24} for i, f in enumerate(files)],
            "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [2, 2, 10, 10],
                             "area": 100, "iscrowd": 0} for i in range(len(files))],
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)]}


def yolo_base(world: World, yaml: str | None = "names: [cat]\ntrain: images/train\nval: images/val\n") -> None:
    """A valid YOLO dataset (images/train + labels/train, one more image in images/val + labels/val:
    ultralytics needs a val split, and train's images in it would leak), with ``yaml`` as its data.yaml."""
    world.write("images/train/a.jpg", jpeg_bytes())
    world.write("labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n")
    world.write("images/val/b.jpg", jpeg_bytes((24, 32)))  # other bytes: no copy of a.jpg
    world.write("labels/val/b.txt", "0 0.5 0.5 0.2 0.2\n")
    if yaml is not None:
        world.write("data.yaml", yaml)


@dataclass
class Run:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    opened: list[str]  # paths opened or linked successfully (strace), relative ones made absolute

    def text(self) -> str:
        return self.stdout + self.stderr


def run_detlint(args: list[str], cwd: Path, env: dict[str, str] | None = None, trace: bool = True) -> Run:
    """``python -m detlint ARGS`` in ``cwd`` (under strace where available), within the time limit."""
    command = [sys.executable, "-m", "detlint", *args]
    trace_file = cwd / ".strace.log"
    traced = trace and STRACE is not None
    if traced:
        command = [STRACE, "-f", "-qq", "-s", "4096", "-o", str(trace_file),
                   "-e", "trace=open,openat,openat2,link,linkat", *command]
    full_env = {**os.environ, "PYTHONWARNINGS": "default", **(env or {})}
    # its own process group: a run past the limit is killed whole (strace's tracee included, which
    # would otherwise be detached and left running)
    proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIME_LIMIT_S * (3 if traced else 1))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    opened: list[str] = []
    if traced and trace_file.exists():
        for line in trace_file.read_text(errors="replace").splitlines():
            match = _OPEN_CALL.search(line)
            if match and int(match.group(3)) >= 0:
                path = match.group(2).encode().decode("unicode_escape")
                opened.append(path if os.path.isabs(path) else os.path.join(cwd, path))
        trace_file.unlink()
    return Run(command[-len(args) - 3:], proc.returncode, stdout, stderr, opened)


def breaches(world: World, run: Run, outputs: list[Path] = ()) -> list[str]:
    """Everything that went wrong in ``run``: a traceback, the secret in any output, a file
    under ``outside`` opened or linked, an output file sharing an inode with one there."""
    problems: list[str] = []
    if "Traceback" in run.stderr or "internal error" in run.stderr:
        problems.append(f"traceback: {run.stderr[-600:]}")
    if run.returncode not in (0, 1, 2):
        problems.append(f"exit {run.returncode}")
    if SECRET in run.text():
        problems.append("secret printed")
    outside_real = os.path.realpath(world.outside)
    for path in run.opened:
        real = os.path.realpath(path)
        if real == outside_real or real.startswith(outside_real + os.sep):
            problems.append(f"opened {path}")
    inodes = world.outside_inodes()
    for folder in outputs:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                if (info.st_dev, info.st_ino) in inodes:
                    problems.append(f"output {path} is {inodes[(info.st_dev, info.st_ino)]}")
                if SECRET.encode() in path.read_bytes():
                    problems.append(f"secret in output {path}")
            elif path.is_symlink() and not os.path.realpath(path).startswith(str(folder.resolve())):
                problems.append(f"output {path} links out")
    return problems


Builder = Callable[[World], None]
