"""split-leakage (S001): the same image is in two splits.

Why it matters: a validation or test image that is also in train measures memory, not
generalisation: the metrics look better than the model is. Detected at every image level
(``--images none`` too) by path, whatever the format:

- through the dataset description: a data.yaml whose ``val:`` names ``train:``'s folder (or an
  overlapping folder, or a list entry reaching a file a folder holds), two list files
  (``train.txt``/``val.txt``, ``ImageSets/Main/*.txt``) naming one image. The image is read
  once, in the first split that reaches it; the finding points at the description line that
  puts it in the other split and names both places;
- by two image entries of different splits resolving to one file (e.g. two COCO JSONs);

and, with ``--images decode``, by content hash (identical bytes under different names).

Example: ``images/train/0001.jpg`` listed in both ``train.txt`` and ``val.txt``, or
``train: images`` and ``val: images`` in data.yaml.

Fix: remove the image from one split (usually keep it in train); for a dataset without a
validation split, make one of its own rather than pointing ``val:`` at the training images.
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
CONSEQUENCE = "evaluating on a training image measures memory, not generalisation; remove it from one split"


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    described = list(reader_problems(ds, CODE))
    yield from described
    # an image the reader already reported (kept once, its other splits in also_in_splits) is
    # not reported again by path or content
    leaked = {p.image for p in described if p.image}
    reported: set[int] = set()
    first_split: dict[str, tuple[str, int]] = {}
    images = ds.images
    splits = images.split.tolist()
    paths = images.path.tolist()
    if len(set(splits)) < 2:
        return
    if leaked:
        reported.update(row for row, path in enumerate(paths) if path in leaked)
    for row, (split, path) in enumerate(zip(splits, paths)):
        if not path or row in reported:
            continue
        if path in first_split and first_split[path][0] != split:
            reported.add(row)
            earlier_split, earlier = first_split[path]
            yield at_image(ds, row, CODE, f"'{path}' is in split '{split}' ({_where(ds, row)}) and in split "
                           f"'{earlier_split}' ({_where(ds, earlier)}): {CONSEQUENCE}")
        first_split.setdefault(path, (split, row))
    if ctx.images == "decode":
        yield from _same_content(ds, ctx, reported)


def _where(ds: Dataset, row: int) -> str:
    """Where the dataset puts image ``row`` in its split: ``file#pointer``, ``file:line`` or the file."""
    entry = at_image(ds, row, CODE, "")
    if entry.pointer:
        return f"{entry.file}#{entry.pointer}"
    return f"{entry.file}:{entry.line}" if entry.line else str(entry.file)


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
