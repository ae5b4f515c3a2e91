"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

_PILLOW_OPEN = Image.open


@pytest.fixture(autouse=True)
def pillow_as_shipped() -> Iterator[None]:
    """Undo ultralytics' import-time patch of ``PIL.Image.open`` (``ultralytics/utils/patches.py``
    wraps it to install pi-heif on the first file Pillow cannot identify) after each test that
    imported it for a differential test: detlint never imports ultralytics, so the tests after
    it must see Pillow's own errors."""
    yield
    Image.open = _PILLOW_OPEN


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point detlint's caches (parse cache, image cache, snapshots) at a folder of this test
    session, so that tests never read or write the user's real ``~/.cache/detlint``. Tests that
    study the cache itself set ``DETLINT_CACHE_DIR`` again; subprocesses inherit the variable."""
    folder = tmp_path_factory.getbasetemp() / "detlint-cache"
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(folder))
    return folder
