"""The fast JPEG/PNG header path must agree with Pillow on every file it answers for."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detlint import images
from detlint.boundary import Boundary
from detlint.headers import header_facts
from detlint.headers import pillow_facts as facts_of_open_image


def _facts(path) -> tuple | None:
    """``header_facts`` of a file, opened the way the prober opens it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return header_facts(fd)
    finally:
        os.close(fd)


def pillow_facts(path: Path) -> tuple[int, int, int, str]:
    with Image.open(path) as im:
        return facts_of_open_image(im)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def make_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8))
    out: list[Path] = []

    def save(name: str, image: Image.Image, **kwargs: object) -> None:
        path = folder / name
        image.save(path, **kwargs)
        out.append(path)

    save("rgb.jpg", rgb, quality=80)
    save("progressive.jpg", rgb, progressive=True)
    save("grey.jpg", rgb.convert("L"))
    save("cmyk.jpg", rgb.convert("CMYK"))
    for orientation in range(1, 9):
        save(f"exif{orientation}.jpg", rgb, exif=_exif(orientation))
    save("rgb.png", rgb)
    save("rgba.png", rgb.convert("RGBA"))
    save("grey.png", rgb.convert("L"))
    save("la.png", rgb.convert("LA"))
    save("palette.png", rgb.convert("P"))
    save("bilevel.png", rgb.convert("1"))
    save("grey16.png", Image.fromarray(rng.integers(0, 65535, (30, 50), dtype=np.uint16)))
    save("exif6.png", rgb, exif=_exif(6))
    save("photo.webp", rgb)
    save("photo.bmp", rgb)
    return out


def test_fast_path_agrees_with_pillow(tmp_path: Path) -> None:
    answered = 0
    for path in make_images(tmp_path):
        facts = _facts(path)
        if facts is not None:
            assert facts == pillow_facts(path), path.name
            answered += 1
    assert answered >= 18  # JPEG and PNG go the fast way; WebP and BMP are Pillow's


def test_16_bit_rgb_png_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.png"
    # a minimal 16-bit RGB PNG, written by hand: Pillow cannot write one
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x12\x34" * 3 * 4 for _ in range(3))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert _facts(path) == (4, 3, 1, "RGB;16") == pillow_facts(path)


@pytest.mark.parametrize("content", [b"", b"\xff\xd8", b"\xff\xd8\xff\xe0\x00", b"\x89PNG\r\n\x1a\n", b"not an image"])
def test_broken_or_unknown_files_go_to_pillow(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    assert _facts(path) is None
    assert images.probe_file(str(path), False, Boundary(path.parent))[5] is not None  # Pillow's reason: unreadable


def test_truncated_jpeg_keeps_its_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    noise = np.random.default_rng(1).integers(0, 255, (20, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:-200])  # cut inside the scan data
    assert _facts(path) == (40, 20, 1, "RGB")  # the header is intact: decode level finds it
