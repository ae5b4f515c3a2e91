"""Parsing a big COCO file's ``annotations`` array in slices, on two processes where it can.

``orjson.loads`` of a 450 MB COCO file builds ~860k dicts at once: the tree, not the columns,
is the reader's peak memory, and turning it into columns takes longer than parsing. This module
cuts the array's text between two elements every ``SLICE_BYTES``; the reader turns each slice's
text into columns (typed where it can, :mod:`.typed`) and drops its records before the next
one, and a forked helper process builds the last slices meanwhile. The rest of the document
(images, categories) is parsed once, with a marker element where the slices were.

Why a cut can be trusted: a slice starts where the previous one ended, right after a comma
between two elements, and it is accepted only when ``[`` + slice + ``]`` parses on its own (the reader's build answers
None when it does not). A cut
inside a string leaves that string unterminated and a cut inside a nested value leaves a bracket
open, and both fail to parse; by induction from the array's first byte every slice is exactly a
run of whole elements when all of them parse. The rest of the document must then parse with the
marker as the first element of the top-level ``annotations`` (not of some nested key of that
name). When anything fails, the caller parses the whole file as usual: slicing never changes a
result.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import orjson

from detlint.subprocs import bind_to_parent

log = logging.getLogger("detlint")

SLICE_BYTES = 4 << 20
MIN_BYTES = SLICE_BYTES  # smaller files hold no cut: parsed whole (orjson)
PARALLEL_MIN_BYTES = 64 << 20  # below this a second process costs more than it saves
REST_COST = 2.0  # parsing and building the rest (images) per byte, relative to annotations
HELPER_OVERHEAD = 0.3  # the helper's extra cost per slice: sending the columns back
_ARRAY_START = re.compile(rb'"annotations"\s*:\s*\[\s*(?=\{)')
_BETWEEN_ELEMENTS = re.compile(rb"\}\s*,\s*\{")
_MARKER_KEY = "\x00detlint-slices"
_MARKER = b'{"\\u0000detlint-slices":0},'

Build = Callable[[bytes], Any]  # a slice's JSON array text -> its result; None: not whole elements


class SlicedAnnotations:
    """The slices of one file's annotations array (``bounds``) and the rest of the document."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        found = _ARRAY_START.search(data)
        self.prefix_end = found.end() if found else -1
        self.bounds = self._cut() if found else []

    @property
    def usable(self) -> bool:
        return bool(self.bounds)

    def _cut(self) -> list[tuple[int, int]]:
        limit = self._next_section()
        bounds = []
        start = self.prefix_end
        while True:
            gap = _BETWEEN_ELEMENTS.search(self.data, start + SLICE_BYTES, limit)
            if gap is None:
                return bounds
            bounds.append((start, gap.start() + 1))
            start = gap.end() - 1

    def _next_section(self) -> int:
        """Where the array surely ends: before a "categories" or "images" key that follows it
        (COCO's own order puts "categories" last). A cut past the end would only make a slice
        that fails to parse. Each key is looked for before the array first (found at once in
        the usual order), then backwards from the end."""
        limit = len(self.data)
        for key in (b'"categories"', b'"images"'):
            if self.data.find(key, 0, self.prefix_end) < 0:
                after = self.data.rfind(key, self.prefix_end)
                if after > 0:
                    limit = min(limit, after)
        return limit

    def rest(self) -> dict[str, Any] | None:
        """The document without the sliced elements: its ``annotations`` hold the elements after
        the last slice. None when the document does not parse this way."""
        tail_start = self.data.index(b"{", self.bounds[-1][1]) if self.bounds else self.prefix_end
        text = self.data[:self.prefix_end] + _MARKER + self.data[tail_start:]
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        annotations = document.get("annotations") if type(document) is dict else None
        if type(annotations) is not list or not annotations or annotations[0] != {_MARKER_KEY: 0}:
            return None  # the array found was not the top-level annotations
        del annotations[0]
        return document


def slice_text(data: bytes, bounds: tuple[int, int]) -> bytes:
    """One slice as a JSON array text: ``[`` + slice + ``]``."""
    start, end = bounds
    return b"".join((b"[", memoryview(data)[start:end], b"]"))  # one copy, not two


def build_range(sliced: SlicedAnnotations, build: Build, first: int, end: int) -> list[Any] | None:
    """``build(text)`` of slices ``first`` to ``end`` - 1; None as soon as one does not parse."""
    out = []
    for k in range(first, end):
        built = build(slice_text(sliced.data, sliced.bounds[k]))
        if built is None:
            return None
        out.append(built)
    return out


class SliceJob:
    """The slices' results: the last ones built by a forked helper while this process builds
    the first ones (:meth:`run_here`) and whatever else the reader has to do; :meth:`finish`
    collects them. The helper sends each slice's columns as soon as they are built, and a thread
    here receives them, so neither process holds all of them twice."""

    def __init__(self, sliced: SlicedAnnotations, build: Build) -> None:
        self.sliced, self.build = sliced, build
        self.split = len(sliced.bounds)
        self.helper: _Helper | None = None
        if len(sliced.bounds) >= 2 and _parallel_ok(sliced.data):
            split = _share_here(sliced)
            self.helper = _Helper.start(sliced, build, split)
            if self.helper is not None:
                self.split = split
        self.here: list[Any] | None = []

    def run_here(self) -> None:
        self.here = build_range(self.sliced, self.build, 0, self.split)

    def release(self) -> None:
        """Drop this process's reference to the file's bytes (the helper has its own copy); a
        helper failure then makes :meth:`finish` answer None instead of building its share."""
        self.sliced.data = b""

    def cancel(self) -> None:
        """Stop the helper: its results are not wanted (the document does not slice)."""
        if self.helper is not None:
            self.helper.process.terminate()
            self.helper.join()
            self.helper = None

    def finish(self) -> list[Any] | None:
        """Every slice's result in order, or None when a slice did not parse."""
        there: list[Any] | None = []
        if self.helper is not None:
            there = self.helper.join()
            if there is _HELPER_FAILED:
                there = build_range(self.sliced, self.build, self.split, len(self.sliced.bounds)) \
                    if self.sliced.data else None
        if self.here is None or there is None:
            return None
        return self.here + there


def _share_here(sliced: SlicedAnnotations) -> int:
    """How many slices this process builds so that it finishes with the helper: it also parses
    and builds the rest of the document."""
    n = len(sliced.bounds)
    sliced_bytes = sliced.bounds[-1][1] - sliced.bounds[0][0]
    rest_slices = REST_COST * (len(sliced.data) - sliced_bytes) / max(1, sliced_bytes / n)
    # here: rest + h slices; helper: (n - h) slices, each (1 + overhead) as costly
    share = (n * (1 + HELPER_OVERHEAD) - rest_slices) / (2 + HELPER_OVERHEAD)
    return max(0, min(n - 1, round(share)))


# ------------------------------------------------------------------------------ the helper

_HELPER_FAILED = object()  # a constant sentinel, not state: no data passes between reads here


def _parallel_ok(data: bytes) -> bool:
    """fork is only safe without other threads (a lock held by one would stay held forever in
    the child), and only worth it on a big file with a second CPU that is idle."""
    if sys.platform != "linux" or len(data) < PARALLEL_MIN_BYTES or os.environ.get("DETLINT_NO_FORK"):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:  # pragma: no cover - Linux always has it
        cpus = os.cpu_count() or 1
    return cpus >= 2 and threading.active_count() == 1 and _idle_cpu(cpus)


def _idle_cpu(cpus: int) -> bool:
    """Whether a CPU is free for the helper (the last minute's load leaves one idle). With typed
    slices, sending the helper's columns back costs about what building them here does: on
    busy CPUs the helper only adds work (full scale, 2 CPUs under a load of 6: check 2.57 s wall
    and 2.58 s CPU with it, 2.28 s and 2.17 s without)."""
    try:
        average = os.getloadavg()[0]
    except OSError:  # pragma: no cover - Linux always has it
        return True
    return average <= cpus - 1 and _running_now() <= cpus - 1


def _running_now() -> int:
    """Runnable tasks at this instant, this process included (``/proc/loadavg``'s fourth field).
    The 1-minute average lags: a job started 10 s ago by someone else barely shows in it, and a
    helper forked beside it halves both processes' speed (full scale, one other busy process:
    load 1.75 s wall with the helper, 1.47 s without)."""
    try:
        with open("/proc/loadavg", "rb") as file:
            return int(file.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):  # no /proc: the average alone decides
        return 0


class _Helper:
    """A forked process building slices ``first`` onwards. It inherits the bytes and ``build``
    as the fork's arguments (nothing is pickled on the way in: the fork context runs the target
    in the child on the inherited objects, and ``Process.start`` drops the parent's references to
    them) and sends ("ok", result) per slice, ("bad", None) for a
    slice that does not parse, then ("done", None); ("failed", None) if it raises."""

    def __init__(self, process: Any, receiver: Any) -> None:
        self.process, self.receiver = process, receiver
        self.results: list[Any] = []
        self.outcome = "failed"
        self.thread = threading.Thread(target=self._receive, name="detlint-coco-slices", daemon=True)
        self.thread.start()

    @classmethod
    def start(cls, sliced: SlicedAnnotations, build: Build, first: int) -> _Helper | None:
        """A running helper, or None when no process can be forked."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        try:
            process = context.Process(target=_helper_main, args=(sliced, build, first, sender, os.getpid()),
                                      daemon=True)
            process.start()
        except (OSError, ValueError) as error:
            log.debug("COCO slices: no helper process (%s)", error)
            receiver.close()
            return None
        finally:
            sender.close()  # the parent's copy: the helper holds its own
        return cls(process, receiver)

    def _receive(self) -> None:
        try:
            while True:
                kind, result = self.receiver.recv()
                if kind != "ok":
                    self.outcome = kind
                    return
                self.results.append(result)
        except (EOFError, OSError, MemoryError) as error:  # the helper died
            log.debug("COCO slices: the helper failed (%s)", error)

    def join(self) -> Any:
        """The helper's results, None when one of its slices does not parse, or _HELPER_FAILED."""
        self.thread.join()
        self.receiver.close()
        self.process.join()
        if self.outcome == "done":
            return self.results
        return None if self.outcome == "bad" else _HELPER_FAILED


def _helper_main(sliced: SlicedAnnotations, build: Build, first: int, sender: Any,
                 parent_pid: int) -> None:
    """The forked helper's body: build slices ``first`` onwards and send each result. It ends with
    the parent: killed, the parent reads no more, and the helper (holding the pipe's read end too)
    would block on a full pipe forever, keeping the parent's stdout and stderr open."""
    bind_to_parent(parent_pid)
    try:
        for k in range(first, len(sliced.bounds)):
            built = build(slice_text(sliced.data, sliced.bounds[k]))
            if built is None:
                sender.send(("bad", None))
                return
            sender.send(("ok", built))
        sender.send(("done", None))
    except Exception:  # noqa: BLE001 - any failure: the parent decides what to do
        try:
            sender.send(("failed", None))
        except OSError:
            pass
    finally:
        sender.close()
