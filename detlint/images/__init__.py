"""Image access: header probe, full decode, content and perceptual hashes; parallel and cached.

Levels (``detlint check --images``):

- ``none``: no image is opened.
- ``header``: Pillow's lazy open reads only the header (stored size, mode, EXIF orientation);
  pixels are never decoded. Runs on a thread pool when storage is slow (the first batch is timed;
  from the OS file cache one thread is faster, the parsing holds the GIL).
- ``decode``: each file is read once: a blake2b hash of its bytes (exact copies), a full decode
  of the pixel data (truncated, corrupt, not an image) and a 64-bit DCT perceptual hash of the
  pixels (near copies: resized, re-encoded, slightly cropped). Runs on a process pool sized to
  the machine. Colour JPEGs are decoded to luminance: every coefficient is still decoded and
  checked, only the colour conversion the hash does not need is skipped.

:func:`image_report` computes these per-image results for a whole dataset once per run and
memoises them on the dataset, so every image rule reads numpy columns and no image is opened
twice. Results are cached on disk per dataset root, keyed by (absolute path, size, mtime_ns), so
a second run only touches changed files. The cache never fails a check: a corrupt file or a
read-only location means no cache (a debug log line, nothing more).

Cache location: ``DETLINT_CACHE_DIR`` if set; else ``$XDG_CACHE_HOME/detlint`` or
``~/.cache/detlint`` (Linux), ``~/Library/Caches/detlint`` (macOS),
``%LOCALAPPDATA%\\detlint\\Cache`` (Windows).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detlint import fileio
from detlint.boundary import CACHE_BYTES, Boundary, read_file
from detlint.fileio import cache_dir
from detlint.headers import (
    LEVEL_DECODE,
    LEVEL_HEADER,
    SWAPPING_ORIENTATIONS,
    HeaderMemo,
    pillow_facts,
    probe_header,
    refused_reason,
    unreadable_reason,
)
from detlint.images.hashing import first_pair_per_row, hash_pairs, near_row_pairs, perceptual_hash, popcount64  # noqa: F401 - re-exported
from detlint.subprocs import bind_to_parent

log = logging.getLogger("detlint")

CACHE_VERSION = 1
_RECORD_LEN = 9  # see detlint.headers: [level, width, height, orientation, mode, header_error, ...]
_STAT_FAILED = -1

_HEADER_BATCH = 128  # images per thread-pool task: amortises the per-task overhead
_SMALL_INPUT = 32  # fewer misses than this are probed in-process (a pool costs more than it saves)


# ------------------------------------------------------------------------------------- probing


def probe_file(path: str, decode: bool, boundary: Boundary) -> list:
    """The record of one image file: header facts, and with ``decode`` the decode outcome and
    hashes. Only a regular file inside ``boundary`` is opened."""
    from PIL import Image

    if not decode:
        return probe_header(path, boundary)
    data = boundary.read(path)
    if not isinstance(data, bytes):
        reason = refused_reason(data)
        return [LEVEL_DECODE, 0, 0, 1, "", reason, reason, None, None]
    sha = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        im = Image.open(io.BytesIO(data))
    except Exception as error:
        reason = unreadable_reason(error)
        return [LEVEL_DECODE, 0, 0, 1, "", reason, reason, sha, None]
    with im:
        facts = pillow_facts(im)
        if im.format == "JPEG" and im.mode == "RGB":
            # Decode luminance only: libjpeg still entropy-decodes every coefficient of every
            # component (so truncation and corrupt data fail as they would in RGB), but skips the
            # chroma IDCT, upsampling and colour conversion the hash does not need: ~30% less CPU.
            im.draft("L", im.size)
        try:
            im.load()
            phash = perceptual_hash(im)
        except Exception as error:  # truncated data, corrupt stream, decompression bomb, ...
            return [LEVEL_DECODE, *facts, None, unreadable_reason(error), sha, None]
    return [LEVEL_DECODE, *facts, None, None, sha, phash]


def _decode_batch(paths: list[str], boundary: Boundary) -> list[list]:
    """Decode a batch (a process-pool task). Truncated files must fail, whatever the caller set."""
    from PIL import ImageFile

    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's EXIF/palette warnings are not findings
            return [probe_file(p, True, boundary) for p in paths]
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _stat_batch(paths: list[str]) -> list[tuple[int, int] | str]:
    out: list[tuple[int, int] | str] = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append((st.st_size, st.st_mtime_ns))
        except OSError as error:
            out.append(f"cannot read the file: {error.strerror or error}")
    return out


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def cpu_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _run_batches(fn: Callable[[list[str]], list], paths: list[str], batch: int, executor: str,
                 desc: str) -> list:
    """``fn`` over batches of ``paths`` on a pool, flattened in order, with a progress bar."""
    from detlint.fileio import progress_bar

    if not paths:
        return []
    workers = cpu_workers() if executor == "process" else min(32, cpu_workers() * 4)
    if len(paths) < _SMALL_INPUT or workers == 1:
        return list(progress_bar(iter(fn(paths)), total=len(paths), desc=desc))
    chunks = _batches(paths, batch)
    if executor == "process":
        from concurrent.futures import ProcessPoolExecutor  # here: multiprocessing only when decoding

        try:
            # Workers die with this process, even SIGKILLed (see detlint.subprocs).
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), initializer=bind_to_parent,
                                     initargs=(os.getpid(),)) as pool:
                results = pool.map(fn, chunks)
                return list(progress_bar((r for chunk in results for r in chunk), total=len(paths), desc=desc))
        except (OSError, RuntimeError, ImportError) as error:  # no semaphores, broken pool, frozen app
            log.debug("process pool unavailable (%s); decoding in-process", error)
            return fn(paths)
    return _run_threads(fn, chunks, workers, desc)


def _run_threads(fn: Callable[[list[str]], list], chunks: list[list[str]], workers: int, desc: str) -> list:
    """Header work is I/O plus GIL-bound parsing: threads pay off only when the files are slow to
    reach (cold disk, network share). The first batch, timed in-process, decides."""
    from detlint.fileio import progress_bar

    start = time.perf_counter()
    head = fn(chunks[0])
    io_bound = (time.perf_counter() - start) / max(1, len(chunks[0])) > fileio.IO_BOUND_SECONDS
    rest = chunks[1:]
    total = sum(len(chunk) for chunk in rest)
    if not io_bound or len(rest) < 2:
        return head + list(progress_bar((r for chunk in map(fn, rest) for r in chunk), total=total, desc=desc))
    with ThreadPoolExecutor(max_workers=min(workers, len(rest))) as pool:
        results = pool.map(fn, rest)
        return head + list(progress_bar((r for chunk in results for r in chunk), total=total, desc=desc))


# --------------------------------------------------------------------------------------- cache


class ImageCache:
    """Per-image probe results on disk: one JSON file per dataset root, ``{path: record}``.

    Every failure (missing, corrupt, unwritable) degrades to "no cache" and is logged at debug level.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory  # None: caching disabled

    @classmethod
    def open(cls, enabled: bool = True) -> ImageCache:
        return cls(cache_dir() if enabled else None)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def file_for(self, root: str) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.blake2b(root.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
        return self.directory / f"images-v{CACHE_VERSION}-{digest}.json"

    def stored_bytes(self, root: str) -> int:
        path = self.file_for(root)
        try:
            return path.stat().st_size if path is not None else 0
        except OSError:
            return 0

    def load(self, root: str) -> dict[str, list]:
        """The cached records of the dataset at ``root`` ({} when none or unusable)."""
        import orjson

        path = self.file_for(root)
        if path is None:
            return {}
        try:
            data = orjson.loads(read_file(path, CACHE_BYTES))
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as error:
            log.debug("image cache %s unreadable (%s); ignoring it", path, error)
            return {}
        if not (isinstance(data, dict) and data.get("version") == CACHE_VERSION and data.get("root") == root
                and isinstance(data.get("entries"), dict)):
            log.debug("image cache %s has an unexpected layout; ignoring it", path)
            return {}
        return data["entries"]

    def save(self, root: str, entries: dict[str, list]) -> None:
        import orjson

        from detlint.fileio import atomic_write_bytes

        path = self.file_for(root)
        if path is None:
            return
        try:
            payload = orjson.dumps({"version": CACHE_VERSION, "root": root, "entries": entries})
            atomic_write_bytes(path, payload)
        except (OSError, TypeError, orjson.JSONEncodeError) as error:
            log.debug("image cache %s not written (%s)", path, error)


def _cached_record(entry: Any, stat: tuple[int, int], level: int) -> list | None:
    """The record in a cache entry ``[size, mtime_ns, *record]`` if it is valid and fresh enough."""
    if (type(entry) is not list or len(entry) != 2 + _RECORD_LEN or entry[0] != stat[0]
            or entry[1] != stat[1] or type(entry[2]) is not int or entry[2] < level):
        return None
    record = entry[2:]
    if not (type(record[1]) is int and type(record[2]) is int and type(record[3]) is int
            and type(record[4]) is str and (record[8] is None or type(record[8]) is int)):
        return None
    return record


# -------------------------------------------------------------------------------------- report


@dataclass
class ImageReport:
    """Per-image-row results of one probe level: numpy columns aligned with ``ds.images``.

    ``exists``: a file was found for the row. ``stored_*``: pixel size as stored; ``real_*``: as a
    viewer shows it (after EXIF orientation). ``header_error``/``decode_error``: None or Pillow's
    reason. ``sha`` (decode): hex digest of the bytes. ``phash`` (decode): 64-bit perceptual hash,
    valid where ``has_phash``.
    """

    level: str
    paths: np.ndarray
    exists: np.ndarray
    stored_width: np.ndarray
    stored_height: np.ndarray
    real_width: np.ndarray
    real_height: np.ndarray
    orientation: np.ndarray
    mode: np.ndarray
    header_error: np.ndarray
    decode_error: np.ndarray
    sha: np.ndarray
    phash: np.ndarray
    has_phash: np.ndarray
    probed: int = 0  # files opened this run (cache misses)
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def readable(self) -> np.ndarray:
        """Rows whose header could be read (sizes, mode and orientation are meaningful)."""
        return self.exists & np.array([e is None for e in self.header_error.tolist()], dtype=bool)

    @property
    def first_of_file(self) -> np.ndarray:
        """Rows that are the first entry of their file: facts about a file are reported once."""
        first = np.zeros(len(self.paths), dtype=bool)
        first[list({p: row for row, p in reversed(list(enumerate(self.paths.tolist())))}.values())] = True
        return first & self.exists

    def near_pairs(self, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row pairs (i < j) whose perceptual hashes differ in at most ``max_distance`` bits,
        excluding pairs of one file (same path) and exact copies (same bytes)."""
        key = ("near", int(max_distance))
        if key not in self._memo:
            self._memo[key] = near_row_pairs(self, int(max_distance))
        return self._memo[key]


FEW_HEADERS = 256
BIG_CACHE_BYTES = 2 << 20  # ~15k images' records


def image_report(ds: Any, level: str, cache: ImageCache | None = None, memo: dict | None = None,
                 headers: HeaderMemo | None = None) -> ImageReport:
    """Per-image results for ``ds`` at ``level`` (header or decode).

    ``memo`` (the run's dict for ``ds``, see ``RuleContext.memo_for``) keeps the report so that every image rule of a
    run reads the same one; ``headers`` holds the header records the reader already probed.
    """
    if level not in ("header", "decode"):
        raise ValueError(f"image level must be header or decode, not {level!r}")
    reports = memo if memo is not None else {}
    for have in (level, "decode"):
        report = reports.get(have)
        if report is not None and len(report.paths) == len(ds.images) and \
                np.array_equal(report.paths, ds.images.path):
            return report
    report = _probe_dataset(ds, level, cache, headers if headers is not None else HeaderMemo())
    reports[level] = report
    return report


def _probe_dataset(ds: Any, level: str, cache: ImageCache | None, headers: HeaderMemo) -> ImageReport:
    root = os.path.abspath(ds.image_dir)  # where images.path resolves
    paths = np.asarray(ds.images.path, dtype=object)
    unique = list(dict.fromkeys(p for p in paths.tolist() if p))
    absolute = [os.path.normpath(os.path.join(root, p)) for p in unique]
    want = LEVEL_DECODE if level == "decode" else LEVEL_HEADER
    if want == LEVEL_HEADER and len(unique) <= FEW_HEADERS and cache is not None and \
            cache.stored_bytes(root) > BIG_CACHE_BYTES:
        cache = None  # reading a few headers beats loading a 118k-image cache (a re-check of a few files)
    entries = cache.load(root) if cache is not None else {}
    boundary = Boundary(Path(root))

    def look_up(batch: list[str]) -> list[tuple[Any, list | None, bool]]:
        """(stat, record, probed now) per path: a fresh cache entry, else a header probe; decode
        misses come back without a record, for the process pool."""
        out = []
        for path, stat in zip(batch, _stat_batch(batch)):
            if isinstance(stat, str):
                out.append((stat, [want, 0, 0, 1, "", stat, stat if want == LEVEL_DECODE else None, None, None],
                            False))
                continue
            record = _cached_record(entries.get(path), stat, want)
            probed = headers.pop(path, None)
            if record is None and want == LEVEL_HEADER:
                out.append((stat, probed or probe_file(path, False, boundary), True))
            else:
                out.append((stat, record, False))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's EXIF warnings are not findings
        looked_up = _run_batches(look_up, absolute, _HEADER_BATCH, "thread", "image headers")
    records = [record for _, record, _ in looked_up]
    fresh = [i for i, (_, record, probed) in enumerate(looked_up) if probed or record is None]
    misses = [i for i in fresh if records[i] is None]
    decode = functools.partial(_decode_batch, boundary=boundary)
    decoded = _run_batches(decode, [absolute[i] for i in misses], _decode_chunk(len(misses)), "process",
                           "decoding images")
    for i, record in zip(misses, decoded):
        records[i] = record
    for i in fresh:
        entries[absolute[i]] = [*looked_up[i][0], *records[i]]
    if fresh and cache is not None:
        cache.save(root, entries)
    return _columns(paths, unique, records, level, len(fresh))


def _decode_chunk(n: int) -> int:
    """Images per process-pool task: big enough to amortise pickling, small enough to balance."""
    return max(4, min(64, n // (cpu_workers() * 8) or 4))


def _columns(paths: np.ndarray, unique: list[str], records: list, level: str, probed: int) -> ImageReport:
    n = len(paths)
    position = {p: i for i, p in enumerate(unique)}
    index = np.array([position.get(p, -1) for p in paths.tolist()], dtype=np.int64)
    exists = index >= 0
    filled = [records[i] for i in index.tolist() if i >= 0]

    def column(k: int, dtype: Any, absent: Any) -> np.ndarray:
        out = np.full(n, absent, dtype=dtype)
        if filled:
            out[exists] = np.array([r[k] for r in filled], dtype=dtype)
        return out

    def objects(k: int) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        values = [r[k] for r in filled]
        if values:
            out[np.flatnonzero(exists)] = np.array(values + [None], dtype=object)[:-1]
        return out

    stored_w, stored_h = column(1, np.int64, 0), column(2, np.int64, 0)
    orientation = column(3, np.uint8, 1)
    swapped = np.isin(orientation, list(SWAPPING_ORIENTATIONS))
    phash_values = objects(8)
    has_phash = np.array([v is not None for v in phash_values.tolist()], dtype=bool)
    phash = np.zeros(n, np.uint64)
    if has_phash.any():
        phash[has_phash] = np.array([int(v) for v in phash_values[has_phash].tolist()], dtype=np.uint64)
    return ImageReport(
        level=level, paths=paths.copy(), exists=exists, stored_width=stored_w, stored_height=stored_h,
        real_width=np.where(swapped, stored_h, stored_w), real_height=np.where(swapped, stored_w, stored_h),
        orientation=orientation, mode=objects(4), header_error=objects(5), decode_error=objects(6),
        sha=objects(7), phash=phash, has_phash=has_phash, probed=probed,
    )


def report_for(ds: Any, ctx: Any) -> ImageReport:
    """The image report at the run's ``--images`` level (for rules)."""
    return image_report(ds, ctx.images, ctx.cache, memo=ctx.memo_for(ds, "image_report"), headers=ctx.headers)


# ----------------------------------------------------------------------------- near duplicates


def exact_groups(report: ImageReport) -> list[list[int]]:
    """Rows sharing one content hash, in row order; only groups with two or more distinct files."""
    key = ("exact",)
    if key not in report._memo:
        by_hash: dict[str, list[int]] = {}
        for row, sha in enumerate(report.sha.tolist()):
            if sha is not None:
                by_hash.setdefault(sha, []).append(row)
        paths = report.paths
        report._memo[key] = [rows for rows in by_hash.values()
                             if len(rows) > 1 and len({paths[r] for r in rows}) > 1]
    return report._memo[key]


def near_copies(ds: Any, ctx: Any, max_distance: int, across_splits: bool) -> list[tuple[int, int, int]]:
    """(row, earliest look-alike row, hash distance) for each image that has a near copy in the
    same split (``across_splits`` False: I010) or in another split (True: S002)."""
    report = report_for(ds, ctx)
    i, j, distance = report.near_pairs(max_distance)
    split = ds.images.split
    mask = (split[i] != split[j]) if across_splits else (split[i] == split[j])
    return [(int(j[k]), int(i[k]), int(distance[k])) for k in first_pair_per_row(j, mask).tolist()]
