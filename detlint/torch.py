"""PyTorch adapter: a torchvision-style detection ``Dataset`` over the one model, and a collate.

``DetectionDataset(ds_or_path)`` follows the torchvision detection convention
(``_load_image`` / ``_load_target`` / ``__getitem__`` / ``__len__``) and returns
``(image, target)``:

- ``image``: ``tv_tensors.Image``, CHW, RGB, EXIF orientation applied (so it matches the box
  coordinates, which detlint keeps in the displayed orientation); ``uint8`` by default, or
  ``float32`` in ``[0, 1]`` with ``dtype="float"``.
- ``target``: ``boxes`` (``tv_tensors.BoundingBoxes``, XYXY, ``canvas_size=(H, W)``, float32),
  ``labels`` (int64), ``image_id`` (int), ``area`` (float32: the source's area where it has one,
  else the box area), ``iscrowd`` (int64: 0 where the source does not say), ``file`` (the image
  path relative to the dataset root, for error messages).

Labels are ``category index + label_offset``. The default offset of 1 keeps 0 free for the
background class, as torchvision's detectors expect: build them with
``num_classes = len(ds.categories) + 1``. Use ``label_offset=0`` for models without a background
class.

``classes`` lists the class names in label order: the name of label ``l`` is
``classes[l - label_offset]`` (``classes[l - 1]`` by default).

``split`` picks the images: a split name, or None for every image. By default it is the
``train`` split where the dataset has one, else every image (as ``detlint smoke`` chooses). A
dataset without splits (one COCO JSON, a flat VOC folder, a YOLO set without ``train:``/``val:``)
is all training data, so ``split="train"`` takes every image there too; any other name that is
not a split of the dataset raises ``ValueError`` naming the splits it has.

Only annotations that can train are kept: kind box, polygon or oriented box (a polygon row and
an oriented box, DOTA or YOLO-OBB, train as their enclosing axis-aligned box), finite
coordinates, a known category. ``detlint check`` reports the others;
``unknown_class_rows`` holds the annotation rows of the chosen images left out for an unknown
class, so ``detlint smoke --no-check`` can say what it did not train on.
Images without any such annotation give empty ``(0, 4)`` boxes and ``(0,)`` labels (negative
samples; torchvision's detectors accept them).

``transforms`` is called as ``transforms(image, target)``, so ``torchvision.transforms.v2``
transforms move the boxes with the image (a resize or flip changes both).

``collate(batch)`` returns ``(list of images, list of targets)``: detection targets are ragged, so
nothing is stacked. It checks every sample and names the bad one instead of failing later inside
the model with a shape error.

torch and torchvision are optional: ``pip install 'detlint[torch]'``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
    from torch.utils.data import Dataset as _TorchDataset
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as _F
except ImportError as _error:  # pragma: no cover - exercised only without torch installed
    raise ImportError(
        f"detlint.torch needs PyTorch and torchvision ({_error}): pip install 'detlint[torch]'"
    ) from _error

from detlint.boundary import Boundary
from detlint.model import Annotations, Dataset
from detlint.safetext import counted

__all__ = ["DEFAULT_SPLIT", "DetectionDataset", "collate", "TRAINABLE_KINDS"]

TRAINABLE_KINDS = (Annotations.KIND_BOX, Annotations.KIND_POLYGON, Annotations.KIND_OBB)
DTYPES = ("uint8", "float")
TRAIN_SPLIT = "train"


class _DefaultSplit:
    """The default ``split``: ``train`` where the dataset has it, else every image."""

    def __repr__(self) -> str:
        return "DEFAULT_SPLIT"


DEFAULT_SPLIT = _DefaultSplit()

Target = dict[str, Any]
Transforms = Callable[[Any, Target], tuple[Any, Target]]


def _load_dataset(ds_or_path: Dataset | str | Path) -> Dataset:
    if isinstance(ds_or_path, Dataset):
        return ds_or_path
    from detlint import load

    return load(ds_or_path)


def _usable_box(ds: Dataset) -> np.ndarray:
    ann = ds.annotations
    return np.isin(ann.kind, TRAINABLE_KINDS) & ann.has_box & np.isfinite(ann.boxes).all(axis=1)


def _known_class(ds: Dataset) -> np.ndarray:
    category = ds.annotations.category
    return (category >= 0) & (category < len(ds.categories))


def trainable_mask(ds: Dataset) -> np.ndarray:
    """Annotations a detector can train on: box/polygon, finite box, known category."""
    return _usable_box(ds) & _known_class(ds)


class DetectionDataset(_TorchDataset):
    """A detlint dataset (or a path to one) as a torchvision detection dataset.

    ``split`` selects one split (``Images.split``); by default ``train`` where the dataset has
    it, else every image; None takes every image, and so does ``"train"`` on a dataset without
    splits. ``classes[label - label_offset]`` is a label's class name. ``masks=True`` adds
    ``target["masks"]``, a ``tv_tensors.Mask`` (N, H, W) uint8 decoded from each object's polygons,
    RLE or YOLO ring (a box-only object: its box filled), for Mask R-CNN style training.
    """

    def __init__(self, ds_or_path: Dataset | str | Path, split: str | None | _DefaultSplit = DEFAULT_SPLIT,
                 transforms: Transforms | None = None, label_offset: int = 1, dtype: str = "uint8",
                 masks: bool = False):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
        self.ds = _load_dataset(ds_or_path)
        self._boundary = Boundary(self.ds.image_dir)  # images are read only from under their root
        self.split = self._resolve_split(split)
        self.transforms = transforms
        self.label_offset = int(label_offset)
        self.dtype = dtype
        self.masks = bool(masks)
        self.image_indices = self._select_images(self.split)
        self._index_annotations()

    def _resolve_split(self, split: str | None | _DefaultSplit) -> str | None:
        """The split name to take, or None for every image; ValueError for a split that is not there."""
        named = [s for s in self.ds.splits if s]
        if isinstance(split, _DefaultSplit):
            return TRAIN_SPLIT if TRAIN_SPLIT in named else None
        if split is None or split in named:
            return split
        if not named:
            if split == TRAIN_SPLIT:  # an unsplit dataset is all training data
                return None
            raise ValueError(f"no split {split!r}: {self.ds.root} has no splits; leave split out (or None) "
                             f"to take all {len(self.ds.images)} images")
        known = ", ".join(repr(s) for s in named)
        raise ValueError(f"no split {split!r} in {self.ds.root} (splits: {known})")

    def _select_images(self, split: str | None) -> np.ndarray:
        if split is None:
            return np.arange(len(self.ds.images), dtype=np.int64)
        return np.flatnonzero(self.ds.images.split == split)

    def _index_annotations(self) -> None:
        """Sort the trainable rows by image once, so a sample is a slice (no per-box objects)."""
        ann = self.ds.annotations
        rows = np.flatnonzero(trainable_mask(self.ds))
        rows = rows[np.argsort(ann.image[rows], kind="stable")]
        self._rows = rows
        sorted_images = ann.image[rows]
        self._starts = np.searchsorted(sorted_images, self.image_indices, side="left")
        self._ends = np.searchsorted(sorted_images, self.image_indices, side="right")
        chosen = np.zeros(len(self.ds.images) + 1, bool)  # the extra slot: image -1 is never chosen
        chosen[self.image_indices] = True
        self.unknown_class_rows = np.flatnonzero(_usable_box(self.ds) & ~_known_class(self.ds) & chosen[ann.image])

    @property
    def classes(self) -> list[str]:
        """Class names in label order: ``classes[label - label_offset]`` names a label."""
        return [str(name) for name in self.ds.categories.names]

    @property
    def num_classes(self) -> int:
        """Classes a torchvision detector needs for this dataset: categories + label_offset."""
        return len(self.ds.categories) + self.label_offset

    def __len__(self) -> int:
        return len(self.image_indices)

    def file_of(self, index: int) -> str:
        """The image path of sample ``index`` relative to the dataset root ("" when not found)."""
        images = self.ds.images
        row = int(self.image_indices[index])
        return str(images.path[row] or images.file_name[row])

    def _image_path(self, index: int) -> Path:
        row = int(self.image_indices[index])
        path = str(self.ds.images.path[row] or "")
        if not path:
            name = self.ds.images.file_name[row]
            raise FileNotFoundError(f"image {name!r} of sample {index} was not found under {self.ds.image_dir}")
        return self.ds.image_dir / path

    def _load_image(self, index: int) -> tv_tensors.Image:
        from PIL import Image, ImageOps

        from detlint.headers import refused_reason

        data = self._boundary.read(str(self._image_path(index)))
        if not isinstance(data, bytes):
            raise OSError(f"image {self.file_of(index)}: {refused_reason(data)}")
        with Image.open(io.BytesIO(data)) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
        image = _F.pil_to_tensor(rgb)
        if self.dtype == "float":
            image = _F.to_dtype(image, torch.float32, scale=True)
        return tv_tensors.Image(image)

    def _load_target(self, index: int, canvas_size: tuple[int, int] | None = None) -> Target:
        """The target of sample ``index``; ``canvas_size`` is the decoded image's (H, W).

        Without ``canvas_size`` the size comes from the image header (after EXIF orientation),
        which normalised YOLO rows (image size unknown at read time) need to become pixels.
        """
        ann = self.ds.annotations
        rows = self._rows[self._starts[index]:self._ends[index]]
        if canvas_size is None:
            canvas_size = self._header_canvas(index)
        height, width = canvas_size
        boxes = ann.boxes[rows].copy()
        normalized = ann.normalized[rows]
        if normalized.any():
            boxes[normalized] *= np.array([width, height, width, height], dtype=np.float64)
        box_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        area = np.where(np.isfinite(ann.area[rows]) & ~normalized, ann.area[rows], box_area)
        target: Target = {
            "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(boxes.astype(np.float32)).reshape(-1, 4),
                                              format="XYXY", canvas_size=(int(height), int(width))),
            "labels": torch.from_numpy(ann.category[rows].astype(np.int64) + self.label_offset),
            "image_id": int(self.ds.images.id[int(self.image_indices[index])]),
            "area": torch.from_numpy(area.astype(np.float32)),
            "iscrowd": torch.from_numpy(np.clip(ann.iscrowd[rows], 0, None).astype(np.int64)),
            "file": self.file_of(index),
        }
        if self.masks:
            from detlint.geometry.masks import object_masks

            decoded = object_masks(ann.segmentation[rows].tolist(), ann.kind[rows].tolist(), boxes, normalized,
                                   int(height), int(width))
            target["masks"] = tv_tensors.Mask(torch.from_numpy(decoded))
        return target

    def _header_canvas(self, index: int) -> tuple[int, int]:
        from detlint.headers import header_size

        size = header_size(self._image_path(index), None, self._boundary)
        if size is None:
            raise OSError(f"cannot read the image size of {self.file_of(index)}")
        return size[1], size[0]

    def __getitem__(self, index: int) -> tuple[Any, Target]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} out of range (dataset has {len(self)})")
        index = index % len(self)
        image = self._load_image(index)
        target = self._load_target(index, canvas_size=tuple(image.shape[-2:]))
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __repr__(self) -> str:
        split = f", split={self.split!r}" if self.split is not None else ""
        return (f"DetectionDataset({str(self.ds.root)!r}{split}, {counted(len(self), 'image')}, "
                f"{counted(self.num_classes, 'class')} incl. offset {self.label_offset})")


def _describe(index: int, target: Any) -> str:
    """'sample 3 (images/a.jpg)' with whatever the target says about where it came from."""
    where = []
    if isinstance(target, Mapping):
        if isinstance(target.get("file"), str) and target["file"]:
            where.append(target["file"])
        elif "image_id" in target:
            where.append(f"image_id {_plain(target['image_id'])}")
    return f"sample {index}" + (f" ({', '.join(where)})" if where else "")


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def validate_sample(index: int, sample: Any) -> None:
    """Raise ValueError naming sample ``index`` when it is not a well-formed detection sample."""
    if not isinstance(sample, Sequence) or isinstance(sample, (str, bytes)) or len(sample) != 2:
        raise ValueError(f"sample {index}: expected an (image, target) pair, got {type(sample).__name__}"
                         + (f" of length {len(sample)}" if isinstance(sample, Sequence) else ""))
    image, target = sample
    name = _describe(index, target)
    if not isinstance(target, Mapping):
        raise ValueError(f"{name}: target must be a dict with 'boxes' and 'labels', got {type(target).__name__}")
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name}: image must be a CHW tensor, got {shape}")
    boxes, labels = target.get("boxes"), target.get("labels")
    if not isinstance(boxes, torch.Tensor) or boxes.ndim != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(f"{name}: boxes must be a (N, 4) tensor, got {shape}")
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.shape[0] != boxes.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"{name}: labels must be a ({boxes.shape[0]},) tensor to match {boxes.shape[0]} "
                         f"boxes, got {shape}")


def collate(batch: Sequence[Any]) -> tuple[list[Any], list[Target]]:
    """``DataLoader(collate_fn=collate)``: (images, targets) as two lists, every sample checked."""
    images: list[Any] = []
    targets: list[Target] = []
    for index, sample in enumerate(batch):
        validate_sample(index, sample)
        images.append(sample[0])
        targets.append(sample[1])
    return images, targets
