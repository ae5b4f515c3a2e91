"""Which of a task's annotations is read, and the F020 finding that says so.

Label Studio keeps every annotator's work in ``task.annotations``. Its own converter
(``label-studio-converter``, ``Converter.annotation_result_from_task``) drops the ones with
``was_cancelled`` or ``skipped``, sorts the rest newest first by ``created_at`` and exports
*each* of them as an image of its own, so a task labelled twice trains twice. detlint reads one
annotation per task instead: the one marked ``ground_truth`` if any, else the most recently
updated (``updated_at``, then ``created_at``) that is not cancelled. Predictions (model
pre-annotations) are never read as ground truth; they are counted in ``ds.meta``.
"""

from __future__ import annotations

from typing import Any

RULE = ("ground_truth if set, else the most recently updated (updated_at, then created_at) "
        "annotation that is not was_cancelled or skipped")


def _usable(annotation: Any) -> bool:
    return isinstance(annotation, dict) and not (annotation.get("was_cancelled") or annotation.get("skipped"))


def _when(annotation: dict) -> str:
    # ISO 8601 timestamps as Label Studio writes them sort as text
    return str(annotation.get("updated_at") or annotation.get("created_at") or "")


def choose(annotations: list) -> tuple[int | None, str]:
    """The index of the annotation to read (None when none is usable) and why it was chosen."""
    usable = [i for i, a in enumerate(annotations) if _usable(a)]
    if not usable:
        return None, "every annotation is cancelled"
    truth = [i for i in usable if annotations[i].get("ground_truth")]
    if truth:
        return truth[0], "ground_truth"
    best = max(usable, key=lambda i: (_when(annotations[i]), i))
    return best, "most recently updated" if len(usable) > 1 else "the only one not cancelled"


def describe(annotations: list, chosen: int | None, why: str) -> str:
    """The F020 message of a task with several annotations."""
    cancelled = sum(1 for a in annotations if not _usable(a))
    parts = f"{len(annotations)} annotations ({cancelled} cancelled)"
    if chosen is None:
        return f"task has {parts}: none is read"
    picked = annotations[chosen]
    by = picked.get("completed_by")
    by = by.get("email", by.get("id")) if isinstance(by, dict) else by
    return (f"task has {parts}: read annotation {picked.get('id')} by annotator {by} ({why}); "
            "the others are ignored, and Label Studio's own COCO/YOLO export would write every "
            "completed one as a separate copy of the image")
