"""Parsing a big COCO file's ``annotations`` array in slices, on two processes where it can.

``orjson.loads`` of a 450 MB COCO file builds ~860k dicts at once: the tree, not the columns,
is the reader's peak memory, and turning it into columns doubles the time. This module cuts the
array's text between two elements every ``SLICE_BYTES``; the reader turns each slice into
columns and drops its dicts before the next one, and a forked helper process does every other
slice. The rest of the document (images, categories, the elements after the last good slice) is
parsed once at the end, with a marker element where the slices were.

Why a cut can be trusted: a slice starts where the previous one ended, right after a comma
between two elements, and it is accepted only when ``[`` + slice + ``]`` parses on its own. A cut
inside a string leaves that string unterminated and a cut inside a nested value leaves a bracket
open, and both fail to parse; by induction from the array's first byte every accepted slice, up
to the first one that fails, is exactly a run of whole elements. The rest of the document must
then parse with the marker as the first element of the top-level ``annotations`` (not of some
nested key of that name). When anything fails, the caller parses the whole file as usual:
slicing never changes a result.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from typing import Any, Callable

import orjson

log = logging.getLogger("detlint")

SLICE_BYTES = 4 << 20
MIN_BYTES = 32 << 20  # smaller files: one orjson.loads is as fast and as small
PARALLEL_MIN_BYTES = 64 << 20  # below this a second process costs more than it saves
_ARRAY_START = re.compile(rb'"annotations"\s*:\s*\[\s*(?=\{)')
_BETWEEN_ELEMENTS = re.compile(rb"\}\s*,\s*\{")
_MARKER_KEY = "\x00detlint-slices"
_MARKER = b'{"\\u0000detlint-slices":0},'


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
        # the array ends before a "categories" that follows it (COCO's own order): a cut there
        # would only make a slice that fails to parse. rfind: found at once near the end.
        section = self.data.rfind(b'"categories"', self.prefix_end)
        limit = section if section > 0 else len(self.data)
        bounds = []
        start = self.prefix_end
        while True:
            gap = _BETWEEN_ELEMENTS.search(self.data, start + SLICE_BYTES, limit)
            if gap is None:
                return bounds
            bounds.append((start, gap.start() + 1))
            start = gap.end() - 1

    def rest(self, good: int) -> dict[str, Any] | None:
        """The document without the first ``good`` slices: its ``annotations`` hold the elements
        after them. None when the document does not parse this way."""
        tail_start = self.bounds[good - 1][1] if good else self.prefix_end
        if good:
            tail_start = self.data.index(b"{", tail_start)  # past the comma after the last slice
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


def parse_slice(data: bytes, bounds: tuple[int, int]) -> list[Any] | None:
    """The elements of one slice, or None when it is not a run of whole elements."""
    start, end = bounds
    try:
        items = orjson.loads(b"[" + data[start:end] + b"]")
    except orjson.JSONDecodeError:
        return None
    return items if type(items) is list else None


def build_all(sliced: SlicedAnnotations, build: Callable[[list[Any]], Any]) -> list[Any]:
    """``build(items)`` of each slice up to the first that fails, in order: the odd slices in
    a forked helper process where that is safe and worth it, else all here."""
    helper = _start_helper(sliced, build)
    results: list[Any] = []
    for k, bounds in enumerate(sliced.bounds):
        if helper is not None and k % 2:
            results.append(None)  # the helper's
            continue
        items = parse_slice(sliced.data, bounds)
        if items is None:
            break
        results.append(build(items))
        del items
    if helper is not None:
        results = _join_helper(helper, sliced, build, results)
    return _up_to_first_failure(results)


def _up_to_first_failure(results: list[Any]) -> list[Any]:
    for k, result in enumerate(results):
        if result is None:
            return results[:k]
    return results


# ------------------------------------------------------------------------------ the helper


def _parallel_ok(data: bytes) -> bool:
    """fork is only safe without other threads (a lock held by one would stay held forever in
    the child), and only worth it on a big file with a second CPU."""
    if sys.platform != "linux" or len(data) < PARALLEL_MIN_BYTES or os.environ.get("DETLINT_NO_FORK"):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:  # pragma: no cover - Linux always has it
        cpus = os.cpu_count() or 1
    return cpus >= 2 and threading.active_count() == 1


def _start_helper(sliced: SlicedAnnotations, build: Callable[[list[Any]], Any]) -> Any:
    """A forked process building the odd slices; it inherits the bytes and ``build`` (nothing
    is pickled on the way in) and sends its results back through a pipe."""
    global _FORKED
    if len(sliced.bounds) < 2 or not _parallel_ok(sliced.data):
        return None
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    _FORKED = (sliced, build, sender)
    try:
        process = context.Process(target=_helper_main, daemon=True)
        process.start()
    except (OSError, ValueError) as error:
        log.debug("COCO slices: no helper process (%s)", error)
        receiver.close()
        return None
    finally:
        _FORKED = None
        sender.close()  # the parent's copy: the helper holds its own
    return process, receiver


_FORKED: tuple[SlicedAnnotations, Callable[[list[Any]], Any], Any] | None = None


def _helper_main() -> None:
    sliced, build, sender = _FORKED  # type: ignore[misc]
    try:
        result: Any = _odd_builds(sliced, build)
    except Exception:  # noqa: BLE001 - any failure: the parent builds these slices itself
        result = None
    try:
        sender.send(result)
    finally:
        sender.close()


def _odd_builds(sliced: SlicedAnnotations, build: Callable[[list[Any]], Any]) -> list[Any]:
    """``build`` of slices 1, 3, 5, ..., stopping after the first that fails (None)."""
    out = []
    for k in range(1, len(sliced.bounds), 2):
        items = parse_slice(sliced.data, sliced.bounds[k])
        out.append(build(items) if items is not None else None)
        if items is None:
            break
    return out


def _join_helper(helper: Any, sliced: SlicedAnnotations, build: Callable[[list[Any]], Any],
                 results: list[Any]) -> list[Any]:
    process, receiver = helper
    try:
        built = receiver.recv()
    except (EOFError, OSError, MemoryError) as error:  # the helper died
        log.debug("COCO slices: the helper failed (%s)", error)
        built = None
    finally:
        receiver.close()
        process.join()
    if built is None:  # do its share here
        built = _odd_builds(sliced, build)
    for j, result in enumerate(built):
        k = 2 * j + 1
        if k < len(results):
            results[k] = result
    return results
