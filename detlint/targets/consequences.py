"""From adapters' outcomes to output: each finding's consequences and the per-target summary.

:func:`assess` runs every asked adapter on one dataset after the generic rules, adds the
R-code findings an adapter returns (stamped from the catalog), writes ``Finding.consequences``
(target -> "drops the whole image (3 boxes lost): ...") for the findings about a dropped,
raising or rewritten box or image, and returns the report's ``targets`` object for the dataset.
A finding is matched by its annotation row (``data["row"]``), else its image row
(``data["image_row"]``), else its image path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from detlint import targets as registry
from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules import RULES
from detlint.rules._helpers import image_name
from detlint.safetext import counted
from detlint.targets.base import Outcome, TargetContext

Summary = dict[str, Any]  # {"images_dropped": [...], "boxes_dropped": int, "raises": [...], "rewrites": int}


def empty_summary() -> Summary:
    return {"images_dropped": [], "boxes_dropped": 0, "raises": [], "rewrites": 0}


def assess(ds: Dataset, findings: list[Finding], names: Iterable[str], *, images: str,
           options: Mapping[str, Any], dataset: str) -> tuple[list[Finding], dict[str, Summary]]:
    """``findings`` plus the targets' own, with consequences set; and each target's summary."""
    summaries: dict[str, Summary] = {}
    ctx = TargetContext(root=Path(ds.root), images_level=images, findings=tuple(findings), options=options)
    for name in names:
        outcome = registry.adapter(name).assess(ds, ctx)
        findings = findings + [_stamped(f, dataset) for f in outcome.findings]
        attach(ds, findings, outcome)
        summaries[name] = summarize(ds, outcome)
    return findings, summaries


def _stamped(finding: Finding, dataset: str) -> Finding:
    rule = RULES.get(finding.code)
    finding.dataset = finding.dataset or dataset
    return finding.stamped(rule.NAME if rule else finding.code.lower(), rule.SEVERITY if rule else "error")


def _lost_boxes(ds: Dataset, outcome: Outcome) -> np.ndarray:
    """Annotation rows the trainer does not train on: dropped boxes and every box of a dropped image."""
    image = ds.annotations.image
    dropped_images = np.zeros(len(ds.images) + 1, bool)  # the extra slot: image -1 is never dropped
    dropped_images[np.fromiter(outcome.dropped_images, np.int64, len(outcome.dropped_images))] = True
    lost = dropped_images[image]
    lost[np.fromiter(outcome.dropped_boxes, np.int64, len(outcome.dropped_boxes))] = True
    return lost


def summarize(ds: Dataset, outcome: Outcome) -> Summary:
    """The report's ``targets[NAME]`` object for one dataset."""
    return {"images_dropped": [image_name(ds, row) or "" for row in sorted(outcome.dropped_images)],
            "boxes_dropped": int(_lost_boxes(ds, outcome).sum()),
            "raises": [raised.message for raised in outcome.raises],
            "rewrites": len(outcome.rewritten_images) + len(outcome.rewritten_boxes)}


def merged(a: Summary, b: Summary) -> Summary:
    """Two datasets' summaries of one target as one."""
    return {"images_dropped": a["images_dropped"] + b["images_dropped"],
            "boxes_dropped": a["boxes_dropped"] + b["boxes_dropped"], "raises": a["raises"] + b["raises"],
            "rewrites": a["rewrites"] + b["rewrites"]}


def _image_texts(ds: Dataset, outcome: Outcome) -> dict[int, str]:
    boxes_per_image = np.bincount(ds.annotations.image[ds.annotations.image >= 0], minlength=len(ds.images))
    texts = {row: f"raises: {r.message}" for r in outcome.raises
             if r.annotation_row is None and (row := r.image_row) is not None}
    texts.update((row, f"rewrites the image: {what}") for row, what in outcome.rewritten_images.items()
                 if row not in texts)
    texts.update((row, f"drops the whole image ({counted(int(boxes_per_image[row]), 'box')} lost): {why}")
                 for row, why in outcome.dropped_images.items())
    return texts


def _box_texts(outcome: Outcome) -> dict[int, str]:
    texts = {row: f"rewrites the box: {what}" for row, what in outcome.rewritten_boxes.items()}
    texts.update((row, f"drops the box: {why}") for row, why in outcome.dropped_boxes.items())
    texts.update((r.annotation_row, f"raises: {r.message}") for r in outcome.raises if r.annotation_row is not None)
    return texts


def attach(ds: Dataset, findings: list[Finding], outcome: Outcome) -> None:
    """Set ``consequences[outcome.target]`` on each finding about an affected box or image."""
    by_image, by_box = _image_texts(ds, outcome), _box_texts(outcome)
    if not by_image and not by_box:
        return
    by_name = {image_name(ds, row): text for row, text in by_image.items()}
    annotation_image = ds.annotations.image
    for finding in findings:
        text = _text_for(finding, by_image, by_box, by_name, annotation_image)
        if text:
            finding.consequences[outcome.target] = text


def _text_for(finding: Finding, by_image: dict[int, str], by_box: dict[int, str], by_name: dict[str | None, str],
              annotation_image: np.ndarray) -> str | None:
    row, image_row = finding.data.get("row"), finding.data.get("image_row")
    if isinstance(row, int) and 0 <= row < len(annotation_image):
        return by_image.get(int(annotation_image[row])) or by_box.get(row)
    if isinstance(image_row, int):
        return by_image.get(image_row)
    return by_name.get(finding.image) if finding.image else None
