"""Turning a section's parsed items into typed columns in bulk: one C-level pass per key where
every item is well formed (the common case), item by item only where one is not, with a
located F002 for that item alone. Unknown keys are kept per item for round trips."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from detlint.findings import Finding
from detlint.formats.coco.parse import describe, problem, schema_messages
from detlint.model import ABSENT_INT


def is_int(value: Any) -> bool:
    return type(value) is int


def is_number(value: Any) -> bool:
    return type(value) in (int, float)


def int_column(values: list, file: str, section: str, key: str, problems: list[Finding],
               positions: Sequence[int], default: int = -1, required: bool = True) -> np.ndarray:
    """int64 column; absent (when not required) or malformed values become ``default``;
    ``positions``: each value's item position in the section, for the findings' pointers."""
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    out = np.full(len(values), default, np.int64)
    for i, value in enumerate(values):
        if is_int(value) and -(1 << 63) <= value < (1 << 63):
            out[i] = value
        elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            out[i] = int(value)  # 3.0 is an id everyone accepts; reported, not dropped
            problems.append(problem("F002", f"{key} {value!r} is a float, not an integer", file,
                                    section, positions[i], key))
        elif value is not None or required:
            expected = "within the 64-bit range" if is_int(value) else "expected an integer"
            problems.append(problem("F002", f"{key} is {describe(value)}, {expected}",
                                    file, section, positions[i], key))
    return out


def float_column(values: list) -> np.ndarray:
    """float64 column; absent or non-numeric values become NaN (reported elsewhere)."""
    if set(map(type, values)) <= {int, float}:
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:
            pass
    return np.array([to_float(v) for v in values], dtype=np.float64).reshape(len(values))


def to_float(value: Any) -> float:
    """A JSON number as float: NaN for non-numbers, +-inf for integers beyond float range."""
    if not is_number(value):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


def flag_column(values: list, file: str, positions: Sequence[int], problems: list[Finding]) -> np.ndarray:
    """int8 column of a 0/1 flag (``iscrowd``); absent -> ABSENT_INT, anything else is F002."""
    if set(map(type, values)) <= {int} and set(values) <= {0, 1}:
        return np.array(values, dtype=np.int8).reshape(len(values))
    out = np.full(len(values), ABSENT_INT, np.int8)
    for i, value in enumerate(values):
        if type(value) is int and value in (0, 1):
            out[i] = value
        elif value is not None:
            problems.append(problem("F002", f"iscrowd is {describe(value)}, expected 0 or 1", file,
                                    "annotations", positions[i], "iscrowd"))
    return out


def dict_items(items: Any, file: str, section: str, problems: list[Finding],
                start: int = 0) -> tuple[list[dict], list[int]]:
    """The dict entries of a section and their positions (``start``: the first item's); anything
    else is F002."""
    if items is None:
        return [], []
    if not isinstance(items, list):
        problems.append(problem("F002", f"'{section}' is {describe(items)}, expected a list", file, section))
        return [], []
    if set(map(type, items)) <= {dict}:
        return items, list(range(start, start + len(items)))
    kept, positions = [], []
    for i, item in enumerate(items, start):
        if type(item) is dict:
            kept.append(item)
            positions.append(i)
        else:
            problems.append(problem("F002", f"{section} entry is {describe(item)}, expected an object",
                                    file, section, i))
    return kept, positions


def key_columns(items: list[dict], keys: tuple[str, ...]) -> tuple[dict[str, list], bool]:
    """Each key's values over all items (None where absent): a C-level pass per key when every
    item has the key (the common case), a ``dict.get`` pass otherwise. Also: whether every item
    has every key."""
    columns = {}
    complete = True
    for key in keys:
        try:
            columns[key] = list(map(operator.itemgetter(key), items))
        except KeyError:
            columns[key] = [item.get(key) for item in items]
            complete = False
    return columns, complete


def extras(items: list[dict], known: tuple[str, ...], has_known: bool) -> np.ndarray:
    """Per-item dict of keys outside ``known`` (None where there are none), kept for round trips.
    ``has_known``: every item has every known key.

    Items of one file share a few key layouts: the layouts are classified once, not the items.
    """
    out = np.full(len(items), None, dtype=object)
    if not items:
        return out
    longest = max(map(len, items))
    if has_known and longest == len(known):
        return out  # every item has exactly the known keys
    if has_known and longest == min(map(len, items)) and len(set(map(tuple, items))) == 1:
        # one layout for all (e.g. every image has a "license"): the extra keys' values by
        # C-level passes, not a dict comprehension per item
        extra_keys = [k for k in items[0] if k not in known]
        try:
            if len(extra_keys) == 1:  # COCO's "license": one-key dicts, no zip per item (2x faster)
                key = extra_keys[0]
                out[:] = [{key: v} for v in map(operator.itemgetter(key), items)]
                return out
            values = [list(map(operator.itemgetter(k), items)) for k in extra_keys]
        except KeyError:
            values = None
        if values is not None:
            out[:] = [dict(zip(extra_keys, row)) for row in zip(*values)]
            return out
    layouts = list(map(tuple, items))
    with_extras = {layout for layout in set(layouts) if any(k not in known for k in layout)}
    if with_extras:
        for i, (item, layout) in enumerate(zip(items, layouts)):
            if layout in with_extras:
                out[i] = {k: v for k, v in item.items() if k not in known}
    return out


def bbox_columns(values: list, file: str, positions: Sequence[int],
                 problems: list[Finding]) -> tuple[np.ndarray, np.ndarray]:
    """(raw xywh float64[N,4] with NaN where unusable, has_box bool[N])."""
    n = len(values)
    try:
        # the common case, checked and converted by C-level passes: every bbox is 4 numbers
        if n and set(map(len, values)) == {4} and set(map(type, chain.from_iterable(values))) <= {int, float}:
            raw = np.fromiter(chain.from_iterable(values), dtype=np.float64, count=4 * n).reshape(n, 4)
            return raw, np.ones(n, bool)
    except (TypeError, OverflowError):  # a bbox that is not a list, or an integer beyond float range
        pass
    raw = np.full((n, 4), np.nan)
    has_box = np.zeros(n, bool)
    for i, value in enumerate(values):
        if value is None:
            continue  # an annotation without a box (image-level label): kept, no geometry
        has_box[i] = True
        if isinstance(value, list) and len(value) == 4:
            raw[i] = [to_float(v) for v in value]
            if all(is_number(v) for v in value):
                continue
        for message in schema_messages({"bbox": value}, "bbox_holder") or [f"bbox {describe(value)}"]:
            problems.append(problem("F002", message, file, "annotations", positions[i], "bbox"))
    return raw, has_box



def segmentation_column(values: list, has_key: Callable[[int], bool], file: str, positions: Sequence[int],
                        problems: list[Finding]) -> np.ndarray:
    """The ``segmentation`` values as an object column; one that is neither polygons (a list)
    nor an RLE (an object) is F002, ``null`` included (pycocotools' annToRLE and torchvision's
    mask conversion fail on it); an absent key is fine (a box-only annotation): ``has_key(i)``
    tells them apart."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    kinds = set(map(type, values))
    if kinds <= {list, dict}:
        return column
    for i, value in enumerate(values):
        if isinstance(value, (list, dict)) or (value is None and not has_key(i)):
            continue
        shown = "null" if value is None else describe(value)
        problems.append(problem("F002", f"segmentation is {shown}, expected a list of polygons or an RLE object",
                                file, "annotations", positions[i], "segmentation"))
        column[i] = None
    return column
