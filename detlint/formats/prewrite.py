"""What every writer may take for granted, made true before it runs (``formats.save``), each
change a listed loss: every annotation is on an existing image, every text is valid Unicode, and
what the reader could not parse is counted.

The model keeps an annotation whose image is not defined (COCO ``image_id`` matching no image)
as image row -1, which is right for the rules (F004) but means "the last image" to numpy: a
writer indexing with it puts the box on a wrong image. Such rows are dropped here, once for all
writers, and :func:`check_links` refuses a dataset in which one still reaches a writer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import numpy as np
import orjson

from detlint.formats.protocol import WriteOptions
from detlint.model import Dataset, take_images
from detlint.safetext import counted

_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"
# reader problems after which some of the source's content is not in the model
_UNPARSED = {
    "F001": "annotation files that could not be parsed (no annotations read from them)",
    "F006": "label lines that could not be parsed (not converted)",
    "F008": "files or listed entries outside the dataset root (not read)",
}


def prepared(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` as a writer may take it (a new dataset: ``ds`` itself is left as it is); every
    change recorded with ``options.lose``."""
    _lose_unparsed(ds, options)
    ds = _linked_only(ds, options)
    ds = _valid_unicode(ds, options)
    ds = _no_nul_names(ds, options)
    check_links(ds)
    return ds


def check_links(ds: Dataset) -> None:
    """Raise (an internal error: the writer path is broken) if an annotation's image or class
    index is out of range: numpy would take -1 as the last row and write it on a wrong image."""
    ann = ds.annotations
    bad_image = np.flatnonzero((ann.image < 0) | (ann.image >= len(ds.images)))
    bad_class = np.flatnonzero(ann.category >= len(ds.categories))
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
        options.lose(what, count, ", ".join(files[:5]) + (" ..." if len(files) > 5 else ""))


def _linked_only(ds: Dataset, options: WriteOptions) -> Dataset:
    """``ds`` without the annotations whose image row is not one of its images."""
    ann = ds.annotations
    linked = (ann.image >= 0) & (ann.image < len(ds.images))
    if linked.all():
        return ds
    options.lose("annotations that reference no image (dropped: their image_id matches no image entry)",
                 int((~linked).sum()))
    return replace(ds, annotations=ann.take(linked))


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

