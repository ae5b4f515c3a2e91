"""Incremental re-checks: the parse cache and the dataset snapshot, behind a narrow contract.

Two mechanisms, one rule: a cached result is used only while the files it came from provably did
not change, and any doubt means reading again (never a different result).

- :mod:`~detlint.incremental.parse_cache` (``detlint check DATASET`` re-run): readers keep what
  they parsed from each per-image file, keyed by (path, size, mtime_ns); only changed files are
  parsed again. Readers see it only as ``ReadOptions.cache`` (the
  :class:`~detlint.readcache.ReadCache` protocol); they never import this package.
- :mod:`~detlint.incremental.snapshot` (``detlint check FILE...``, the pre-commit hook): the
  whole loaded dataset's columns, spliced with the passed files re-read by the format's
  ``reparse`` hook. The caller hands in the format lookup; this package never imports formats.

What is trusted, and when it falls back, is in each module's docstring. Shared here:
:mod:`~detlint.incremental.stats` (one ``RACY_NS``: a file or folder changed within two seconds of
a read is never trusted to it) and the one cache folder, :func:`detlint.fileio.cache_dir`, which
the image cache uses too. ``--no-cache`` turns both off.
"""

from __future__ import annotations

from detlint.incremental.parse_cache import ParseCache
from detlint.incremental.snapshot import patched, save, splice

__all__ = ["ParseCache", "patched", "save", "splice"]
