"""missing-image (I001): an annotated image file does not exist.

Why it matters: the DataLoader raises ``FileNotFoundError`` in a worker, minutes or hours into
training, or the loader skips the sample and its labels silently. Also fires when a data.yaml
split entry (folder, image or list file) or an obj.data list does not exist (the resolved path
is printed): that is a structural problem of the dataset description, reported at every image
level, ``--images none`` included; the image files themselves are checked from ``header`` on.
A COCO or YOLO name that escapes the dataset root is F008 only; a YOLO label file without an
image is I006.

Where images are looked for: a COCO ``file_name`` is looked up in the JSON's folder, its
parent, the dataset root, ``images/``, ``data/`` and the split's folders (``images/<split>``,
``<split>/``, ``<split>2017/``, ``data/<split>``); each candidate folder is listed once and the
one where most of the file's names resolve is searched first. A VOC image is looked up in
``JPEGImages/``, the XML's folder and the root. Images stored outside the dataset folder (another
disk, a shared image store) are found with ``--image-root DIR`` (or ``image-root`` in the config,
relative to the config file): they are then looked up in that folder (and its split folders, or
``JPEGImages/``) only, and read from nowhere else. A YOLO dataset takes no image root: ultralytics
finds each label from its image's path (``images/`` -> ``labels/``), so the images cannot live
apart from the labels.

When images are missing, one more finding, at the annotation file, says how many and lists the
folders searched (once per dataset, not in every message).

Example: COCO ``"file_name": "000123.jpg"`` with no such file next to the JSON or under
``images/``.

Fix: restore the image, fix the name, remove the entry, or name the folder that holds the images
with ``--image-root``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.fileio import safe_relative
from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "I001"
NAME = "missing-image"
SEVERITY = "error"
SCOPE = "image"  # its findings about an image depend on that image and its rows only
FIX = None
OPTIONS: dict = {}
# no IMAGES level: the description's own findings come at every level; check() looks at the
# image files only from "header" on


def orphan_label_entries(ds: Dataset) -> np.ndarray:
    """bool[n_images]: YOLO placeholder entries for label files without an image (I006's business)."""
    extra = ds.images.extra
    return np.fromiter((isinstance(e, dict) and "orphan_label" in e for e in extra), bool, len(extra))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    if ctx.images == "none":  # the dataset description's findings only: no image is looked at
        yield from (p for p in reader_problems(ds, CODE) if p.image is None)
        return
    yield from reader_problems(ds, CODE)
    images = ds.images
    # a COCO or YOLO name that escapes the root is F008's business (the VOC reader still looks
    # for such a file by its base name, so a VOC miss is reported)
    by_basename = format_of(ds).has(Trait.BASENAME_LOOKUP)
    unsafe = np.fromiter((not by_basename and bool(n) and safe_relative(n) is None
                          for n in images.file_name.tolist()), bool, len(images))
    missing = np.flatnonzero((images.path == "") & ~orphan_label_entries(ds) & ~unsafe)
    if len(missing) and ds.image_folders:
        yield searched(ds, missing)
    for row in missing.tolist():
        name = images.file_name[row] or "(no file name)"
        yield at_image(ds, row, CODE, f"image '{name}' not found: the DataLoader raises "
                       "FileNotFoundError when it reaches this entry", field_name="file_name")


def searched(ds: Dataset, missing: np.ndarray) -> Finding:
    """The one finding that says where the ``missing`` images were looked for (at the file that
    declares the first of them)."""
    first = int(missing[0])
    file = ds.file_of(int(ds.images.src_file[first]))
    count = f"{len(missing)} image{'s' if len(missing) != 1 else ''}"
    folders = ", ".join(f"'{folder}'" for folder in ds.image_folders)
    if ds.image_root is not None:
        where = f"{folders} (the image root)"
        hint = "check --image-root"
    else:
        where = f"{folders} (relative to the dataset root)"
        hint = "if the images are stored elsewhere, name their folder with --image-root DIR"
    return Finding(CODE, f"{count} not found; looked in {where}; {hint}", file=file,
                   pointer=format_of(ds).locate(ds, "images", None, None) if file else None)
