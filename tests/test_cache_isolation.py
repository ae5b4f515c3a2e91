"""The suite never touches the user's real cache folder (issue #15, item 20)."""

from __future__ import annotations

import os
from pathlib import Path

from detlint.fileio import cache_dir


def test_cache_dir_is_private_to_the_test_session(tmp_path_factory) -> None:
    base = tmp_path_factory.getbasetemp()
    assert Path(os.environ["DETLINT_CACHE_DIR"]).is_relative_to(base)
    assert cache_dir().is_relative_to(base)
    home_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "detlint"
    assert not cache_dir().is_relative_to(home_cache)
