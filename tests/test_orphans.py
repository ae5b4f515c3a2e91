"""No child process outlives a killed detlint (issue #14): after SIGKILL of ``detlint check --images
decode`` (a CI timeout, the OOM killer) the decode pool's workers must end too, or they keep the
step's stdout and stderr open and the step never ends; the same for the COCO reader's forked
slice helper.

The decode workers are made to sleep deterministically: every image is a FIFO nobody writes, so a
worker's ``open`` of it blocks (asleep, as a worker waiting on its task pipe is). The COCO
reader takes sizes from the JSON and never opens an image; only the decode pool does.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from detlint.images import _SMALL_INPUT, cpu_workers

# detlint check with the slicing thresholds of detlint.formats.coco.slices lowered, so that a
# 14 MB file is read in slices with the forked helper.
SLICED_CHECK = """
import sys
import detlint.formats.coco.slices as slices
slices.MIN_BYTES = slices.PARALLEL_MIN_BYTES = 1 << 20
slices.SLICE_BYTES = 256 << 10
slices._idle_cpu = lambda cpus: True  # a busy machine would not fork
from detlint.cli import main
main(["check", sys.argv[1], "--images", "none", "--select", "F002"], prog_name="detlint")
"""

REPO = Path(__file__).resolve().parents[1]
EOF_WITHIN_S = 5.0

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and FIFOs (Linux)"),
    pytest.mark.skipif(cpu_workers() < 2, reason="one CPU: detlint decodes in-process, there is no pool"),
]


def _state(pid: int) -> str | None:
    """The process state letter from /proc (``Z`` for a zombie), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid``, from each of its threads' ``children`` list in /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(child for child in found if _state(child) not in (None, "Z", "X"))


def _read_to_eof(process: subprocess.Popen, seconds: float) -> bool:
    """Whether both stdout and stderr reach end of file within ``seconds``."""
    selector = selectors.DefaultSelector()
    for stream in (process.stdout, process.stderr):
        selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    while selector.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        for key, _ in selector.select(left):
            if not os.read(key.fd, 65536):
                selector.unregister(key.fileobj)
    return True


@pytest.fixture
def fifo_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    count = _SMALL_INPUT * 2  # enough misses for the process pool
    for i in range(count):
        os.mkfifo(root / "images" / f"{i:03d}.png")
    document = {"images": [{"id": i + 1, "file_name": f"images/{i:03d}.png", "width": 8, "height": 8}
                           for i in range(count)],
                "annotations": [], "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations.json").write_text(json.dumps(document))
    return root


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids of processes this test started; any still running at the end are killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _state(pid) not in (None, "Z", "X"):
            os.kill(pid, signal.SIGKILL)


def _kill_once_children_exist(command: list[str], cwd: Path, started: list[int], wanted: int) -> None:
    """Run ``command`` with stdout and stderr piped (as a CI step does), SIGKILL it once ``wanted``
    children exist, then require end of file on both pipes and no child left running."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "DETLINT_CACHE_DIR": str(cwd / "cache")}
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=cwd, env=env)
    started.append(process.pid)
    deadline = time.monotonic() + 60
    children: list[int] = []
    while len(children) < wanted and time.monotonic() < deadline and process.poll() is None:
        children = _children(process.pid)
        time.sleep(0.005)
    started.extend(children)
    try:
        assert len(children) >= wanted, f"no child started (exit {process.poll()}): {process.stderr.read1()!r}"
        process.kill()
        process.wait()
        assert _read_to_eof(process, EOF_WITHIN_S), "stdout/stderr still open: a child outlived detlint"
        time.sleep(0.2)
        assert [pid for pid in children if _state(pid) not in (None, "Z", "X")] == []
    finally:
        process.stdout.close()
        process.stderr.close()


def test_decode_workers_end_when_detlint_is_killed(fifo_dataset: Path, started: list[int]) -> None:
    command = [sys.executable, "-m", "detlint", "check", str(fifo_dataset), "--images", "decode", "--no-cache"]
    _kill_once_children_exist(command, fifo_dataset.parent, started, wanted=2)


def test_coco_slice_helper_ends_when_detlint_is_killed(tmp_path: Path, started: list[int]) -> None:
    root = tmp_path / "coco"
    root.mkdir()
    count = 150_000  # ~14 MB: the helper still has slices to send when it is seen
    document = {"images": [{"id": i + 1, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in range(100)],
                "annotations": [{"id": i + 1, "image_id": i % 100 + 1, "category_id": 1, "bbox": [1, 2, 3, 4],
                                 "area": 12, "iscrowd": 0} for i in range(count)],
                "categories": [{"id": 1, "name": "cat"}]}
    (root / "annotations.json").write_text(json.dumps(document))
    script = tmp_path / "sliced_check.py"
    script.write_text(SLICED_CHECK)
    _kill_once_children_exist([sys.executable, str(script), str(root)], tmp_path, started, wanted=1)
