"""Dataset builders shared by the test modules (tiny real images made with Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112


def write_image(path: Path, size: tuple[int, int] = (64, 48), mode: str = "RGB",
                orientation: int | None = None, noise_seed: int | None = None) -> None:
    """A ``size`` image: a deterministic gradient, or noise from ``noise_seed``; optional EXIF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if noise_seed is None:
        pixels = (np.arange(size[0] * size[1] * 3) % 251).astype(np.uint8).reshape(size[1], size[0], 3)
    else:
        pixels = np.random.default_rng(noise_seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB").convert(mode)
    if orientation is None:
        image.save(path)
        return
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    image.save(path, exif=exif)


def make_yolo(root: Path, labels: dict[str, str], names: list[str], size: tuple[int, int] = (64, 48),
              split: str = "train", noise: bool = False) -> Path:
    """A YOLO dataset: one image per label file name, ``labels`` maps stem to the file text. Its
    data.yaml also names an (empty) ``holdout`` folder as ``val:`` or ``train:`` when ``split`` is
    neither: ultralytics requires both keys (F002 otherwise), and one folder in both leaks (S001)."""
    root.mkdir(parents=True, exist_ok=True)
    other = "train" if split == "val" else "val"
    (root / "images" / "holdout").mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(f"path: .\n{split}: images/{split}\n{other}: images/holdout\nnc: {len(names)}\n"
                                    f"names: [{', '.join(names)}]\n")
    for stem, text in labels.items():
        seed = len(stem) + sum(map(ord, stem)) if noise else None
        write_image(root / "images" / split / f"{stem}.png", size, noise_seed=seed)
        label = root / "labels" / split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(text)
    return root
