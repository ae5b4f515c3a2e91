"""Writing the model as ``boxes.csv`` (atomically), images linked beside it."""

from __future__ import annotations

from pathlib import Path

from detlint.fileio import atomic_write_text
from detlint.formats import WriteOptions
from detlint.model import Dataset
from detlint.placing import place_image
from toy_format.read import HEADER


def write_csv(ds: Dataset, target: Path, options: WriteOptions) -> None:
    images, ann = ds.images, ds.annotations
    lines = [HEADER]
    for row in range(len(ann)):
        image = int(ann.image[row])
        category = int(ann.category[row])
        if image < 0 or category < 0:
            continue
        x1, y1, x2, y2 = (f"{v:g}" for v in ann.boxes[row].tolist())
        name = str(images.file_name[image])
        lines.append(f"{name},{images.width[image]},{images.height[image]},{ds.categories.names[category]},"
                     f"{x1},{y1},{x2},{y2}")
    options.lose("annotations without an image or class", int(((ann.image < 0) | (ann.category < 0)).sum()))
    atomic_write_text(target, "\n".join(lines) + "\n")
    for row in range(len(images)):
        if images.path[row]:
            place_image(Path(ds.root) / images.path[row], target.parent / str(images.file_name[row]),
                        ds.root, options.link_images)
