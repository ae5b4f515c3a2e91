"""What a reader may ask of a cache, and what its incremental hook hands back.

Readers never import :mod:`detlint.incremental`. The caller puts a cache object in
``ReadOptions.cache``; a reader uses it through :class:`ReadCache` only. :class:`NoCache` (the
default, and what ``detlint.load`` uses) parses everything and stores nothing, so a reader has a
single code path whether or not a cache is there.

A format's ``reparse`` hook returns a :class:`Reparsed`: the fresh rows of the files it read
again. The snapshot (in :mod:`detlint.incremental`) splices them into the stored dataset itself.

Ground floor: imports only :mod:`detlint.model` and :mod:`detlint.findings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from detlint.findings import Finding
from detlint.model import Annotations, Dataset


@dataclass
class RowTable:
    """Rows parsed from many files, grouped by file in file order.

    ``columns`` share one row axis; ``counts[i]`` rows belong to file ``i``; ``extras`` holds
    JSON-able per-file leftovers (sparse: only files that have any), e.g. malformed lines. A file
    whose extras say ``{"uncacheable": True}`` is parsed again next time.
    """

    counts: np.ndarray  # int64[n_files]
    columns: dict[str, np.ndarray]
    extras: dict[int, Any] = field(default_factory=dict)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    def take(self, files: np.ndarray) -> RowTable:
        """The rows of ``files`` (indices, repeats allowed) in that order."""
        files = np.asarray(files, np.int64)
        offsets = self.offsets
        counts = self.counts[files]
        starts = offsets[files]
        total = int(counts.sum())
        # index of every taken row: its file's start plus its position within the file
        row = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) \
            + np.repeat(starts, counts)
        extras = {new: self.extras[int(old)] for new, old in enumerate(files.tolist())
                  if int(old) in self.extras}
        return RowTable(counts=counts, columns={k: v[row] for k, v in self.columns.items()}, extras=extras)

    def replaced(self, files: np.ndarray, fresh: RowTable) -> RowTable:
        """This table with the rows of ``files`` (sorted indices) replaced by ``fresh``'s rows,
        which hold those files in that order: slices copied around the few changed files."""
        files_list = [int(f) for f in files]
        offsets = self.offsets
        fresh_offsets = fresh.offsets
        columns: dict[str, np.ndarray] = {}
        for name, column in self.columns.items():
            pieces = []
            previous = 0
            for j, f in enumerate(files_list):
                pieces.append(column[offsets[previous]:offsets[f]])
                pieces.append(fresh.columns[name][fresh_offsets[j]:fresh_offsets[j + 1]])
                previous = f + 1
            pieces.append(column[offsets[previous]:])
            columns[name] = np.concatenate(pieces)
        counts = self.counts.astype(np.int64, copy=True)
        counts[files] = fresh.counts
        changed = set(files_list)
        extras = {i: v for i, v in self.extras.items() if i not in changed}
        extras.update({files_list[j]: v for j, v in fresh.extras.items()})
        return RowTable(counts, columns, extras)

    @staticmethod
    def concat(first: RowTable, second: RowTable) -> RowTable:
        shift = len(first.counts)
        columns = {k: np.concatenate([first.columns[k], second.columns[k]]) for k in first.columns}
        extras = {**first.extras, **{shift + i: v for i, v in second.extras.items()}}
        return RowTable(np.concatenate([first.counts, second.counts]).astype(np.int64), columns, extras)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {f"{prefix}counts": self.counts}
        out.update({f"{prefix}col_{k}": v for k, v in self.columns.items()})
        out[f"{prefix}extras"] = encode_json({str(k): v for k, v in self.extras.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, names: tuple[str, ...]) -> RowTable | None:
        try:
            counts = arrays[f"{prefix}counts"].astype(np.int64)
            columns = {k: arrays[f"{prefix}col_{k}"] for k in names}
            extras = {int(k): v for k, v in decode_json(arrays.get(f"{prefix}extras"), {}).items()}
        except (KeyError, ValueError, TypeError, AttributeError):
            return None
        total = int(counts.sum()) if len(counts) else 0
        if (counts < 0).any() or any(len(v) != total for v in columns.values()):
            return None
        return cls(counts, columns, extras)


# ------------------------------------------------------------------------------ encodings


def _bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def encode_paths(paths: list[str]) -> np.ndarray:
    """Many paths as one uint8 array (NUL-separated): far smaller and faster than a str array."""
    return _bytes("\0".join(paths))


def decode_paths(array: np.ndarray | None) -> list[str]:
    if array is None or not len(array):
        return []
    return array.tobytes().decode("utf-8", "surrogatepass").split("\0")


def encode_json(value: Any) -> np.ndarray:
    return np.frombuffer(orjson.dumps(value), dtype=np.uint8)


def decode_json(array: np.ndarray | None, default: Any) -> Any:
    if array is None:
        return default
    return orjson.loads(array.tobytes())


# ------------------------------------------------------------------------------ the protocol

Parse = Callable[[list[int]], RowTable]
Compute = Callable[[list[int]], np.ndarray]


class ReadCache(Protocol):
    """The cache a reader is handed (``ReadOptions.cache``).

    ``rows`` and ``values`` return ``(result, arrays to store, whether anything changed)``; the
    reader gathers the arrays of one read and passes them to ``save`` once, under its own kind.
    """

    enabled: bool

    def load(self, kind: str, root: str) -> dict[str, np.ndarray]: ...

    def save(self, kind: str, root: str, arrays: dict[str, np.ndarray]) -> None: ...

    def rows(self, kind: str, root: str, paths: list[str], parse: Parse, names: tuple[str, ...],
             store: dict[str, np.ndarray] | None = None) -> tuple[RowTable, dict[str, np.ndarray], bool]: ...

    def values(self, store: dict[str, np.ndarray], prefix: str, paths: list[str], compute: Compute,
               width: int) -> tuple[np.ndarray, dict[str, np.ndarray], bool]: ...

    def trusted_mtime(self, path: str) -> int:
        """``path``'s mtime_ns, or -1 when it is too recent (or missing) to be trusted later."""
        ...


class NoCache:
    """A :class:`ReadCache` that parses everything and keeps nothing."""

    enabled = False

    def load(self, kind: str, root: str) -> dict[str, np.ndarray]:
        return {}

    def save(self, kind: str, root: str, arrays: dict[str, np.ndarray]) -> None:
        return None

    def rows(self, kind: str, root: str, paths: list[str], parse: Parse, names: tuple[str, ...],
             store: dict[str, np.ndarray] | None = None) -> tuple[RowTable, dict[str, np.ndarray], bool]:
        return parse(list(range(len(paths)))), {}, False

    def values(self, store: dict[str, np.ndarray], prefix: str, paths: list[str], compute: Compute,
               width: int) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
        return compute(list(range(len(paths)))).reshape(len(paths), width), {}, False

    def trusted_mtime(self, path: str) -> int:
        return -1


# ------------------------------------------------------------------------- the reparse hook


@dataclass
class Reparsed:
    """What a format's ``reparse(ds, files, options)`` read again from ``files``.

    The snapshot replaces the annotations of ``files`` by ``annotations`` and their reader
    problems of ``replaced_codes`` by ``problems``. ``image_rows`` are the image rows those files
    label (the rules re-run on them). ``renumber`` says the format numbers its rows in order
    (``id = 0..n-1``); ``accept``, when given, may still refuse the spliced dataset (then only a
    full read can answer).
    """

    annotations: Annotations
    problems: list[Finding]
    replaced_codes: frozenset[str]
    image_rows: np.ndarray
    renumber: bool = True
    accept: Callable[[Dataset], bool] | None = None
