"""What every writer may take for granted, made true before it runs (``formats.save``), each
change a listed loss: every annotation is on an existing image, of a known class, with a finite
box; every text is valid Unicode; and what the reader could not parse is counted. A row that is
not written is always a listed loss, the same in every target format.

The model keeps an annotation whose image is not defined (COCO ``image_id`` matching no image)
as image row -1, which is right for the rules (F004) but means "the last image" to numpy: a
writer indexing with it puts the box on a wrong image. Such rows are dropped here, once for all
writers, and :func:`check_links` refuses a dataset in which one still reaches a writer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from detlint.formats.protocol import WriteOptions
from detlint.model import Annotations, Dataset, take_images
from detlint.safetext import counted

_ROLE = re.compile(r"(train|validation|valid|val|test)(?![a-z])", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"
_UNREAD_ENTRY = re.compile(r"/(images|annotations|categories)/\d+$")
_NOT_AN_OBJECT = "expected an object"  # the reader's F002 for an entry it made no row of
# one wording in every writer (they drop such rows too when called without ``prepared``)
UNKNOWN_CLASS = "annotation of an unknown class"
NON_FINITE_BOX = "non-finite boxes dropped"
# reader problems after which some of the source's content is not in the model
_UNPARSED = {
    "F001": "annotation files that could not be parsed (no annotations read from them)",
    "F006": "label lines that could not be parsed (not converted)",
    "F008": "files or listed entries outside the dataset root (not read)",
    "I005": "images without an annotation file (no trainer sees them), not converted",
    "F020": "Label Studio tasks with several annotations: only the chosen one converted (F020 names it)",
}


def prepared(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` as a writer may take it (a new dataset: ``ds`` itself is left as it is); every
    change recorded with ``options.lose``."""
    _lose_unparsed(ds, options)
    _note_shared_images(ds, options)
    ds = _linked_only(ds, options)
    ds = _known_classes_only(ds, options)
    ds = _finite_boxes_only(ds, options)
    ds = _valid_unicode(ds, options)
    ds = _no_nul_names(ds, options)
    check_links(ds)
    return ds


def _note_shared_images(ds: Dataset, options: WriteOptions) -> None:
    """A file that two splits' entries name (two COCO split files listing it) is written in each
    split, as the source has it: say so, since the output's folders no longer show it."""
    first_split: dict[str, str] = {}
    shared: set[str] = set()
    for path, split in zip(ds.images.path.tolist(), ds.images.split.tolist()):
        if path and first_split.setdefault(path, split) != split:
            shared.add(path)
    if shared:
        example = sorted(shared)[0]
        options.note(f"{counted(len(shared), 'image')} of the source {'is' if len(shared) == 1 else 'are'} in "
                     f"more than one split (S001, e.g. '{example}') and so in the output, as separate files "
                     "with the same pixels; remove them from one split first (`detlint check` lists them)")


def lose_other_splits(ds: Dataset, options: WriteOptions) -> None:
    """For a writer that puts each image in one split: the images the source has in several
    (S001, ``extra["also_in_splits"]``) are written in their first split only, a listed change."""
    others: Counter[str] = Counter()
    images = 0
    for extra in ds.images.extra:
        splits = extra.get("also_in_splits") if extra else None
        if splits:
            images += 1
            others.update(str(split) for split in splits)
    detail = "also in " + ", ".join(f"{split} ({count})" for split, count in sorted(others.items()))
    options.lose("images in more than one split (S001), written in their first split only", images,
                 detail if images else "")


def check_links(ds: Dataset) -> None:
    """Raise (an internal error: the writer path is broken) if an annotation's image or class
    index is out of range: numpy would take -1 as the last row and write it on a wrong image
    (or class)."""
    ann = ds.annotations
    bad_image = np.flatnonzero((ann.image < 0) | (ann.image >= len(ds.images)))
    bad_class = np.flatnonzero((ann.category < 0) | (ann.category >= len(ds.categories)))
    if len(bad_image) or len(bad_class):
        row = int(bad_image[0] if len(bad_image) else bad_class[0])
        raise ValueError(f"refusing to write: annotation row {row} links image {int(ann.image[row])} "
                         f"and class {int(ann.category[row])}, outside the {counted(len(ds.images), 'image')} and "
                         f"{counted(len(ds.categories), 'class')} ({counted(len(bad_image), 'bad image link')}, "
                         f"{counted(len(bad_class), 'bad class link')})")


def _lose_unparsed(ds: Dataset, options: WriteOptions) -> None:
    for code, what in _UNPARSED.items():
        problems = [p for p in ds.problems if p.code == code]
        files = sorted({p.file for p in problems if p.file})
        if code == "F001":  # a lenient parse (COCO "not strict JSON") still gave its annotations
            read = {ds.file_of(int(i)) for i in np.unique(ds.annotations.src_file)}
            files = [f for f in files if f not in read]
        count = len(files) if code == "F001" else len(problems)
        options.lose(what, count, _listed(files))
    _lose_unread_entries(ds, options)


def _lose_unread_entries(ds: Dataset, options: WriteOptions) -> None:
    """Count the entries of a JSON section that were no object (``"annotations": [7, ...]``):
    the reader makes no row of them, so only its F002 says they were there."""
    unread: dict[str, list[str]] = {}
    for p in ds.problems:
        match = _UNREAD_ENTRY.match(p.pointer or "") if p.code == "F002" else None
        if match and p.message.endswith(_NOT_AN_OBJECT):
            unread.setdefault(match.group(1), []).append(f"{p.file}#{p.pointer}")
    for section, where in sorted(unread.items()):
        options.lose(f"{section} entries that are not objects (not read)", len(where), _listed(where))


def _listed(names: list[str]) -> str:
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")


def _linked_only(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` without the annotations whose image row is not one of its images."""
    ann = ds.annotations
    linked = (ann.image >= 0) & (ann.image < len(ds.images))
    if linked.all():
        return ds
    options.lose("annotations that reference no image (dropped: their image_id matches no image entry)",
                 int((~linked).sum()))
    return replace(ds, annotations=ann.take(linked))


def _known_classes_only(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` without the annotations whose class is not in the class list (C001). Every
    writer drops them alike: a target with no class list (VOC) would otherwise have to invent
    a name (``class_3``) that the source never gave."""
    ann = ds.annotations
    unknown = ann.category < 0
    if not unknown.any():
        return ds
    options.lose(UNKNOWN_CLASS, int(unknown.sum()), _class_refs(ds, np.flatnonzero(unknown)))
    return replace(ds, annotations=ann.take(~unknown))


def _class_refs(ds: Dataset, rows: np.ndarray) -> str:
    """The source's own references of the unknown classes of ``rows`` (a name where the source
    gave one, else its class id), each with its count, the most frequent first."""
    extras = ds.annotations.extra[rows]
    named = np.fromiter((isinstance(e, dict) and "name" in e for e in extras), bool, len(rows))
    refs = [repr(str(e["name"])) for e in extras[named]]
    refs += [f"class {v}" for v in ds.annotations.class_id[rows[~named]].tolist()]
    labels, counts = np.unique(np.array(refs, dtype=object), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    shown = [f"{labels[i]} x{counts[i]}" for i in order[:5]]
    more = " ..." if len(order) > 5 else ""
    return f"not written: {', '.join(shown)}{more}; not in the class list (C001)"


def _finite_boxes_only(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` without the boxes a writer cannot write (B004: NaN, inf, or a coordinate the
    reader could not read, e.g. a VOC object without ``<bndbox>`` or a COCO bbox of 2 numbers):
    written, they would be ``nan`` or ``null``, which no trainer reads."""
    ann = ds.annotations
    bad = ann.has_box & (ann.kind != Annotations.KIND_NONE) & ~np.isfinite(ann.boxes).all(axis=1)
    if not bad.any():
        return ds
    options.lose(NON_FINITE_BOX, int(bad.sum()), "not written: a coordinate missing, NaN, inf or not a number (B004)")
    return replace(ds, annotations=ann.take(~bad))


def _valid_unicode(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` with every lone surrogate (a ``\\ud800`` escape a lenient JSON parse lets through;
    no UTF-8 file can hold it) in its texts replaced by U+FFFD. ``images.path`` is left alone:
    it names the source file on disk, where such a character is an undecodable byte."""
    names, renamed = _replaced(ds.categories.names)
    options.lose("class name not valid Unicode, replaced", renamed,
                 "lone surrogate written as U+FFFD: " + ", ".join(names[:5]) if renamed else "")
    cat_extra, n_cat = _replaced(ds.categories.extra)
    image_columns = {name: getattr(ds.images, name) for name in ("file_name", "split", "extra")}
    fixed_images = {name: _replaced(column.tolist()) for name, column in image_columns.items()}
    ann_extra, n_ann = _replaced(ds.annotations.extra.tolist())
    meta, n_meta = _replaced(ds.meta)
    others = n_cat + n_ann + n_meta + sum(n for _, n in fixed_images.values())
    options.lose("text not valid Unicode (file name, split, extra field), replaced", others,
                 "lone surrogate written as U+FFFD")
    if not renamed and not others:
        return ds
    images = take_images(ds.images, np.arange(len(ds.images)))
    for name, (values, _) in fixed_images.items():
        setattr(images, name, _objects(values))
    annotations = ds.annotations.take(np.arange(len(ds.annotations)))
    annotations.extra = _objects(ann_extra)
    categories = replace(ds.categories, names=names, extra=cat_extra)
    return replace(ds, categories=categories, images=images, annotations=annotations, meta=meta).validate()


def _no_nul_names(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` with NUL bytes in image file names (no file system holds one: the writer could not
    name the image's label or annotation file) written as U+FFFD."""
    names = ds.images.file_name.tolist()
    bad = [i for i, name in enumerate(names) if "\0" in name]
    if not bad:
        return ds
    options.lose("image file names holding a NUL byte, replaced", len(bad), "NUL written as U+FFFD")
    images = take_images(ds.images, np.arange(len(ds.images)))
    images.file_name = _objects([name.replace("\0", _REPLACEMENT) if "\0" in name else name for name in names])
    return replace(ds, images=images).validate()


def exact_round_trip(ds: Dataset, rows: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which of ``rows``, given the pixel ``boxes`` a writer wrote for them, give the source's
    own numbers (``Annotations.raw``) back at the precision the source wrote them with: then a
    writer's rounding lost nothing (a YOLO ``0.123457`` read back from VOC pixels to 3
    decimals is still ``0.123457``)."""
    from detlint import formats  # the registry imports the writers

    source = formats.get(ds.format) if ds.format in formats.names() else None
    raw = ds.annotations.raw[rows]
    if source is None or not len(rows):
        return np.zeros(len(rows), bool)
    annotations = ds.annotations.take(rows)
    annotations.boxes = np.asarray(boxes, np.float64)
    again = source.raw_from_boxes(replace(ds, annotations=annotations), np.arange(len(rows)))
    half_unit = 0.5 * 10.0 ** -_decimals(raw) + 1e-9
    with np.errstate(invalid="ignore"):
        return (np.abs(again - raw) <= half_unit).all(axis=1)


def _decimals(values: np.ndarray, most: int = 9) -> np.ndarray:
    """The fewest decimals that write each value (a float-noise tolerance), ``most`` at most."""
    decimals = np.full(values.shape, most, np.int64)
    for d in range(most - 1, -1, -1):
        exact = np.abs(np.round(values, d) - values) <= 1e-9 * np.maximum(1.0, np.abs(values))
        decimals[exact] = d
    return decimals


def split_role(split: str) -> str | None:
    """The trainer's role of a split by its name (``train2017`` trains, ``valid`` and
    ``val2017`` validate, ``test-dev`` tests); None for a name that says none."""
    match = _ROLE.match(split)
    return None if match is None else {"valid": "val", "validation": "val"}.get(match.group(1).lower(),
                                                                                 match.group(1).lower())


def has_content(extra: Any) -> bool:
    """Whether an extras dict holds a value a target could lose: ``pose ''`` or a
    ``supercategory`` of None says nothing, and dropping it is no loss."""
    return isinstance(extra, dict) and any(not is_empty(value) for value in extra.values())


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict, tuple)) and not value)


def valid_text(text: str) -> str:
    """``text`` as it is written: lone surrogates replaced by U+FFFD."""
    return _SURROGATE.sub(_REPLACEMENT, text)


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-D object column of ``values`` (``np.array`` would make lists of one length 2-D)."""
    column = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        column[i] = value
    return column


def _replaced(value: Any) -> tuple[Any, int]:
    """``value`` (strings, lists, dicts of them) with lone surrogates replaced, and how many
    strings changed. One C-level encode of the whole value first: almost always nothing to do."""
    try:
        orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
        return value, 0
    except TypeError:
        pass
    return _walk(value)


def _walk(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        fixed = valid_text(value)
        return fixed, int(fixed != value)
    if isinstance(value, (list, tuple)):
        parts = [_walk(v) for v in value]
        return type(value)(p[0] for p in parts), sum(p[1] for p in parts)
    if isinstance(value, dict):
        count, out = 0, {}
        for key, item in value.items():
            new_key, n_key = _walk(key)
            new_item, n_item = _walk(item)
            out[new_key] = new_item
            count += n_key + n_item
        return out, count
    return value, 0

