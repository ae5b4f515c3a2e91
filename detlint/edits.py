"""Minimal edits of source files: what ``--fix`` writes and ``--diff`` shows.

A format's ``write_back`` compares the dataset before and after the fixes (:class:`RowDiff`
matches rows by provenance) and returns one :class:`FileChange` per file it edits: the new bytes
and the line edits. The text helpers here keep every byte a fix did not touch:
:func:`merge_serialised` merges a re-serialised document (lxml, json) back into the original
line by line, and :func:`diff_text` renders a change as a unified diff.

Ground floor: imports only :mod:`detlint.model`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from detlint.model import Annotations, Dataset
from detlint.safetext import escape_text

BOM = "\ufeff"
DIFF_CONTEXT = 3


@dataclass
class FileChange:
    """New content for one source file, and the line edits (for the diff)."""

    file: str  # relative to the dataset root
    old: bytes
    new: bytes
    old_lines: list[str]
    edits: list[tuple[int, int, list[str]]]  # (first old line, end old line, new lines), 0-based
    notes: list[str] = field(default_factory=list)  # what changed, for files a line diff cannot show



@dataclass
class RowDiff:
    """Annotation rows of ``old`` matched with ``new`` by provenance (file, item)."""

    dropped: np.ndarray  # old rows without a counterpart
    old_rows: np.ndarray  # matched pairs
    new_rows: np.ndarray


def row_diff(old: Annotations, new: Annotations) -> RowDiff:
    def keys(ann: Annotations) -> np.ndarray:
        return (ann.src_file.astype(np.int64) << 32) | (ann.src_item.astype(np.int64) & 0xFFFFFFFF)

    old_keys, new_keys = keys(old), keys(new)
    if not len(old_keys) or not len(new_keys):
        empty = np.zeros(0, np.int64)
        return RowDiff(dropped=np.flatnonzero(old.src_file >= 0), old_rows=empty, new_rows=empty)
    located = old.src_file >= 0
    dropped = np.flatnonzero(located & ~np.isin(old_keys, new_keys))
    order = np.argsort(old_keys, kind="stable")
    pos = np.minimum(np.searchsorted(old_keys[order], new_keys), len(old_keys) - 1)
    matched = (old_keys[order[pos]] == new_keys) & (new.src_file >= 0)
    return RowDiff(dropped=dropped, old_rows=order[pos][matched], new_rows=np.flatnonzero(matched))


def differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise 'not the same value' where NaN equals NaN."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return ~same.all(axis=1) if same.ndim == 2 else ~same


def changed_box_rows(old: Dataset, new: Dataset, diff: RowDiff) -> tuple[np.ndarray, np.ndarray]:
    o, n = diff.old_rows, diff.new_rows
    changed = differs(old.annotations.raw[o], new.annotations.raw[n])
    seg_old, seg_new = old.annotations.segmentation, new.annotations.segmentation
    changed |= np.array([seg_old[a] is not seg_new[b] for a, b in zip(o.tolist(), n.tolist())], bool).reshape(len(o))
    return o[changed], n[changed]


# ---------------------------------------------------------------------------- text helpers


def split_lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only (as the readers number them), each with its line ending."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def apply_edits(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> str:
    out, at = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        out += lines[at:start]
        out += replacement
        at = max(at, end)
    out += lines[at:]
    return "".join(out)


def with_ending(line: str, like: str) -> str:
    """``line`` (without ending) given the line ending of ``like``."""
    ending = like[len(like.rstrip("\r\n")):]
    return line + ending


SMALL_DIFF = 4000  # lines; below this difflib's exact matching is cheap enough


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Non-equal opcodes (tag, a1, a2, b1, b2) turning line list ``a`` into ``b``.

    A patience diff: lines that occur once on each side anchor the match, the gaps between
    anchors are diffed the same way, small gaps by difflib. A few edits in a file of millions
    of lines cost a few linear passes, where difflib alone would take minutes.
    """
    out: list[tuple[str, int, int, int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        a1, a2, b1, b2 = stack.pop()
        while a1 < a2 and b1 < b2 and a[a1] == b[b1]:
            a1, b1 = a1 + 1, b1 + 1
        while a1 < a2 and b1 < b2 and a[a2 - 1] == b[b2 - 1]:
            a2, b2 = a2 - 1, b2 - 1
        if a1 == a2 and b1 == b2:
            continue
        if a1 == a2 or b1 == b2:
            out.append(("insert" if a1 == a2 else "delete", a1, a2, b1, b2))
            continue
        if (a2 - a1) + (b2 - b1) <= SMALL_DIFF:
            matcher = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
            out += [(tag, i1 + a1, i2 + a1, j1 + b1, j2 + b1)
                    for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
            continue
        anchors = _unique_anchors(a, a1, a2, b, b1, b2)
        if not anchors:
            out.append(("replace", a1, a2, b1, b2))
            continue
        gaps, at_a, at_b = [], a1, b1
        for i, j in anchors:
            gaps.append((at_a, i, at_b, j))
            at_a, at_b = i + 1, j + 1
        gaps.append((at_a, a2, at_b, b2))
        stack += reversed(gaps)
    return sorted(out, key=lambda op: (op[1], op[3]))


def _unique_anchors(a: list[str], a1: int, a2: int, b: list[str], b1: int, b2: int) -> list[tuple[int, int]]:
    """(i, j) pairs of lines unique in both ranges, longest run with both indices increasing."""
    from bisect import bisect_left
    from collections import Counter

    count_a = Counter(a[a1:a2])
    count_b = Counter(b[b1:b2])
    where_b = {b[j]: j for j in range(b1, b2) if count_b[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(a1, a2) if count_a[a[i]] == 1 and a[i] in where_b]
    # longest increasing subsequence of j (patience sorting)
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tail_index.append(k)
        else:
            tails[pos] = j
            tail_index[pos] = k
        previous[k] = tail_index[pos - 1] if pos else -1
    chain = []
    k = tail_index[-1] if tail_index else -1
    while k >= 0:
        chain.append(pairs[k])
        k = previous[k]
    return chain[::-1]


def line_edits(old: str, new: str) -> tuple[list[str], list[tuple[int, int, list[str]]]]:
    """``old``'s lines and the line edits that turn it into ``new`` (for a change made by byte
    ranges, shown as a diff)."""
    a, b = split_lines(old), split_lines(new)
    return a, [(a1, a2, b[b1:b2]) for _, a1, a2, b1, b2 in _opcodes(a, b)]


def merge_serialised(original: str, base: str, edited: str) -> tuple[list[str], list[tuple[int, int, list[str]]]]:
    """Edits to ``original`` that carry the change ``base`` -> ``edited`` over to it.

    ``base`` is a serialiser's rendering of ``original`` (lxml, orjson) and ``edited`` its
    rendering after the fix. Lines the fix did not touch keep their original bytes; a touched
    line that the serialiser also re-formatted comes out in the serialiser's form.
    Returns ``original``'s lines and the edits (0-based, end exclusive).
    """
    o_lines = split_lines(original)
    o_keys = [line.rstrip("\r\n") for line in o_lines]
    b_keys = [line.rstrip("\r\n") for line in split_lines(base)]
    e_keys = [line.rstrip("\r\n") for line in split_lines(edited)]
    newline = "\r\n" if "\r\n" in original else "\n"
    aligned = _alignment(o_keys, b_keys)
    n_base = len(b_keys)

    groups: list[tuple[int, int, list[tuple[int, int, int, int]]]] = []  # (start, end, opcodes)
    for _, b1, b2, e1, e2 in _opcodes(b_keys, e_keys):
        start, end = b1, b2
        anchored = (start < end and bool((aligned[start:end] >= 0).all())) or (
            start == end and (start == 0 or aligned[start - 1] >= 0 or aligned[start] >= 0))
        if not anchored:  # the serialiser re-formatted lines here: take its whole re-formatted run
            while start > 0 and aligned[start - 1] < 0:
                start -= 1
            while end < n_base and aligned[end] < 0:
                end += 1
        if groups and start < groups[-1][1]:
            previous = groups.pop()
            groups.append((previous[0], max(previous[1], end), previous[2] + [(b1, b2, e1, e2)]))
        else:
            groups.append((start, end, [(b1, b2, e1, e2)]))

    edits = []
    for start, end, opcodes in groups:
        replacement: list[str] = []
        at = start
        for b1, b2, e1, e2 in opcodes:
            replacement += b_keys[at:b1] + e_keys[e1:e2]
            at = b2
        replacement += b_keys[at:end]
        if start < end and aligned[start] >= 0 or start == end and start < n_base and aligned[start] >= 0:
            o_start = int(aligned[start])
        else:
            o_start = int(aligned[start - 1]) + 1 if start > 0 else 0
        if start < end and aligned[end - 1] >= 0:
            o_end = int(aligned[end - 1]) + 1
        elif start == end:
            o_end = o_start
        else:
            o_end = int(aligned[end]) if end < n_base else len(o_lines)
        edits.append((o_start, o_end, [line + newline for line in replacement]))
    if o_lines and not o_lines[-1].endswith("\n"):
        keep_missing_final_newline(o_lines, edits, newline)
    return o_lines, edits


def keep_missing_final_newline(o_lines: list[str], edits: list[tuple[int, int, list[str]]], newline: str) -> None:
    """The original had no final newline: an edit at the end must not add one (nor glue lines)."""
    if not edits or edits[-1][1] != len(o_lines):
        return
    start, end, replacement = edits[-1]
    if start == end:  # insertion after the unterminated last line: it gets a newline first
        start -= 1
        replacement = [o_lines[start] + newline] + replacement
    if replacement:
        replacement[-1] = replacement[-1].rstrip("\r\n")
    elif len(edits) > 1 and edits[-2][1] == start and edits[-2][2]:
        edits[-2][2][-1] = edits[-2][2][-1].rstrip("\r\n")
    elif start > 0:  # the line before the removed tail becomes the last line
        start -= 1
        replacement = [o_lines[start].rstrip("\r\n")]
    edits[-1] = (start, end, replacement)


def _alignment(o_keys: list[str], b_keys: list[str]) -> np.ndarray:
    """For each base line, the original line it renders (-1: re-formatted); one extra entry."""
    aligned = np.full(len(b_keys) + 1, -1, np.int64)
    if len(o_keys) == len(b_keys):
        aligned[:-1] = np.arange(len(b_keys))  # same shape: lines pair one to one
        return aligned
    at_o = at_b = 0
    for _, _o1, o2, b1, b2 in _opcodes(o_keys, b_keys) + [("end", len(o_keys), len(o_keys), len(b_keys), len(b_keys))]:
        aligned[at_b:b1] = np.arange(at_o, at_o + (b1 - at_b))
        at_o, at_b = o2, b2
    return aligned


# ---------------------------------------------------------------------------- diff text


def diff_text(change: FileChange) -> str:
    """The change as a unified diff. The file name and notes are escaped (``escape_text``): a
    newline in a name must not start a line of its own. Content lines are the file's own, each
    behind its `` ``/``-``/``+`` marker, and stay as they are so that the diff still applies."""
    name = escape_text(change.file)
    header = f"--- a/{name}\n+++ b/{name}\n"
    if change.notes:
        return header + "".join(f"# {escape_text(note)}\n" for note in change.notes)
    return header + "".join(_hunks(change.old_lines, change.edits))


def _hunks(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> Iterable[str]:
    """Unified-diff hunks straight from the edits: linear in the edits, not in the file."""
    edits = sorted(edits, key=lambda e: (e[0], e[1]))
    delta = 0
    i = 0
    while i < len(edits):
        j = i
        while j + 1 < len(edits) and edits[j + 1][0] - edits[j][1] <= 2 * DIFF_CONTEXT:
            j += 1
        group = edits[i:j + 1]
        start = max(0, group[0][0] - DIFF_CONTEXT)
        end = min(len(lines), group[-1][1] + DIFF_CONTEXT)
        body: list[str] = []
        at = start
        added = removed = 0
        for first, last, replacement in group:
            body += [" " + _shown(line) for line in lines[at:first]]
            body += ["-" + _shown(line) for line in lines[first:last]]
            body += ["+" + _shown(line) for line in replacement]
            removed += last - first
            added += len(replacement)
            at = last
        body += [" " + _shown(line) for line in lines[at:end]]
        old_len = end - start
        new_len = old_len - removed + added
        old_start = start + 1 if old_len else start
        new_start = start + delta + 1 if new_len else start + delta
        yield f"@@ -{old_start},{old_len} +{new_start},{new_len} @@\n"
        yield from body
        delta += added - removed
        i = j + 1


def _shown(line: str) -> str:
    text = line.rstrip("\r\n")
    return text + "\n" if line.endswith("\n") else text + "\n\\ No newline at end of file\n"
