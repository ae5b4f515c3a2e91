"""From two matched versions to D findings and the per-class summary.

Findings are located through the rules' own helpers (``at_annotations``, ``at_image``,
``at_category``), so a change reads like any finding: the NEW file and line or pointer, a
removal at OLD's (``data["side"] == "old"``; :func:`detlint.diffing.diff_datasets` sets
``Finding.dataset`` from it). Only the changed rows are turned into Python values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detlint.diffing import classes, matching
from detlint.diffing.gitrev import blob_id
from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import at_annotations, at_category, at_image, box_text
from detlint.safetext import counted

ATTRIBUTES = ("difficult", "iscrowd", "truncated", "occluded")
MAX_HASHED_BYTES = 1 << 30  # an image larger than this is not read for its hash


def _content_hashes(ds: Dataset, rows: np.ndarray, blobs: dict[str, str] | None) -> dict[int, str]:
    """Content hash (git blob id) of each image row's file; rows without a readable file are left out."""
    hashes: dict[int, str] = {}
    base = Path(ds.image_dir)
    for row in rows.tolist():
        path = str(ds.images.path[row] or "")
        if not path:
            continue
        if blobs is not None and ds.image_root is None and path in blobs:
            hashes[row] = blobs[path]  # the old revision: git already knows it
            continue
        try:
            target = base / path
            if target.is_file() and target.stat().st_size <= MAX_HASHED_BYTES:
                hashes[row] = blob_id(target.read_bytes())
        except OSError:
            continue
    return hashes


def _side(ds: Dataset, image_to_pair: np.ndarray, codes: np.ndarray, n_names: int) -> matching.BoxSide:
    ann = ds.annotations
    linked = (ann.image >= 0) & (ann.image < len(ds.images))
    pair = np.full(len(ann), -1, np.int64)
    pair[linked] = image_to_pair[ann.image[linked]]
    rows = np.flatnonzero((pair >= 0) & ann.has_box & (ann.kind != ann.KIND_NONE))
    labels = classes.label_codes(ann.category[rows], ann.class_id[rows], codes, n_names)
    return matching.BoxSide(rows=rows, pair=pair[rows], label=labels, boxes=ann.boxes[rows])


def _same_units(ob: matching.BoxSide, nb: matching.BoxSide, old: Dataset, new: Dataset, n_pairs: int) -> None:
    """Boxes of an image pair compared in one unit: where either version holds normalised boxes
    (a YOLO image whose size could not be read), the other's pixel boxes of that pair are
    divided by their image's size, so an unreadable image does not make every box "moved"."""
    old_norm = old.annotations.normalized[ob.rows]
    new_norm = new.annotations.normalized[nb.rows]
    if not (old_norm.any() or new_norm.any()):
        return
    mixed = np.zeros(n_pairs, bool)
    mixed[ob.pair[old_norm]] = True
    mixed[nb.pair[new_norm]] = True
    for side, ds, norm in ((ob, old, old_norm), (nb, new, new_norm)):
        scale = mixed[side.pair] & ~norm
        image = ds.annotations.image[side.rows[scale]]
        w = ds.images.width[image].astype(np.float64)
        h = ds.images.height[image].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            side.boxes[scale] = side.boxes[scale] / np.column_stack([w, h, w, h])


def _pair_index(n_images: int, rows: np.ndarray) -> np.ndarray:
    index = np.full(n_images, -1, np.int64)
    index[rows] = np.arange(len(rows))
    return index


class _Collector:
    """The findings of one diff and the counts its summary is built from."""

    def __init__(self, old: Dataset, new: Dataset, cmap: classes.ClassMap) -> None:
        self.old, self.new, self.cmap = old, new, cmap
        self.findings: list[Finding] = []
        self.per_class: dict[str, dict[str, int]] = {}

    def count(self, labels: np.ndarray, column: str) -> None:
        values, counts = np.unique(labels, return_counts=True)
        for code, n in zip(values.tolist(), counts.tolist()):
            name = self.name(code)
            entry = self.per_class.setdefault(name, dict.fromkeys(("added", "removed", "moved", "relabelled"), 0))
            entry[column] += n

    def name(self, code: int) -> str:
        names = self.cmap.names
        return names[code] if 0 <= code < len(names) else f"unknown class {(code - len(names)) // 2}"

    def boxes(self, ds: Dataset, side: str, rows: np.ndarray, code: str, messages: list[str],
              extra: list[dict] | None = None, field_name: str = "bbox") -> None:
        datas = [{"row": int(r), "side": side, **(extra[k] if extra else {})} for k, r in enumerate(rows.tolist())]
        self.findings += at_annotations(ds, rows.tolist(), code, messages, None, field_name, datas)

    def image(self, ds: Dataset, side: str, row: int, code: str, message: str) -> None:
        finding = at_image(ds, row, code, message)
        finding.data["side"] = side
        self.findings.append(finding)


def _box_counts(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    ann = ds.annotations
    linked = ann.image[(ann.image >= 0) & (ann.image < len(ds.images))]
    return np.bincount(linked, minlength=len(ds.images))[rows] if len(rows) else np.zeros(0, np.int64)


def _images(c: _Collector, pairs: matching.ImagePairs) -> dict[str, int]:
    old, new = c.old, c.new
    for row, n in zip(pairs.added.tolist(), _box_counts(new, pairs.added).tolist()):
        c.image(new, "new", row, "D001", f"image added ({counted(n, 'annotation')})")
    for row, n in zip(pairs.removed.tolist(), _box_counts(old, pairs.removed).tolist()):
        c.image(old, "old", row, "D002", f"image removed ({counted(n, 'annotation')})")
    split_changed = old.images.split[pairs.old] != new.images.split[pairs.new]
    renamed = pairs.by_content & ~split_changed
    for k in np.flatnonzero(split_changed | renamed).tolist():  # names read for these alone
        o, n = int(pairs.old[k]), int(pairs.new[k])
        (old_key,), (new_key,) = (matching.image_keys(ds.images.path[[r]], ds.images.file_name[[r]])
                                  for ds, r in ((old, o), (new, n)))
        if renamed[k]:
            c.image(new, "new", n, "D003", f"image renamed from {old_key} (same content)")
            continue
        was = f" (was {old_key})" if old_key != new_key else ""
        c.image(new, "new", n, "D004", f"image moved from split {old.images.split[o] or '(none)'!r} to "
                                       f"{new.images.split[n] or '(none)'!r}{was}")
    return {"matched": len(pairs.old), "added": len(pairs.added), "removed": len(pairs.removed),
            "renamed": int(renamed.sum()), "split_changed": int(split_changed.sum())}


def _class_map(c: _Collector) -> None:
    for change in c.cmap.changes:
        on_old = change.kind == "removed"
        ds, index = (c.old, change.old_index) if on_old else (c.new, change.new_index)
        finding = at_category(ds, index, "D009", change.message)
        finding.data["side"] = "old" if on_old else "new"
        finding.data["change"] = change.kind
        c.findings.append(finding)


def _shift_text(old_box: np.ndarray, new_box: np.ndarray, score: float) -> str:
    (ox1, oy1, ox2, oy2), (nx1, ny1, nx2, ny2) = old_box.tolist(), new_box.tolist()
    dx, dy = (nx1 + nx2 - ox1 - ox2) / 2, (ny1 + ny2 - oy1 - oy2) / 2
    dw, dh = (nx2 - nx1) - (ox2 - ox1), (ny2 - ny1) - (oy2 - oy1)
    text = f"IoU {score:.2f}, centre shifted ({dx:+.1f}, {dy:+.1f}) px"
    if abs(dw) >= matching.QUANTUM or abs(dh) >= matching.QUANTUM:
        text += f", resized ({dw:+.1f} x {dh:+.1f}) px"
    return text


def _old_overlay(ob: matching.BoxSide, o: np.ndarray, c: _Collector) -> list[dict]:
    """What html draws beside a moved or relabelled box: its old place and class."""
    return [{"old_box": box, "old_label": c.name(label)}
            for box, label in zip(ob.boxes[o].tolist(), ob.label[o].tolist())]


def _boxes(c: _Collector, ob: matching.BoxSide, nb: matching.BoxSide, found: matching.BoxPairs) -> dict[str, int]:
    old, new = c.old, c.new
    added, removed = found.added, found.removed
    c.boxes(new, "new", nb.rows[added], "D005",
            [f"box added: {c.name(k)} {box_text(b)}" for k, b in zip(nb.label[added].tolist(), nb.boxes[added])])
    c.boxes(old, "old", ob.rows[removed], "D006",
            [f"box removed: {c.name(k)} {box_text(b)}" for k, b in zip(ob.label[removed].tolist(), ob.boxes[removed])])
    o, n, score = found.moved
    messages = [f"box moved: {c.name(k)}, {_shift_text(a, b, s)}"
                for k, a, b, s in zip(nb.label[n].tolist(), ob.boxes[o], nb.boxes[n], score.tolist())]
    c.boxes(new, "new", nb.rows[n], "D007", messages, _old_overlay(ob, o, c))
    ro, rn, rscore = found.relabelled
    messages = [f"box relabelled: {c.name(a)} -> {c.name(b)} (IoU {s:.2f})"
                for a, b, s in zip(ob.label[ro].tolist(), nb.label[rn].tolist(), rscore.tolist())]
    c.boxes(new, "new", nb.rows[rn], "D008", messages, _old_overlay(ob, ro, c))
    c.count(nb.label[added], "added")
    c.count(ob.label[removed], "removed")
    c.count(nb.label[n], "moved")
    c.count(ob.label[ro], "relabelled")
    kept_o = np.concatenate([found.exact[0], o, ro])
    kept_n = np.concatenate([found.exact[1], n, rn])
    attributes = _attributes(c, ob.rows[kept_o], nb.rows[kept_n])
    return {"unchanged": len(found.exact[0]), "added": len(added), "removed": len(removed), "moved": len(o),
            "relabelled": len(ro), "attribute_changed": attributes}


def _attributes(c: _Collector, old_rows: np.ndarray, new_rows: np.ndarray) -> int:
    """D010 for matched boxes whose difficult / iscrowd / truncated / occluded flag changed."""
    olda, newa = c.old.annotations, c.new.annotations
    before = np.column_stack([getattr(olda, a)[old_rows] for a in ATTRIBUTES]).astype(np.int64)
    after = np.column_stack([getattr(newa, a)[new_rows] for a in ATTRIBUTES]).astype(np.int64)
    differs = before != after
    hits = np.flatnonzero(differs.any(axis=1))
    if not len(hits):
        return 0

    def shown(value: int) -> str:
        return "unset" if value < 0 else str(value)

    messages = ["attribute changed: " + ", ".join(
        f"{name} {shown(b)} -> {shown(a)}" for name, b, a, d in zip(ATTRIBUTES, bs, as_, ds) if d)
        for bs, as_, ds in zip(before[hits].tolist(), after[hits].tolist(), differs[hits].tolist())]
    # located at the first flag that changed (``/annotations/3/iscrowd`` in COCO)
    first = differs[hits].argmax(axis=1)
    for k, name in enumerate(ATTRIBUTES):
        at = np.flatnonzero(first == k)
        if len(at):
            c.boxes(c.new, "new", new_rows[hits[at]], "D010", [messages[i] for i in at.tolist()], field_name=name)
    return len(hits)


def _unpaired_counts(c: _Collector, pairs: matching.ImagePairs) -> None:
    """Boxes on added and removed images count as added and removed in the per-class table."""
    for ds, rows, codes, column in ((c.new, pairs.added, c.cmap.new_codes, "added"),
                                    (c.old, pairs.removed, c.cmap.old_codes, "removed")):
        ann = ds.annotations
        on = np.isin(ann.image, rows) & ann.has_box & (ann.kind != ann.KIND_NONE)
        c.count(classes.label_codes(ann.category[on], ann.class_id[on], codes, len(c.cmap.names)), column)


def _class_totals(c: _Collector) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for ds, codes, column in ((c.old, c.cmap.old_codes, "old"), (c.new, c.cmap.new_codes, "new")):
        ann = ds.annotations
        on = ann.has_box & (ann.kind != ann.KIND_NONE)
        values, counts = np.unique(classes.label_codes(ann.category[on], ann.class_id[on], codes, len(c.cmap.names)),
                                   return_counts=True)
        for code, n in zip(values.tolist(), counts.tolist()):
            table.setdefault(c.name(code), {"old": 0, "new": 0})[column] = n
    for name, moves in c.per_class.items():
        table.setdefault(name, {"old": 0, "new": 0}).update(moves)
    empty = dict.fromkeys(("added", "removed", "moved", "relabelled"), 0)
    return {name: {"old": 0, "new": 0, **empty, **row} for name, row in sorted(table.items())}


def collect(old: Dataset, new: Dataset, iou: float, old_blobs: dict[str, str] | None
            ) -> tuple[list[Finding], dict[str, Any]]:
    """Every change from ``old`` to ``new`` (unstamped findings) and the summary."""
    old_keys = matching.image_keys(old.images.path, old.images.file_name)
    new_keys = matching.image_keys(new.images.path, new.images.file_name)
    pairs = matching.match_images(old_keys, new_keys, lambda rows: _content_hashes(old, rows, old_blobs),
                                  lambda rows: _content_hashes(new, rows, None))
    cmap = classes.compare(old.categories, new.categories)
    c = _Collector(old, new, cmap)
    images = _images(c, pairs)
    _class_map(c)
    ob = _side(old, _pair_index(len(old.images), pairs.old), cmap.old_codes, len(cmap.names))
    nb = _side(new, _pair_index(len(new.images), pairs.new), cmap.new_codes, len(cmap.names))
    _same_units(ob, nb, old, new, len(pairs.old))
    boxes = _boxes(c, ob, nb, matching.match_boxes(ob, nb, iou))
    _unpaired_counts(c, pairs)
    kinds: dict[str, int] = {}
    for finding in c.findings:
        kinds[finding.code] = kinds.get(finding.code, 0) + 1
    summary = {"iou": iou, "images": images, "boxes": boxes,
               "class_map": [{"change": ch.kind, "old_index": ch.old_index, "new_index": ch.new_index}
                             for ch in cmap.changes],
               "classes": _class_totals(c), "changes": dict(sorted(kinds.items()))}
    return c.findings, summary
