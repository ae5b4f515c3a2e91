"""Reading ``boxes.csv`` into the model, with file:line provenance and located parse errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detlint.findings import Finding
from detlint.model import Annotations, Categories, Dataset, Images

HEADER = "image,width,height,class,x1,y1,x2,y2"


def read_csv(csv_path: Path, name: str) -> Dataset:
    root = csv_path.parent
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    problems: list[Finding] = []
    images: dict[str, tuple[int, int, int]] = {}  # name -> (row, width, height)
    classes: dict[str, int] = {}
    rows: list[tuple[int, int, list[float], int]] = []  # image row, class index, box, line
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        try:
            image, width, height, label = fields[0], int(fields[1]), int(fields[2]), fields[3]
            box = [float(v) for v in fields[4:8]]
        except (IndexError, ValueError):
            problems.append(Finding("F001", f"not a boxes.csv row: {line!r}", file=csv_path.name, line=number))
            continue
        entry = images.setdefault(image, (len(images), width, height))
        rows.append((entry[0], classes.setdefault(label, len(classes)), box, number))
    return Dataset(format=name, root=root, categories=Categories.build(list(classes), src_file=0),
                   images=_images(images, root), annotations=_annotations(rows), files=[csv_path.name],
                   problems=problems)


def _images(images: dict[str, tuple[int, int, int]], root: Path) -> Images:
    table = Images.empty(len(images))
    for file_name, (row, width, height) in images.items():
        table.file_name[row] = file_name
        table.path[row] = file_name if (root / file_name).is_file() else ""
        table.width[row], table.height[row] = width, height
        table.src_file[row] = 0
    return table


def _annotations(rows: list[tuple[int, int, list[float], int]]) -> Annotations:
    table = Annotations.empty(len(rows))
    for i, (image, category, box, line) in enumerate(rows):
        table.image[i], table.category[i], table.class_id[i] = image, category, category
        table.boxes[i] = table.raw[i] = box
        table.src_file[i], table.src_line[i], table.src_item[i] = 0, line, i
    if not rows:
        table.boxes = np.zeros((0, 4))
    return table
