"""Reading Label Studio JSON exports (a list of tasks) into the model.

One image per task, one annotation per task (:mod:`.choose`). Results read:
``rectanglelabels`` (``value.x/y/width/height`` in percent of ``original_width/height``,
``value.rotation`` degrees clockwise on screen about the top-left corner ``(x, y)`` before
rotation: Label Studio's Object Detection template docs say the saved rotation is "around the
top left corner", whichever way it was made in the UI), ``polygonlabels``
(``value.points`` in percent), and ``rectangle`` / ``polygon`` results whose class is in a
``labels`` result with the same ``id`` (a config with separate Rectangle and Labels tags).
A rotated rectangle is an oriented box (kind 3: its corners in pixels, clockwise on screen from
``(x, y)``); a polygon is kind 0 with its COCO pixel polygon. ``raw`` keeps the percent
``x y width height`` (a polygon: its points' bounds). Every result is located by its JSON
pointer, ``/<task>/annotations/<k>/result/<r>``. ``image_rotation`` (the image turned in the
UI) is not applied: the coordinates are read against the unrotated image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detlint.findings import Finding, json_pointer
from detlint.formats.labelstudio.choose import RULE, choose, describe
from detlint.formats.labelstudio.images import ImageIndex, resolve
from detlint.formats.protocol import ReadOptions
from detlint.geometry.obb import enclosing_boxes, rect_corners, rotate
from detlint.model import Annotations, Categories, Dataset, Images

NAME = "labelstudio"
RECTANGLES = ("rectanglelabels", "rectangle")
POLYGONS = ("polygonlabels", "polygon")
OBB_META = {"order": "clockwise on screen from the rectangle's own top-left corner (x, y)",
            "angle": "Label Studio value.rotation: degrees clockwise on screen about (x, y)",
            "units": "pixels"}


@dataclass
class Rows:
    """The results read so far, one entry per annotation row."""

    image: list[int] = field(default_factory=list)
    label: list[str | None] = field(default_factory=list)
    percent: list[list[float]] = field(default_factory=list)  # x y w h rotation
    points: list[list | None] = field(default_factory=list)  # polygon points in percent
    size: list[tuple[float, float]] = field(default_factory=list)
    file: list[int] = field(default_factory=list)
    pointer: list[str] = field(default_factory=list)


@dataclass
class Reading:
    root: Path
    index: ImageIndex
    rows: Rows = field(default_factory=Rows)
    images: list[dict] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)  # the pointer prefix of each image's task
    predictions: int = 0
    annotations: int = 0


def read(path: Path, files: list[str], options: ReadOptions) -> Dataset:
    """The dataset of the export files ``files`` (relative to ``path``'s folder)."""
    root = path if path.is_dir() else path.parent
    boundary = options.boundary(root)
    # --image-root: images are looked up (and bounded) there instead of under the export's folder
    image_dir = Path(options.image_root) if options.image_root is not None else root
    reading = Reading(root, ImageIndex(os.fspath(image_dir), options.boundary(image_dir)))
    for number, name in enumerate(files):
        data = boundary.read_document(os.path.join(root, name))
        if not isinstance(data, bytes):
            why = data.message if hasattr(data, "message") else f"cannot read file: {data}"
            reading.problems.append(Finding(getattr(data, "code", "F001"), f"file {why}", file=name))
            continue
        try:
            tasks = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            reading.problems.append(Finding("F001", f"invalid JSON: {error.msg}", file=name,
                                            line=error.lineno, column=error.colno))
            continue
        if not isinstance(tasks, list):
            reading.problems.append(Finding("F002", "a Label Studio export is a list of tasks", file=name,
                                            pointer=""))
            continue
        for t, task in enumerate(tasks):
            _task(reading, number, name, t, task)
    ds = _dataset(reading, files)
    ds.image_root = None if options.image_root is None else image_dir
    return ds


def _task(reading: Reading, number: int, name: str, t: int, task: Any) -> None:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        reading.problems.append(Finding("F002", "task without a 'data' object", file=name, pointer=json_pointer(t)))
        return
    annotations = task.get("annotations") or task.get("completions") or []
    annotations = annotations if isinstance(annotations, list) else []
    predictions = task.get("predictions")
    reading.predictions += len(predictions) if isinstance(predictions, list) else 0
    reading.annotations += len(annotations)
    row = len(reading.images)
    reference = _image_reference(task["data"])
    split = task["data"].get("split")  # written by detlint's writer; Label Studio has no splits
    reading.images.append({"file_name": reference, "file": number, "task": task.get("id"),
                           "width": 0, "height": 0, "split": split if isinstance(split, str) else ""})
    reading.tasks.append(json_pointer(t))
    _image_path(reading, row, name, t)
    chosen, why = choose(annotations)
    if len(annotations) > 1:
        where = json_pointer(t, "annotations", chosen) if chosen is not None else json_pointer(t, "annotations")
        reading.problems.append(Finding("F020", describe(annotations, chosen, why), file=name, pointer=where,
                                        image=reference or None))
    if chosen is None:
        return
    result = annotations[chosen].get("result")
    _results(reading, number, name, row, json_pointer(t, "annotations", chosen, "result"),
             result if isinstance(result, list) else [])


def _image_reference(data: dict) -> str:
    """``data.image``, else the first ``data`` value that looks like a path or URL."""
    image = data.get("image")
    if isinstance(image, str):
        return image
    for value in data.values():
        if isinstance(value, str) and ("/" in value or "." in value):
            return value
    return ""


def _image_path(reading: Reading, row: int, name: str, t: int) -> None:
    entry = reading.images[row]
    found = resolve(entry["file_name"], reading.index) if entry["file_name"] else None
    entry["path"] = found.path if found else ""
    pointer = json_pointer(t, "data", "image")
    if found is not None and found.unsafe:
        reading.problems.append(Finding("F008", "image path is absolute or leaves the dataset root; not read",
                                        file=name, pointer=pointer))
    elif found is not None and found.remote and not found.path:
        entry["remote"] = True


def _results(reading: Reading, number: int, name: str, row: int, prefix: str, results: list) -> None:
    labels = {r.get("id"): r.get("value", {}).get("labels") for r in results
              if isinstance(r, dict) and r.get("type") == "labels" and isinstance(r.get("value"), dict)}
    sizes: dict[tuple, int] = {}
    for r, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
            continue
        kind = str(result.get("type", "")).lower()
        if kind not in RECTANGLES and kind not in POLYGONS:
            continue
        value = result["value"]
        names = value.get(kind) if kind.endswith("labels") else labels.get(result.get("id"))
        size = _size(result)
        if all(np.isfinite(size)) and min(size) > 0:  # a result without its size takes the task's
            sizes.setdefault(size, r)
        rows = reading.rows
        rows.image.append(row)
        rows.label.append(str(names[0]) if isinstance(names, list) and names else None)
        rows.size.append(size)
        rows.file.append(number)
        rows.pointer.append(f"{prefix}/{r}")
        if kind in RECTANGLES:
            rows.percent.append([_number(value.get(k)) for k in ("x", "y", "width", "height")]
                                + [_number(value.get("rotation", 0.0))])
            rows.points.append(None)
        else:
            points = _points(value.get("points"))
            rows.points.append(points)
            rows.percent.append(_bounds(points) + [0.0])
    _sizes(reading, row, name, prefix, sizes)


def _size(result: dict) -> tuple[float, float]:
    return _number(result.get("original_width")), _number(result.get("original_height"))


def _sizes(reading: Reading, row: int, name: str, prefix: str, sizes: dict[tuple, int]) -> None:
    """The image's declared size (the first result's); F017 where results disagree."""
    if not sizes:
        return
    (width, height), first = next(iter(sizes.items()))
    entry = reading.images[row]
    entry["width"] = int(width) if np.isfinite(width) and width > 0 else 0
    entry["height"] = int(height) if np.isfinite(height) and height > 0 else 0
    entry["size_pointer"] = f"{prefix}/{first}/original_width"
    for (w, h), r in list(sizes.items())[1:]:
        reading.problems.append(Finding(
            "F017", f"result says the image is {w:g} x {h:g}, the task's first result says {width:g} x {height:g}: "
            "percent coordinates are read against the first size", file=name,
            pointer=f"{prefix}/{r}/original_width", image=entry["file_name"] or None))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _points(value: Any) -> list[list[float]]:
    if not isinstance(value, list):
        return []
    return [[_number(p[0]), _number(p[1])] for p in value if isinstance(p, list | tuple) and len(p) >= 2]


def _bounds(points: list[list[float]]) -> list[float]:
    if not points:
        return [float("nan")] * 4
    array = np.asarray(points, np.float64)
    low, high = array.min(axis=0), array.max(axis=0)
    return [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])]


def _dataset(reading: Reading, files: list[str]) -> Dataset:
    classes = list(dict.fromkeys(label for label in reading.rows.label if label is not None))
    ds = Dataset(format=NAME, root=reading.root, categories=Categories.build(classes, src_file=-1),
                 images=_images(reading), annotations=_annotations(reading, classes), files=list(files),
                 problems=reading.problems)
    remote = sum(1 for entry in reading.images if entry.get("remote"))
    ds.meta["labelstudio"] = {"results": reading.rows.pointer, "tasks": reading.tasks,
                              "size_pointers": [e.get("size_pointer") for e in reading.images],
                              "annotation_choice": RULE, "annotations": reading.annotations,
                              "predictions_ignored": reading.predictions, "remote_images": remote}
    if (ds.annotations.kind == Annotations.KIND_OBB).any():
        ds.meta["obb"] = dict(OBB_META)
    ds.image_folders = ["./", "images/"]
    return ds


def _images(reading: Reading) -> Images:
    n = len(reading.images)
    table = Images.empty(n)
    entries = reading.images
    table.file_name[:] = [e["file_name"] for e in entries] if n else []
    table.path[:] = [e.get("path", "") for e in entries] if n else []
    table.width[:] = [e["width"] for e in entries]
    table.height[:] = [e["height"] for e in entries]
    table.split[:] = [e["split"] for e in entries] if n else []
    table.id[:] = [e["task"] if isinstance(e["task"], int) else i + 1 for i, e in enumerate(entries)]
    table.src_file[:] = [e["file"] for e in entries]
    table.src_item[:] = np.arange(n, dtype=np.int32)
    return table


def _annotations(reading: Reading, classes: list[str]) -> Annotations:
    rows = reading.rows
    n = len(rows.image)
    table = Annotations.empty(n)
    if not n:
        return table
    index = {name: i for i, name in enumerate(classes)}
    percent = np.asarray(rows.percent, np.float64).reshape(n, 5)
    size = np.asarray(rows.size, np.float64).reshape(n, 2)
    image = np.asarray(rows.image, np.int32)
    declared = np.array([[e["width"], e["height"]] for e in reading.images], np.float64).reshape(-1, 2)
    unusable = ~(size > 0).all(axis=1)
    size[unusable] = declared[image[unusable]]  # a result without a size: the task's first usable one
    size[~(size > 0)] = np.nan  # no usable size in the whole task: the pixels are unknown
    scale = np.column_stack([size[:, 0], size[:, 1], size[:, 0], size[:, 1]]) / 100.0
    pixels = percent[:, :4] * scale
    table.raw = percent[:, :4].copy()
    table.boxes = np.column_stack([pixels[:, :2], pixels[:, :2] + pixels[:, 2:]])
    table.image = image
    table.category = np.asarray([index.get(label, -1) if label is not None else -1 for label in rows.label], np.int32)
    table.class_id = table.category.astype(np.int64)
    table.src_file = np.asarray(rows.file, np.int32)
    table.src_item = np.arange(n, dtype=np.int32)
    table.extra = np.array([{"rotation": float(r)} if r else None for r in percent[:, 4].tolist()], dtype=object)
    _rotated(table, pixels, percent[:, 4])
    _polygons(table, rows.points, size)
    return table


def _rotated(table: Annotations, pixels: np.ndarray, rotation: np.ndarray) -> None:
    """Rectangles with a rotation become oriented boxes (their corners, enclosing box)."""
    rows = np.flatnonzero(np.isfinite(rotation) & (np.mod(rotation, 360.0) != 0))
    if not len(rows):
        return
    x, y, w, h = pixels[rows].T
    corners = rotate(rect_corners(x, y, w, h), x, y, rotation[rows])
    table.kind[rows] = Annotations.KIND_OBB
    table.boxes[rows] = enclosing_boxes(corners)
    for row, shape in zip(rows.tolist(), corners.tolist()):
        table.segmentation[row] = shape


def _polygons(table: Annotations, points: list[list | None], size: np.ndarray) -> None:
    for row, shape in enumerate(points):
        if shape is None:
            continue
        array = np.asarray(shape or np.zeros((0, 2)), np.float64).reshape(-1, 2) * size[row] / 100.0
        table.segmentation[row] = [array.reshape(-1).tolist()] if len(array) else None
