"""split-leakage (S001): the same image is in two splits.

Why it matters: a validation or test image that is also in train measures memory, not
generalisation: the metrics look better than the model is. Detected by path at every image
level, and by content hash (identical bytes under different names) with ``--images decode``.

Example: ``images/train/0001.jpg`` listed in both ``train.txt`` and ``val.txt``.

Fix: remove the image from one split (usually keep it in train).
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "S001"
NAME = "split-leakage"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    reported: set[int] = set()
    first_split: dict[str, tuple[str, int]] = {}
    images = ds.images
    splits = images.split.tolist()
    if len(set(splits)) < 2:
        return
    for row, (split, path) in enumerate(zip(splits, images.path.tolist())):
        if not path:
            continue
        if path in first_split and first_split[path][0] != split:
            reported.add(row)
            yield at_image(ds, row, CODE, f"'{path}' is in split '{split}' and in split '{first_split[path][0]}'")
        first_split.setdefault(path, (split, row))
    if ctx.images == "decode":
        yield from _same_content(ds, ctx, reported)


def _same_content(ds: Dataset, ctx: RuleContext, reported: set[int]) -> Iterator[Finding]:
    """Different files with identical bytes in different splits (each later entry, once)."""
    from detlint.images import exact_groups, report_for

    report = report_for(ds, ctx)
    split, paths = ds.images.split, report.paths
    for rows in exact_groups(report):
        for position, row in enumerate(rows):
            if row in reported:
                continue
            earlier = next((r for r in rows[:position] if split[r] != split[row] and paths[r] != paths[row]), None)
            if earlier is not None:
                yield at_image(ds, row, CODE, f"'{paths[row]}' in split '{split[row]}' has the same bytes as "
                               f"'{paths[earlier]}' in split '{split[earlier]}'", field_name="file_name",
                               data={"image_row": row, "other_row": earlier})
