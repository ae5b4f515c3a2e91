"""Label files to rows: reading them in batches, one vectorised parse of all their lines, and the
:class:`~detlint.readcache.RowTable` the parse cache stores (and its inverse).

Rows: ``cls cx cy w h`` is a box (kind 0); ``cls x1 y1 ... xn yn`` with at least 3 points is a
polygon (kind 1, normalised points kept in ``segmentation``, box = the polygon's bounding box,
``raw`` = that bounding box as normalised ``cx cy w h``). Anything else is F006 at its line and
skipped. Empty label files are negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from detlint import fileio
from detlint.boundary import Boundary
from detlint.findings import Finding
from detlint.formats.protocol import ReadOptions
from detlint.formats.yolo.paths import rel
from detlint.model import Annotations
from detlint.readcache import RowTable

ROW_COLUMNS = ("line", "class_value", "raw", "kind")
MAX_CLASS = 2**31 - 1  # class indices past it do not fit the int32 class column (no list is that long)


@dataclass
class Rows:
    """Parsed label rows, in file order: one entry per valid line."""

    file: np.ndarray  # int64 index into the label list
    line: np.ndarray  # 1-based
    class_value: np.ndarray  # int64
    raw: np.ndarray  # float64[N,4], cx cy w h (for polygons: of their bounding box)
    norm_xyxy: np.ndarray  # float64[N,4]
    kind: np.ndarray  # uint8
    segmentation: np.ndarray  # object
    malformed: list[tuple[int, int, str]]  # (file, line, reason)


# ------------------------------------------------------------------------------------ reading


def _read_labels(paths: list[str], boundary: Boundary) -> list[tuple[str, Finding | None]]:
    """Read a batch of label files inside ``boundary`` (batched: one thread-pool task per file
    costs more than the read).

    ASCII files, nearly all, need no UTF-8 decoding; any other goes through
    :func:`fileio.decode_text`.
    """
    results: list[tuple[str, Finding | None]] = []
    limit = boundary.limits.label_bytes
    for path in paths:
        data = fileio.read_bytes(path, boundary, limit)
        if isinstance(data, Finding):
            results.append(("", data))
        elif data.isascii():
            results.append((data.decode("ascii"), None))
        else:
            text, problem = fileio.decode_text(data)
            results.append((text if text is not None else "", problem))
    return results


def read_all(labels: list[str], options: ReadOptions, problems: list[Finding], root: str) -> list[str]:
    """Texts of all label files (unreadable ones: "" plus an F001; outside the root: an F008)."""
    boundary = options.boundary(root)
    results = fileio.batch_map(lambda batch: _read_labels(batch, boundary), labels, options.workers,
                               desc="labels", progress=options.progress)
    texts: list[str] = []
    for label, (text, problem) in zip(labels, results):
        if problem is not None:
            problem.file = rel(label, root)
            problems.append(problem)
        texts.append(text)
    return texts


# ------------------------------------------------------------------------------------ parsing


def _to_floats(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Values of the tokens and a mask of the non-numeric ones (NaN there).

    ``float`` itself (what the slow path uses too) is the fastest parser here: ~10% faster than
    ``np.array(tokens, float)`` and as fast as ``np.fromstring``/``np.loadtxt``.
    """
    try:
        return np.fromiter(map(float, tokens), np.float64, len(tokens)), np.zeros(len(tokens), bool)
    except ValueError:
        values = np.empty(len(tokens), np.float64)
        bad = np.zeros(len(tokens), bool)
        for i, token in enumerate(tokens):
            try:
                values[i] = float(token)
            except ValueError:
                values[i] = np.nan
                bad[i] = True
        return values, bad


def parse_rows(texts: list[str]) -> Rows:
    """Parse all label files at once: one big split, numpy for the numbers."""
    joined = "\n".join(texts)
    lines = joined.split("\n")
    per_file = np.fromiter(map(str.count, texts, repeat("\n")), np.int64, len(texts)) + 1
    file_of_line = np.repeat(np.arange(len(texts), dtype=np.int64), per_file)
    line_number = np.arange(len(lines), dtype=np.int64) - np.repeat(np.cumsum(per_file) - per_file, per_file) + 1
    counts = _tokens_per_line(joined, lines)
    tokens = joined.split()
    values, bad = _to_floats(tokens)
    plain = joined.isascii() and "_" not in joined  # nearly always: no per-token work below
    if not plain:
        bad |= _not_ascii_number(tokens)
        values[bad] = np.nan
    starts = np.cumsum(counts) - counts
    bad_cum = np.concatenate([[0], np.cumsum(bad)])
    line_bad = bad_cum[starts + counts] - bad_cum[starts] > 0
    if not plain:  # a non-ASCII space splits like an ASCII one, but YOLO files are ASCII
        line_bad |= ~np.fromiter(map(str.isascii, lines), bool, len(lines))
    nonblank = counts > 0
    class_value = np.where(nonblank, values[np.minimum(starts, max(len(values) - 1, 0))] if len(values) else 0, np.nan)
    with np.errstate(invalid="ignore"):
        class_ok = (np.isfinite(class_value) & (class_value >= 0) & (class_value == np.floor(class_value))
                    & (class_value <= MAX_CLASS))
    is_box = counts == 5
    is_polygon = (counts >= 7) & (counts % 2 == 1)
    valid = nonblank & (is_box | is_polygon) & ~line_bad & class_ok
    malformed_idx = np.flatnonzero(nonblank & ~valid)
    malformed = [(int(file_of_line[i]), int(line_number[i]),
                  _malformed_reason(lines[i], int(counts[i]), bool(line_bad[i]))) for i in malformed_idx]
    keep = np.flatnonzero(valid)
    raw, norm, kind, segmentation = _row_geometry(values, starts, counts, keep, is_box[keep])
    return Rows(file=file_of_line[keep], line=line_number[keep],
                class_value=class_value[keep].astype(np.int64), raw=raw, norm_xyxy=norm,
                kind=kind, segmentation=segmentation, malformed=malformed)


def _row_geometry(values: np.ndarray, starts: np.ndarray, counts: np.ndarray, keep: np.ndarray,
                  box_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """raw ``cx cy w h``, normalised xyxy, kind and polygon points of the kept lines ``keep``."""
    n = len(keep)
    raw = np.full((n, 4), np.nan)
    norm = np.full((n, 4), np.nan)
    kind = np.zeros(n, np.uint8)
    segmentation = np.full(n, None, dtype=object)
    box_starts = starts[keep[box_rows]]
    raw[box_rows] = values[box_starts[:, None] + np.arange(1, 5)]
    norm[box_rows] = corners(raw[box_rows])
    poly_rows = np.flatnonzero(~box_rows)
    kind[poly_rows] = Annotations.KIND_POLYGON
    for row in poly_rows:
        line_index = keep[row]
        points = values[starts[line_index] + 1: starts[line_index] + counts[line_index]]
        xs, ys = points[0::2], points[1::2]
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max(), ys.max()
        norm[row] = (x1, y1, x2, y2)
        raw[row] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
        segmentation[row] = points.tolist()
    return raw, norm, kind, segmentation


def corners(raw: np.ndarray) -> np.ndarray:
    """Normalised xyxy of ``cx cy w h`` rows."""
    cx, cy, w, h = raw.T
    # inf - inf and overflow give NaN/inf boxes: B004 reports them, numpy need not warn
    with np.errstate(invalid="ignore", over="ignore"):
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


# Whitespace that str.split() splits on besides the single space and the newline: where none of
# it occurs and no line starts or ends with a space or holds two in a row, a line's tokens are
# its spaces plus one (half the cost of splitting every line).
_OTHER_WHITESPACE = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "  ", " \n", "\n ")


def _tokens_per_line(joined: str, lines: list[str]) -> np.ndarray:
    """How many whitespace-separated tokens each line has (``len(line.split())``)."""
    simple = (joined.isascii() and not joined.startswith(" ") and not joined.endswith(" ")
              and not any(other in joined for other in _OTHER_WHITESPACE))
    if not simple:
        return np.fromiter(map(len, map(str.split, lines)), np.int64, len(lines))
    spaces = np.fromiter(map(str.count, lines, repeat(" ")), np.int64, len(lines))
    blank = np.fromiter(map(len, lines), np.int64, len(lines)) == 0
    return np.where(blank, 0, spaces + 1)


def _malformed_reason(line: str, count: int, has_bad_token: bool) -> str:
    tokens = line.split()
    if has_bad_token:
        token = next((t for t in tokens if not is_number(t)), None)
        if token is None:  # every token is a number: the spaces between them are not ASCII
            odd = next(c for c in line if not c.isascii())
            return f"non-ASCII character {odd!r} in {line.strip()!r}: YOLO label files are ASCII"
        return f"non-numeric value {token!r} in {line.strip()!r}" + (
            ": YOLO numbers are ASCII digits, without '_'" if _looks_numeric(token) else "")
    if count not in (5,) and not (count >= 7 and count % 2 == 1):
        return (f"expected 5 values (class cx cy w h) or a polygon (class and 3+ x y pairs), "
                f"got {count}: {line.strip()!r}")
    if float(tokens[0]) > MAX_CLASS:
        return f"class {tokens[0]!r} is not a class index: larger than {MAX_CLASS}"
    return f"class {tokens[0]!r} is not a non-negative integer index"


def is_number(token: str) -> bool:
    """A float literal in ASCII (Python's ``float`` also takes ``1_0`` and non-ASCII digits)."""
    if not token.isascii() or "_" in token:
        return False
    try:
        float(token)
        return True
    except ValueError:
        return False


def _looks_numeric(token: str) -> bool:
    """``float`` takes it, though YOLO does not (``1_0``, ``١``, ``１``)."""
    try:
        float(token)
        return True
    except ValueError:
        return False


def _not_ascii_number(tokens: list[str]) -> np.ndarray:
    """Mask of the tokens ``float`` takes but YOLO does not (only when some text needs it)."""
    return np.fromiter((not t.isascii() or "_" in t for t in tokens), bool, len(tokens))


# -------------------------------------------------------------------------------- row tables


def parse_labels(labels: list[str], which: list[int], options: ReadOptions, problems: list[Finding],
                 root: str) -> RowTable:
    """Read and parse ``labels[i]`` for ``i`` in ``which``: a table of their rows, file by file.

    Per-file leftovers go to ``extras``: malformed lines ``[line, reason]``, polygon points
    ``[row within the file, points]``, and ``uncacheable`` for a file that could not be read.
    """
    paths = [labels[i] for i in which]
    if not paths:
        return RowTable(counts=np.zeros(0, np.int64), columns={
            "line": np.zeros(0, np.int64), "class_value": np.zeros(0, np.int64),
            "raw": np.zeros((0, 4)), "kind": np.zeros(0, np.uint8)})
    before = len(problems)
    texts = read_all(paths, options, problems, root)
    unreadable = {p.file for p in problems[before:]}
    rows = parse_rows(texts)
    counts = np.bincount(rows.file, minlength=len(paths)).astype(np.int64)
    columns = {"line": rows.line, "class_value": rows.class_value, "raw": rows.raw, "kind": rows.kind}
    return RowTable(counts=counts, columns=columns, extras=_extras(rows, counts, paths, unreadable, root))


def _extras(rows: Rows, counts: np.ndarray, paths: list[str], unreadable: set[str | None],
            root: str) -> dict[int, Any]:
    """The per-file leftovers of :func:`parse_labels`."""
    starts = np.cumsum(counts) - counts
    extras: dict[int, Any] = {}
    for file, line, reason in rows.malformed:
        extras.setdefault(file, {}).setdefault("malformed", []).append([line, reason])
    for row in np.flatnonzero(rows.kind == Annotations.KIND_POLYGON).tolist():
        file = int(rows.file[row])
        extras.setdefault(file, {}).setdefault("polygons", []).append(
            [row - int(starts[file]), rows.segmentation[row]])
    if unreadable:
        for i, path in enumerate(paths):
            if rel(path, root) in unreadable:
                extras.setdefault(i, {})["uncacheable"] = True
    return extras


def rows_of(table: RowTable) -> Rows:
    """The parsed rows of a table (the inverse of :func:`parse_labels`, for any file order)."""
    raw = table.columns["raw"].astype(np.float64, copy=False)
    kind = table.columns["kind"].astype(np.uint8, copy=False)
    file = np.repeat(np.arange(len(table.counts), dtype=np.int64), table.counts)
    starts = table.offsets[:-1]
    norm = corners(raw) if len(raw) else np.zeros((0, 4))
    segmentation = np.full(len(raw), None, dtype=object)
    malformed: list[tuple[int, int, str]] = []
    for file_index, extra in sorted(table.extras.items()):
        for line, reason in extra.get("malformed", ()):
            malformed.append((file_index, int(line), str(reason)))
        for offset, points in extra.get("polygons", ()):
            row = int(starts[file_index]) + int(offset)
            values = np.asarray(points, np.float64)
            xs, ys = values[0::2], values[1::2]
            norm[row] = (xs.min(), ys.min(), xs.max(), ys.max())
            segmentation[row] = values.tolist()
    return Rows(file=file, line=table.columns["line"].astype(np.int64, copy=False),
                class_value=table.columns["class_value"].astype(np.int64, copy=False), raw=raw,
                norm_xyxy=norm, kind=kind, segmentation=segmentation, malformed=malformed)
