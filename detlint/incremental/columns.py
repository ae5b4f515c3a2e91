"""The snapshot's column file: a dataset's numpy columns in one file, read back by mapping it.

Layout: magic, header length, a JSON header (the dataset's lists and extras, each array's dtype,
shape and offset), then the arrays' bytes at aligned offsets. Object columns are stored as a JSON
table of their distinct values plus an int32 index per row. Nothing is pickled: a cache file can
never run code.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.boundary import CACHE_BYTES, open_regular
from detlint.findings import Finding, Fix
from detlint.model import Annotations, Categories, Dataset, Images

SNAPSHOT_VERSION = 2
_IMAGE_TEXT = ("file_name", "path", "split")
_IMAGE_NUMBERS = ("width", "height", "id", "src_file", "src_line", "src_item")
_ANNOTATION_OBJECTS = ("segmentation", "extra")
_ANNOTATION_NUMBERS = tuple(name for name in Annotations.empty(0).__dict__ if name not in _ANNOTATION_OBJECTS)


def pack(value: Any) -> Any:
    """A JSON value that :func:`_unpack` turns back into ``value`` (int dict keys, tuples)."""
    if isinstance(value, dict):
        if all(type(k) is str for k in value):
            return {k: pack(v) for k, v in value.items()}
        return {"\0items": [[pack(k), pack(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"\0tuple": [pack(v) for v in value]}
    if isinstance(value, list):
        return [pack(v) for v in value]
    return value


def unpack(value: Any) -> Any:
    if isinstance(value, dict):
        if "\0items" in value:
            return {unpack(k): unpack(v) for k, v in value["\0items"]}
        if "\0tuple" in value:
            return tuple(unpack(v) for v in value["\0tuple"])
        return {k: unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v) for v in value]
    return value


def finding_dict(finding: Finding) -> dict[str, Any]:
    fields = {f.name: getattr(finding, f.name) for f in dataclasses.fields(finding)}
    fields["fix"] = dataclasses.asdict(finding.fix) if finding.fix is not None else None
    return fields


def finding_from(fields: dict[str, Any]) -> Finding:
    fix = fields.get("fix")
    return Finding(**{**fields, "fix": Fix(**fix) if fix else None})


def _encode_objects(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 JSON of the distinct values, int32 index per row); raises TypeError/ValueError when
    JSON cannot carry a value exactly."""
    keys = [orjson.dumps(value) for value in column.tolist()]
    table: dict[bytes, int] = {}
    index = np.fromiter((table.setdefault(key, len(table)) for key in keys), np.int32, len(keys))
    distinct = b"[" + b",".join(table) + b"]"
    originals = [None] * len(table)
    for row, slot in zip(range(len(column)), index.tolist()):
        if originals[slot] is None:
            originals[slot] = column[row]
    if orjson.loads(distinct) != originals:  # a tuple or non-str key would come back different
        raise ValueError("object column values do not survive JSON")
    return np.frombuffer(distinct, np.uint8), index


def _decode_objects(distinct: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The column back; rows with equal values share one object (rules only read them)."""
    listed = orjson.loads(distinct.tobytes())
    values = np.empty(len(listed), dtype=object)
    values[:] = listed
    return values[index] if len(index) else np.empty(0, dtype=object)


def _encode_texts(values: np.ndarray) -> np.ndarray:
    return np.frombuffer("\0".join(values.tolist()).encode("utf-8", "surrogatepass"), np.uint8)


def _decode_texts(array: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    if n:
        out[:] = array.tobytes().decode("utf-8", "surrogatepass").split("\0")
    return out


def encode(ds: Dataset) -> dict[str, np.ndarray]:
    images, ann, cats = ds.images, ds.annotations, ds.categories
    arrays: dict[str, np.ndarray] = {f"img_{name}": getattr(images, name) for name in _IMAGE_NUMBERS}
    arrays.update({f"img_{name}": _encode_texts(getattr(images, name)) for name in _IMAGE_TEXT})
    arrays["img_extra"], arrays["img_extra_index"] = _encode_objects(images.extra)
    arrays.update({f"ann_{name}": getattr(ann, name) for name in _ANNOTATION_NUMBERS})
    for name in _ANNOTATION_OBJECTS:
        arrays[f"ann_{name}"], arrays[f"ann_{name}_index"] = _encode_objects(getattr(ann, name))
    arrays.update({"cat_ids": cats.ids, "cat_src_file": cats.src_file, "cat_src_line": cats.src_line,
                   "cat_src_item": cats.src_item})
    return arrays


_MAGIC = b"DLSNAP%02d" % SNAPSHOT_VERSION
_ALIGN = 64


def column_file(header: bytes, arrays: dict[str, np.ndarray]) -> bytes:
    """magic, header length, JSON header (with each array's dtype, shape and offset), then
    the arrays' bytes at aligned offsets: read back by mapping the file, not by copying it."""
    layout: dict[str, list] = {}
    offset = 0
    for name, array in arrays.items():
        layout[name] = [array.dtype.str, list(array.shape), offset]
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    head = orjson.dumps({"dataset": orjson.Fragment(header), "arrays": layout})
    start = -(-(len(_MAGIC) + 8 + len(head)) // _ALIGN) * _ALIGN
    out = bytearray(start + offset)
    out[:len(_MAGIC)] = _MAGIC
    out[len(_MAGIC):len(_MAGIC) + 8] = len(head).to_bytes(8, "little")
    out[len(_MAGIC) + 8:len(_MAGIC) + 8 + len(head)] = head
    for name, array in arrays.items():
        at = start + layout[name][2]
        out[at:at + array.nbytes] = np.ascontiguousarray(array).tobytes()
    return bytes(out)


def read_column_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(dataset header, arrays) of a column file. The arrays map the file copy-on-write: pages
    are read when touched, and writing to them changes this process's copy only."""
    opened = open_regular(os.fspath(path), CACHE_BYTES)  # never a FIFO or /dev/zero put in its place
    if not isinstance(opened, tuple):
        raise ValueError(f"not a detlint snapshot: {opened}")
    with os.fdopen(opened[0], "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    if mapped[:len(_MAGIC)] != _MAGIC:
        raise ValueError("not a detlint snapshot of this version")
    length = int.from_bytes(mapped[len(_MAGIC):len(_MAGIC) + 8], "little")
    head = orjson.loads(mapped[len(_MAGIC) + 8:len(_MAGIC) + 8 + length])
    start = -(-(len(_MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    arrays = {}
    for name, (dtype, shape, offset) in head["arrays"].items():
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    return head["dataset"], arrays


def decode(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Dataset:
    n_images = len(arrays["img_id"])
    images = Images(**{name: arrays[f"img_{name}"] for name in _IMAGE_NUMBERS},
                    **{name: _decode_texts(arrays[f"img_{name}"], n_images) for name in _IMAGE_TEXT},
                    extra=_decode_objects(arrays["img_extra"], arrays["img_extra_index"]))
    annotations = Annotations(**{name: arrays[f"ann_{name}"] for name in _ANNOTATION_NUMBERS},
                              **{name: _decode_objects(arrays[f"ann_{name}"], arrays[f"ann_{name}_index"])
                                 for name in _ANNOTATION_OBJECTS})
    cats = header["categories"]
    categories = Categories(names=cats["names"], ids=arrays["cat_ids"], extra=unpack(cats["extra"]),
                            src_file=arrays["cat_src_file"], src_line=arrays["cat_src_line"],
                            src_item=arrays["cat_src_item"])
    return Dataset(format=header["format"], root=Path(header["root"]), categories=categories, images=images,
                   annotations=annotations, files=header["files"], meta=unpack(header["meta"]),
                   problems=[finding_from(unpack(p)) for p in header["problems"]])
