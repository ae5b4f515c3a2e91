"""One box CSV into columns in one pass: the csv module reads rows in chunks, each chunk is
transposed into per-column arrays at once (no dict per row; the 14M-row train file is held as
columns, never as row objects)."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, field

import numpy as np

CHUNK = 500_000  # rows transposed at a time (bounds the row objects alive at once)
NUMBERS = ("XMin", "YMin", "XMax", "YMax")  # in the model's order: x1 y1 x2 y2
FLAGS = ("IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
TEXTS = ("ImageID", "LabelName", "Source", "Confidence")


@dataclass
class Table:
    """The good rows' columns (texts as object arrays, ``raw`` float64[N, 4], flags int8 with
    -1 where the column is absent or empty) and the (line, reason) of each bad row."""

    line: np.ndarray
    texts: dict[str, np.ndarray]
    raw: np.ndarray
    flags: dict[str, np.ndarray]
    malformed: list[tuple[int, str]] = field(default_factory=list)


def _lines(text: str) -> tuple[list[list[str]], list[int]]:
    """The rows and their 1-based lines (a quoted field may span lines: then the reader's count)."""
    if '"' not in text:
        rows = list(csv.reader(io.StringIO(text)))
        return rows, list(range(1, len(rows) + 1))
    reader = csv.reader(io.StringIO(text))
    rows, lines = [], []
    for row in reader:
        rows.append(row)
        lines.append(reader.line_num)
    return rows, lines


def _floats(values: tuple[str, ...], bad: np.ndarray, lines: np.ndarray, name: str,
            malformed: list[tuple[int, str]]) -> np.ndarray:
    try:
        return np.array(values, np.float64)
    except ValueError:  # one bad token: find it (rare), the rest stays one conversion
        out = np.full(len(values), np.nan)
        for i, value in enumerate(values):
            try:
                out[i] = float(value)
            except ValueError:
                if not bad[i]:
                    malformed.append((int(lines[i]), f"{name} {value[:40]!r} is not a number"))
                bad[i] = True
        return out


def _flag(values: tuple[str, ...]) -> np.ndarray:
    column = np.array(values, object)
    out = np.full(len(values), -1, np.int8)
    out[column == "0"] = 0
    out[column == "1"] = 1
    return out


def parse(text: str, header: list[str]) -> Table:
    """The rows after ``header`` (its first line); every needed column is in ``header``."""
    rows, line_list = _lines(text)
    width = len(header)
    position = {name.strip(): i for i, name in enumerate(header)}
    malformed: list[tuple[int, str]] = []
    parts: list[Table] = []
    pairs = iter(zip(rows[1:], line_list[1:]))
    while chunk := list(itertools.islice(pairs, CHUNK)):
        good = [(r, n) for r, n in chunk if len(r) == width]
        malformed += [(n, f"CSV row has {len(r)} fields, the header {width}")
                      for r, n in chunk if r and len(r) != width]
        if good:
            parts.append(_columns(good, position, malformed))
    if not parts:
        return Table(np.zeros(0, np.int32), {k: np.zeros(0, object) for k in TEXTS}, np.zeros((0, 4)),
                     {k: np.zeros(0, np.int8) for k in FLAGS}, malformed)
    return Table(np.concatenate([p.line for p in parts]),
                 {k: np.concatenate([p.texts[k] for p in parts]) for k in TEXTS},
                 np.concatenate([p.raw for p in parts]),
                 {k: np.concatenate([p.flags[k] for p in parts]) for k in FLAGS}, malformed)


def _columns(good: list[tuple[list[str], int]], position: dict[str, int],
             malformed: list[tuple[int, str]]) -> Table:
    rows, line_numbers = zip(*good)
    columns = list(zip(*rows))
    lines = np.array(line_numbers, np.int32)
    bad = np.zeros(len(rows), bool)
    raw = np.stack([_floats(columns[position[k]], bad, lines, k, malformed) for k in NUMBERS], axis=1)
    texts = {k: np.array(columns[position[k]], object) if k in position else np.full(len(rows), None, object)
             for k in TEXTS}
    flags = {k: _flag(columns[position[k]]) if k in position else np.full(len(rows), -1, np.int8) for k in FLAGS}
    keep = ~bad
    return Table(lines[keep], {k: v[keep] for k, v in texts.items()}, raw[keep],
                 {k: v[keep] for k, v in flags.items()})
