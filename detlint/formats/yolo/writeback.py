"""The ``--fix`` write-back: only the label lines of changed rows are rewritten (6 decimals,
the class token as written); dropped lines are removed; every other byte stays."""

from __future__ import annotations

from pathlib import Path

from detlint.edits import (
    BOM,
    FileChange,
    apply_edits,
    changed_box_rows,
    keep_missing_final_newline,
    row_diff,
    split_lines,
    with_ending,
)
from detlint.formats.yolo.write import COORD_DECIMALS
from detlint.model import Annotations, Dataset


def _fmt(value: float) -> str:
    return f"{value:.{COORD_DECIMALS}f}"


def write_back(old: Dataset, new: Dataset) -> list[FileChange]:
    """One :class:`FileChange` per label file whose rows ``new`` changed or dropped."""
    return [_file_change(old, new, file_index, by_line) for file_index, by_line in sorted(_touched(old, new).items())]


def _touched(old: Dataset, new: Dataset) -> dict[int, dict[int, int | None]]:
    """file -> {line: None (drop) | the new row}, for every label line a fix touched."""
    diff = row_diff(old.annotations, new.annotations)
    per_file: dict[int, dict[int, int | None]] = {}
    for row in diff.dropped.tolist():
        per_file.setdefault(int(old.annotations.src_file[row]), {})[int(old.annotations.src_line[row])] = None
    _, changed = changed_box_rows(old, new, diff)
    for row in changed.tolist():
        per_file.setdefault(int(new.annotations.src_file[row]), {})[int(new.annotations.src_line[row])] = row
    return per_file


def _file_change(old: Dataset, new: Dataset, file_index: int, by_line: dict[int, int | None]) -> FileChange:
    rel = old.files[file_index]
    data = (Path(old.root) / rel).read_bytes()
    lines = split_lines(data.decode("utf-8"))
    edits: list[tuple[int, int, list[str]]] = []
    for line_number, row in sorted(by_line.items()):
        if not 1 <= line_number <= len(lines):
            continue
        original = lines[line_number - 1]
        if row is None:
            edits.append((line_number - 1, line_number, []))
            continue
        prefix = BOM if line_number == 1 and original.startswith(BOM) else ""
        tokens = original.lstrip(BOM).split()
        text = prefix + " ".join([tokens[0], *_yolo_values(new, row)])
        edits.append((line_number - 1, line_number, [with_ending(text, original)]))
    if lines and not lines[-1].endswith("\n"):
        keep_missing_final_newline(lines, edits, "\r\n" if lines[0].endswith("\r\n") else "\n")
    new_text = apply_edits(lines, edits)
    return FileChange(rel, data, new_text.encode("utf-8"), lines, edits)


def _yolo_values(ds: Dataset, row: int) -> list[str]:
    ann = ds.annotations
    if ann.kind[row] == Annotations.KIND_POLYGON and ann.segmentation[row] is not None:
        return [_fmt(v) for v in ann.segmentation[row]]
    return [_fmt(v) for v in ann.raw[row].tolist()]
