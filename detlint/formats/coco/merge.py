"""Joining the files of one COCO dataset: annotations linked to image rows and categories by
id, and one category list (by name) over every file, with each file's own id map kept."""

from __future__ import annotations

import numpy as np

from detlint.formats.coco.tables import Category
from detlint.model import Annotations, Categories, Dataset, Images


def lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values`` at the position of each query in ``keys`` (first occurrence), -1 where absent."""
    if not len(keys) or not len(queries):
        return np.full(len(queries), -1, np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(keys) - 1)
    found = sorted_keys[pos] == queries
    return np.where(found, values[order[pos]], -1)


def link_images(images: Images, ann: Annotations, image_ids: np.ndarray, offset: int) -> None:
    """Each annotation's image row (``offset``: the file's first row); image ids repeat across
    split files, so each file links to its own images."""
    rows = np.arange(offset, offset + len(images), dtype=np.int64)
    ann.image = lookup(images.id, rows, image_ids).astype(np.int32)


def link_categories(ann: Annotations, mapping: dict[int, int]) -> None:
    """Each annotation's category index, from its file's id -> index map."""
    keys = np.array(list(mapping), dtype=np.int64)
    values = np.array(list(mapping.values()), dtype=np.int64)
    ann.category = lookup(keys, values, ann.class_id).astype(np.int32)


def merge_categories(per_file: list[list[Category]], file_indices: list[int],
                     ds: Dataset) -> list[dict[int, int]]:
    """One category list for the dataset (by name, in id order of first appearance);
    returns per file a map from that file's category id to the global index."""
    names: list[str] = []
    ids: list[int] = []
    extras: list[dict] = []
    src: list[tuple[int, int]] = []
    index_of: dict[str, int] = {}
    maps: list[dict[int, int]] = []
    class_maps: dict[str, list[list]] = {}
    for cats, file_index in zip(per_file, file_indices):
        mapping: dict[int, int] = {}
        for cat_id, name, extra, position in sorted(cats, key=lambda c: c[0]):
            if name not in index_of:
                index_of[name] = len(names)
                names.append(name)
                ids.append(cat_id)
                extras.append(extra)
                src.append((file_index, position))
            mapping.setdefault(cat_id, index_of[name])
        maps.append(mapping)
        class_maps[ds.files[file_index]] = [[c[0], c[1]] for c in cats]
    ds.meta["class_maps"] = class_maps
    ds.categories = Categories(
        names=names, ids=np.array(ids, dtype=np.int64).reshape(len(names)), extra=extras,
        src_file=np.array([s[0] for s in src], dtype=np.int32).reshape(len(names)),
        src_line=np.zeros(len(names), np.int32),
        src_item=np.array([s[1] for s in src], dtype=np.int32).reshape(len(names)),
    )
    return maps
