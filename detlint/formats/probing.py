"""Image sizes from image headers, for formats that do not declare them (KITTI, Open Images)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from detlint import fileio
from detlint.formats.protocol import ReadOptions
from detlint.headers import header_size
from detlint.model import Images


def probe_sizes(root: Path, images: Images, options: ReadOptions) -> None:
    """Fill ``images.width``/``height`` of the images found from their headers (threads, within
    the dataset's boundary); unreadable ones stay 0 (unknown)."""
    present = np.flatnonzero(images.path != "")
    if not options.probe_images or not len(present):
        return
    boundary = options.boundary(root)
    paths = [os.path.join(os.path.abspath(root), p) for p in images.path[present].tolist()]
    sizes = fileio.batch_map(lambda batch: [header_size(p, options.headers, boundary) for p in batch], paths,
                             options.workers, desc="image headers", progress=options.progress)
    measured = np.array([s or (0, 0) for s in sizes], np.int64).reshape(len(present), 2)
    images.width[present], images.height[present] = measured[:, 0], measured[:, 1]
