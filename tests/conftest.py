"""Suite-wide fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point detlint's caches (parse cache, image cache, snapshots) at a folder of this test
    session, so that tests never read or write the user's real ``~/.cache/detlint``. Tests that
    study the cache itself set ``DETLINT_CACHE_DIR`` again; subprocesses inherit the variable."""
    folder = tmp_path_factory.getbasetemp() / "detlint-cache"
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(folder))
    return folder
