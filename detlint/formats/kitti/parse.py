"""KITTI label lines into columns: one pass over each file's lines, the numbers of all good
lines converted in one numpy call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELDS = (15, 16)  # the devkit's 15 values, 16 with a detection score
DONT_CARE = "DontCare"
EXTRA_KEYS = ("truncation", "occlusion", "alpha", "height_3d", "width_3d", "length_3d",
              "x_3d", "y_3d", "z_3d", "rotation_y")  # the exact values of the non-box fields


@dataclass
class Lines:
    """The good lines of many files: their file (position in the list read), line, type and
    the 14 (or 15) numbers; and the (file, line, reason) of each bad one."""

    file: np.ndarray
    line: np.ndarray
    types: list[str]
    values: np.ndarray  # float64[N, 15]; the score column NaN where absent
    malformed: list[tuple[int, int, str]]


def _bad(tokens: list[str]) -> str | None:
    if len(tokens) not in FIELDS:
        return (f"KITTI line has {len(tokens)} fields, expected 15 (type, truncated, occluded, alpha, 4 box, "
                "3 dimensions, 3 location, rotation_y) or 16 with a score")
    for token in tokens[1:]:
        try:
            float(token)
        except ValueError:
            return f"KITTI value {token[:40]!r} is not a number"
    return None


def parse(texts: list[str | None]) -> Lines:
    """The lines of each text (None: a file that could not be read)."""
    files: list[int] = []
    lines: list[int] = []
    types: list[str] = []
    numbers: list[list[str]] = []
    malformed: list[tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        for number, line in enumerate((text or "").splitlines(), 1):
            tokens = line.split()
            if not tokens:
                continue
            reason = _bad(tokens)
            if reason is not None:
                malformed.append((index, number, reason))
                continue
            files.append(index)
            lines.append(number)
            types.append(tokens[0])
            numbers.append(tokens[1:] if len(tokens) == 16 else [*tokens[1:], "nan"])
    values = np.array(numbers, np.float64).reshape(len(numbers), 15)
    return Lines(np.array(files, np.int32), np.array(lines, np.int32), types, values, malformed)


def flags(values: np.ndarray, dont_care: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 truncated and occluded flags (-1 absent: unknown occlusion, DontCare's -1)."""
    truncated = np.where(values[:, 0] > 0, 1, 0).astype(np.int8)
    occ = values[:, 1]
    occluded = np.select([occ == 0, (occ == 1) | (occ == 2)], [0, 1], -1).astype(np.int8)
    truncated[dont_care | (values[:, 0] < 0)] = -1
    occluded[dont_care] = -1
    return truncated, occluded


def extras(values: np.ndarray) -> np.ndarray:
    """Each row's exact non-box values, as flat scalars (COCO ``attributes`` hold them as they are)."""
    kept = np.concatenate([values[:, :3], values[:, 7:14]], axis=1).tolist()
    scores = values[:, 14].tolist()
    out = np.empty(len(values), object)
    out[:] = [dict(zip(EXTRA_KEYS, row), **({"score": s} if s == s else {})) for row, s in zip(kept, scores)]
    for row in out:
        row["occlusion"] = int(row["occlusion"])
    return out
