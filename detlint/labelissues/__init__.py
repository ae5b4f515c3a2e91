"""Label-issue ranking from a model's predictions (``check --label-issues K``).

A pure adapter layer: columnar numpy arrays in, dataclasses out; no ``Dataset``, no file
access. ``objectlab.py`` wraps cleanlab's ObjectLab (``cleanlab.object_detection``), the
optional ``labelissues`` extra, imported only when a ranking is asked for.
"""

from __future__ import annotations

from detlint.labelissues.objectlab import INSTALL_HINT, LabelIssue, rank_label_issues, require_cleanlab

__all__ = ["INSTALL_HINT", "LabelIssue", "rank_label_issues", "require_cleanlab"]
