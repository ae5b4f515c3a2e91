"""``detlint split``: a new, leak-free split of a dataset, stratified by class.

Images that must stay together form groups (a union-find over the images): identical bytes
(``hash``), near copies at the I010 distance (``phash``), one id drawn from the path by a
pattern (``regex:PATTERN``, e.g. a video or scene id), one folder (``folder``), any combination.
Two entries of one file are always one group. Whole groups are then assigned, largest first, to
the split that still owes most of the group's classes (each class's share of boxes per split
against the ratio) and of images; ``--seed`` shuffles the order of groups of one size, so a run
is deterministic. The output is written through the format writers, as ``convert`` writes
(staged folder renamed into place, images hard-linked), or, with ``lists_only``, the format's
own split lists alone. The split report (``detlint-split.json`` in the output) gives per split
its images, boxes, groups and largest group, and per class the largest deviation of its share.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import orjson

from detlint import formats
from detlint.config import image_root_for, load_config
from detlint.converting import check_destination
from detlint.errors import UsageError
from detlint.fileio import atomic_write_bytes, progress_enabled, remove_stale_staging, staged_folder
from detlint.formats import ReadOptions, WriteOptions, load, save
from detlint.images.digests import content_hashes
from detlint.model import Dataset, take_images
from detlint.rules._options import NEAR_DUPLICATE_DISTANCE
from detlint.safetext import counted

REPORT_NAME = "detlint-split.json"
GROUP_KINDS = ("hash", "phash", "folder")  # and regex:PATTERN
DEFAULT_NAMES = {2: ("train", "val"), 3: ("train", "val", "test")}


@dataclass
class SplitRequest:
    src: Path
    dst: Path
    ratios: list[float]
    names: list[str] | None = None
    group_by: list[str] = field(default_factory=lambda: ["hash"])
    seed: int = 0
    keep: str | None = None
    target: str | None = None  # output format (None: the source's)
    lists_only: bool = False
    near_distance: int | None = None  # None: the config's near-duplicate-distance (I010's), else 6
    source_format: str | None = None
    image_root: Path | None = None


@dataclass
class SplitReport:
    source: str
    source_format: str
    target: str
    target_format: str
    seed: int
    group_by: list[str]
    ratios: dict[str, float]
    groups: int
    splits: list[dict]
    classes: list[dict]
    kept: str | None = None
    lists_only: bool = False
    losses: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: int = 0

    def as_json(self) -> bytes:
        return orjson.dumps(self.__dict__, option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        lines = [f"split {self.source} ({self.source_format}) -> {self.target} ({self.target_format}): "
                 f"{counted(self.groups, 'group')} by {', '.join(self.group_by)}, seed {self.seed}"]
        for split in self.splits:
            lines.append(f"  {split['name']}: {counted(split['images'], 'image')}, {counted(split['boxes'], 'box')}, "
                         f"{counted(split['groups'], 'group')} (largest {split['largest_group']}), "
                         f"target {split['ratio']:.3f}")
        worst = max(self.classes, key=lambda c: abs(c["deviation"]), default=None)
        if worst is not None:
            lines.append(f"  largest class deviation: {worst['deviation']:+.3f} ({worst['name']} in {worst['split']})")
        if self.problems:
            lines.append(f"  {counted(self.problems, 'problem')} met while reading (run `detlint check` on the source)")
        lines += [f"  lost: {loss['count']} x {loss['what']}" for loss in self.losses]
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"  report: {Path(self.target) / REPORT_NAME}")
        return "\n".join(lines)


def parse_ratios(text: str) -> list[float]:
    """``0.8,0.1,0.1`` as floats: positive, summing to 1 (a one-line error otherwise)."""
    try:
        ratios = [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--ratios {text!r}: comma-separated numbers, e.g. 0.8,0.1,0.1") from None
    if len(ratios) < 2 or any(not np.isfinite(r) or r <= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise UsageError(f"--ratios {text!r}: two or more positive numbers that sum to 1, e.g. 0.8,0.1,0.1")
    return ratios


def parse_group_by(text: str) -> list[str]:
    """``hash,phash,regex:PATTERN,folder``; a pattern may itself hold commas only when last."""
    kinds: list[str] = []
    rest = text.strip()
    while rest:
        if rest.startswith("regex:"):
            kinds.append(rest)  # the pattern runs to the end: it may contain commas
            break
        head, _, rest = rest.partition(",")
        head = head.strip()
        if head not in GROUP_KINDS:
            raise UsageError(f"--group-by {head!r}: choose from hash, phash, folder, regex:PATTERN")
        kinds.append(head)
    for kind in kinds:
        if kind.startswith("regex:"):
            try:
                re.compile(kind[len("regex:"):])
            except re.error as error:
                raise UsageError(f"--group-by {kind!r}: not a regular expression ({error})") from None
    return kinds


def split(request: SplitRequest) -> SplitReport:
    """Read ``request.src``, group and assign its images, write the result (module docstring)."""
    names = _split_names(request)
    if request.lists_only and request.target:
        raise UsageError("--lists-only writes the source format's own split lists: leave out --to")
    if not request.src.exists():
        raise UsageError(f"{request.src}: no such file or directory")
    check_destination(request.src, request.dst)
    options = ReadOptions(progress=progress_enabled(), image_root=image_root_for(request.src, request.image_root))
    ds = load(request.src, format=request.source_format, options=options)
    if not len(ds.images):
        raise UsageError(f"{request.src}: no images to split")
    labels = image_groups(ds, request.group_by, near_distance(request))
    kept = _kept_rows(ds, request.keep, names)
    assignment = assign(ds, labels, request.ratios, kept, request.seed)
    new = with_splits(ds, np.asarray(names, dtype=object)[assignment])
    target = request.target or ds.format
    write_options = WriteOptions()
    removed = remove_stale_staging(request.dst)
    with staged_folder(request.dst) as staging:
        if request.lists_only:
            if not formats.get(ds.format).write_split_lists(new, staging, write_options):
                raise UsageError(f"--lists-only: {formats.get(ds.format).title} has no split lists of its own; "
                                 "leave out --lists-only to write a new dataset")
        else:
            save(new, staging, target, write_options)
        report = _report(request, ds, new, labels, names, target, write_options)
        atomic_write_bytes(staging / REPORT_NAME, report.as_json())
    report.notes += [f"removed {path}: a staging folder of a run that did not finish" for path in removed]
    return report


def near_distance(request: SplitRequest) -> int:
    """The phash distance: the request's, else the config's ``near-duplicate-distance``."""
    if request.near_distance is not None:
        return request.near_distance
    value = load_config(request.src).options.get(NEAR_DUPLICATE_DISTANCE.key, NEAR_DUPLICATE_DISTANCE.default)
    return int(value)


def _split_names(request: SplitRequest) -> list[str]:
    names = list(request.names) if request.names else list(DEFAULT_NAMES.get(len(request.ratios), ()))
    if len(names) != len(request.ratios):
        raise UsageError(f"--names: give one name per ratio ({len(request.ratios)} ratios)")
    if len(set(names)) != len(names) or any(not re.fullmatch(r"[\w.-]+", n) or not n.strip(".") for n in names):
        raise UsageError(f"--names {','.join(names)}: distinct names of letters, digits, '_', '-' or '.' "
                         "(not only dots: '.' and '..' are folders already)")
    if request.keep is not None and request.keep not in names:
        raise UsageError(f"--keep {request.keep}: not one of the split names ({', '.join(names)})")
    return names


def _kept_rows(ds: Dataset, keep: str | None, names: list[str]) -> np.ndarray:
    """Per image the index of the split it must stay in (-1: free)."""
    kept = np.full(len(ds.images), -1, np.int64)
    if keep is None:
        return kept
    mask = ds.images.split == keep
    if not mask.any():
        found = ", ".join(str(s) or "(unsplit)" for s in ds.splits)
        raise UsageError(f"--keep {keep}: the source has no split of that name (it has {found})")
    kept[mask] = names.index(keep)
    return kept


# --- groups ------------------------------------------------------------------------------------


def image_groups(ds: Dataset, group_by: list[str], near_distance: int) -> np.ndarray:
    """One group label per image row (0..G-1, in order of first row): rows joined by any of
    ``group_by``, and rows of one file always."""
    n = len(ds.images)
    paths = [str(p or f) for p, f in zip(ds.images.path.tolist(), ds.images.file_name.tolist())]
    edges = [_key_edges(paths)]
    for kind in group_by:
        if kind == "hash":
            edges.append(_key_edges(content_hashes(ds)))
        elif kind == "phash":
            edges += _near_edges(ds, near_distance)
        elif kind == "folder":
            edges.append(_key_edges([os.path.dirname(p) for p in paths]))
        else:
            pattern = re.compile(kind[len("regex:"):])
            edges.append(_key_edges([_pattern_key(pattern, p) for p in paths]))
    a = np.concatenate([e[0] for e in edges]) if edges else np.zeros(0, np.int64)
    b = np.concatenate([e[1] for e in edges]) if edges else np.zeros(0, np.int64)
    return components(n, a, b)


def _pattern_key(pattern: re.Pattern, path: str) -> str | None:
    found = pattern.search(path)
    if found is None:
        return None
    return found.group(1) if pattern.groups else found.group(0)


def _key_edges(keys: list) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining each row to the first row of its key (None: no key, no edge)."""
    first: dict = {}
    a, b = [], []
    for row, key in enumerate(keys):
        if key is None or key == "":
            continue
        head = first.setdefault(key, row)
        if head != row:
            a.append(head)
            b.append(row)
    return np.asarray(a, np.int64), np.asarray(b, np.int64)


def _near_edges(ds: Dataset, near_distance: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Near copies by perceptual hash (the images module's decode report and near-pair
    search, as I010 and S002 find them), and exact copies by its content digest."""
    from detlint.images import image_report

    report = image_report(ds, "decode")
    i, j, _ = report.near_pairs(near_distance)
    return [(i.astype(np.int64), j.astype(np.int64)), _key_edges(report.sha.tolist())]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes and edges (a, b), labelled 0.. by first node:
    min-label propagation with pointer jumping, vectorised (a few passes for real data)."""
    label = np.arange(n, dtype=np.int64)
    if len(a):
        while True:
            low = np.minimum(label[a], label[b])
            before = label.copy()
            np.minimum.at(label, a, low)
            np.minimum.at(label, b, low)
            while True:  # pointer jumping: each node to its label's label
                jumped = label[label]
                if np.array_equal(jumped, label):
                    break
                label = jumped
            if np.array_equal(label, before):
                break
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first, kind="stable"), kind="stable")  # number groups by first row
    return order[inverse.ravel()]


# --- assignment --------------------------------------------------------------------------------


def assign(ds: Dataset, labels: np.ndarray, ratios: list[float], kept: np.ndarray, seed: int) -> np.ndarray:
    """The split index of each image: whole groups, largest first (``seed`` orders groups of one
    size), each to the split that owes most of the group's classes and images."""
    n_groups = int(labels.max()) + 1 if len(labels) else 0
    counts = group_class_counts(ds, labels, n_groups)
    sizes = np.bincount(labels, minlength=n_groups).astype(np.float64)
    ratio = np.asarray(ratios, np.float64)
    choice = np.full(n_groups, -1, np.int64)
    forced = np.full(n_groups, -1, np.int64)
    np.maximum.at(forced, labels, kept)  # a group with a kept image stays with it, whole
    open_splits = np.ones(len(ratios), bool)
    if (kept >= 0).any():
        open_splits[np.unique(kept[kept >= 0])] = False
    choice[forced >= 0] = forced[forced >= 0]
    free = np.flatnonzero(forced < 0)
    if not open_splits.any() and len(free):
        raise UsageError("--keep: every split is kept; nothing is left to split")
    rng = np.random.default_rng(seed)
    shuffled = free[rng.permutation(len(free))]
    weight = counts.sum(axis=1) + sizes
    order = shuffled[np.argsort(-weight[shuffled], kind="stable")]
    share = ratio * open_splits / (ratio * open_splits).sum()  # the free images' targets
    free_total = np.maximum(counts[free].sum(axis=0), 1.0)
    free_images = max(float(sizes[free].sum()), 1.0)
    free_done = np.zeros((len(ratios), counts.shape[1]))  # boxes per split and class
    free_done_images = np.zeros(len(ratios))
    for g in order.tolist():
        row = counts[g]
        boxes = row.sum()
        # what each split still owes, as a fraction of its own target: a split of 0.8 and one
        # of 0.1 are served in proportion (absolute shares would give every big group to train)
        owed_images = 1.0 - free_done_images / (share * free_images + 1e-12)
        score = owed_images
        if boxes:
            owed = 1.0 - free_done / (share[:, None] * free_total + 1e-12)
            score = owed @ (row / boxes) + 0.25 * owed_images
        score = np.where(open_splits, score, -np.inf)
        best = int(np.argmax(score))
        choice[g] = best
        free_done[best] += row
        free_done_images[best] += sizes[g]
    return choice[labels]


def group_class_counts(ds: Dataset, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Boxes per group and class (float, ``[G, K]``); annotations without an image or class left out."""
    ann = ds.annotations
    keep = (ann.image >= 0) & (ann.category >= 0)
    k = max(len(ds.categories), 1)
    flat = labels[ann.image[keep]] * k + ann.category[keep]
    return np.bincount(flat, minlength=n_groups * k).reshape(n_groups, k).astype(np.float64)


def with_splits(ds: Dataset, splits: np.ndarray) -> Dataset:
    """``ds`` with ``images.split`` replaced (an image's other-split memberships dropped: the
    new split is its one split)."""
    images = take_images(ds.images, np.arange(len(ds.images)))
    images.split = splits.astype(object)
    extra = images.extra.copy()
    for row, value in enumerate(extra.tolist()):
        if isinstance(value, dict) and "also_in_splits" in value:
            extra[row] = {key: item for key, item in value.items() if key != "also_in_splits"}
    images.extra = extra
    return replace(ds, images=images).validate()


# --- report ------------------------------------------------------------------------------------


def _report(request: SplitRequest, ds: Dataset, new: Dataset, labels: np.ndarray, names: list[str], target: str,
            options: WriteOptions) -> SplitReport:
    split_index = np.asarray([names.index(str(s)) for s in new.images.split.tolist()], np.int64)
    ratio = dict(zip(names, request.ratios))
    return SplitReport(
        source=os.fspath(request.src), source_format=ds.format, target=os.fspath(request.dst), target_format=target,
        seed=request.seed, group_by=list(request.group_by), ratios=ratio, groups=int(labels.max()) + 1,
        splits=split_rows(ds, labels, split_index, names, request.ratios),
        classes=class_deviations(ds, split_index, names, request.ratios), kept=request.keep,
        lists_only=request.lists_only, losses=options.losses, notes=options.notes, problems=len(ds.problems))


def split_rows(ds: Dataset, labels: np.ndarray, split_index: np.ndarray, names: list[str],
               ratios: list[float]) -> list[dict]:
    """Per split: images, boxes, groups and the images of its largest group."""
    ann_split = np.full(len(ds.annotations), -1, np.int64)
    linked = ds.annotations.image >= 0
    ann_split[linked] = split_index[ds.annotations.image[linked]]
    sizes = np.bincount(labels)
    group_split = np.zeros(len(sizes), np.int64)
    group_split[labels] = split_index
    rows = []
    for s, name in enumerate(names):
        mine = group_split == s
        rows.append({"name": name, "ratio": ratios[s], "images": int((split_index == s).sum()),
                     "boxes": int((ann_split == s).sum()), "groups": int(mine.sum()),
                     "largest_group": int(sizes[mine].max()) if mine.any() else 0})
    return rows


def class_deviations(ds: Dataset, split_index: np.ndarray, names: list[str], ratios: list[float]) -> list[dict]:
    """Per class: its share of boxes in each split, and the largest deviation from the ratio."""
    ann = ds.annotations
    keep = (ann.image >= 0) & (ann.category >= 0)
    k, s = len(ds.categories), len(names)
    table = np.bincount(ann.category[keep] * s + split_index[ann.image[keep]], minlength=k * s).reshape(k, s)
    out = []
    for c, name in enumerate(ds.categories.names):
        total = int(table[c].sum())
        if not total:
            continue
        shares = table[c] / total
        deviation = shares - np.asarray(ratios)
        worst = int(np.argmax(np.abs(deviation)))
        out.append({"name": name, "boxes": total, "shares": {n: round(float(v), 4) for n, v in zip(names, shares)},
                    "deviation": round(float(deviation[worst]), 4) + 0.0, "split": names[worst]})
    return out
