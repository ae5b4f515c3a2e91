"""What an evaluator will do with a predictions file: P013's model of pycocotools.

A pure, vectorised model of ``COCO.loadRes`` and ``COCOeval(gt, dt, "bbox").evaluate()``
(pycocotools 2.0.x, ``coco.py`` and ``cocoeval.py``) over the ``Predictions`` columns; it never
calls pycocotools. ``tests/test_cocoeval_differential.py`` runs the real library on the same
files and asserts this model's answer equals what happened.

``loadRes`` raises, in this order:

1. the top level is not a list: ``AssertionError: results in not an array of objects``;
2. an entry without ``image_id``: ``KeyError: 'image_id'``; an unhashable one (a list):
   ``TypeError: unhashable type: 'list'``;
3. an ``image_id`` not among the ground truth's image ids, by Python set semantics (``1.0`` and
   ``True`` are ``1``; ``"1"`` is not): ``AssertionError: Results do not correspond to current
   coco set``;
4. an empty list: ``IndexError: list index out of range`` (it reads ``anns[0]``);
5. the FIRST entry picks the branch: with a non-empty ``bbox`` every entry needs one
   (``KeyError: 'bbox'``); with neither ``bbox``, ``caption``, ``segmentation`` nor
   ``keypoints`` no entry gets an ``id`` and ``createIndex`` raises ``KeyError: 'id'``;
6. an entry without ``category_id``: ``KeyError: 'category_id'`` (``createIndex``).

``COCOeval.evaluate`` then takes every ground-truth image id (``params.imgIds``), and only the
detections whose ``category_id`` equals a ground-truth category id (``_prepare``:
``getAnnIds(catIds=...)``; the others are dropped without a word). Per image AND category
(``useCats=1``) it sorts by ``-score`` (a stable mergesort, so ties keep the file's order and
NaN sorts last) and keeps the first ``maxDets[-1]`` (``computeIoU``, ``evaluateImg``). A kept
detection without ``score`` raises ``KeyError: 'score'``; a non-numeric one ``TypeError: bad
operand type for unary -: 'str'`` (a detection of an unknown class never reaches that line).

Entries the reader sets aside (P001: not an object, a missing key, a list id, a malformed box)
are read back from the facts it records on those findings (``Finding.data``: the entry, the
missing key, the Python type met). Scores sort as the reader
keeps them (an infinite one as itself, ``true`` as 1: Python's ``-True``). What the columns
cannot tell: the operand type of a non-numeric score, and what a first entry that picks the
``segmentation``, ``caption`` or ``keypoints`` branch leads to (said, not modelled: the
reader keeps no per-entry segmentation).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from detlint.model import SCORE_MISSING, SCORE_NOT_A_NUMBER, Dataset, Predictions
from detlint.safetext import counted

_OTHER_BRANCHES = ("caption", "segmentation", "keypoints")


@dataclass(frozen=True)
class Raised:
    """An exception pycocotools would raise, and why."""

    where: str  # "loadRes" | "COCOeval.evaluate"
    type: str  # "AssertionError"
    message: str  # str(exception): "Results do not correspond to current coco set", "'bbox'"
    why: str  # in words, with counts
    exact: bool = True  # False: the type is sure, the message a best guess (the reader keeps less)

    @property
    def exception(self) -> str:
        """As Python prints it: ``KeyError: 'bbox'``."""
        return f"{self.type}: {self.message}"


@dataclass
class Evaluation:
    """What the evaluator does with the detections (``kept``: one flag per detection)."""

    model: str  # "pycocotools" (COCO results on a COCO dataset) | "generic"
    max_dets: int
    detections: int
    raises: Raised | None
    branch: str  # loadRes's branch: "bbox", "caption", "segmentation", "keypoints", "none"
    evaluated_images: int
    images_with_detections: int
    kept: np.ndarray
    ignored_unknown_image: int
    ignored_unknown_class: int
    ignored_past_max_dets: int
    text: str = ""

    def data(self) -> dict[str, Any]:
        """The numbers, for ``Finding.data["evaluation"]``."""
        raised = None if self.raises is None else {"where": self.raises.where, "type": self.raises.type,
                                                   "message": self.raises.message, "why": self.raises.why,
                                                   "exact": self.raises.exact}
        return {"model": self.model, "max_dets": self.max_dets, "detections": self.detections,
                "raises": raised, "branch": self.branch, "evaluated_images": self.evaluated_images,
                "images_with_detections": self.images_with_detections, "kept": int(self.kept.sum()),
                "ignored_unknown_image": self.ignored_unknown_image,
                "ignored_unknown_class": self.ignored_unknown_class,
                "ignored_past_max_dets": self.ignored_past_max_dets}


def predict(ds: Dataset, preds: Predictions, max_dets: int = 100, pycocotools: bool = True) -> Evaluation:
    """The evaluation of ``preds`` against ``ds``: pycocotools' own (``pycocotools``: the dataset
    declares ids and the file is COCO results) or a generic evaluator's (unknown images and
    classes are not evaluated; at most ``max_dets`` per image and class)."""
    if not pycocotools:
        return _generic(ds, preds, max_dets)
    raised, branch = _load_res(ds, preds)
    if raised is not None or branch != "bbox":  # nothing is evaluated
        return _outcome(ds, preds, max_dets, raised, branch, np.zeros(len(preds), bool), 0, 0)
    gt_images = np.unique(ds.images.id)
    gt_classes = np.unique(ds.categories.ids)
    image_pos = _positions(ds, preds, gt_images)
    class_ids = _class_ids(preds)
    class_pos = np.minimum(np.searchsorted(gt_classes, class_ids), max(len(gt_classes) - 1, 0))
    known_class = _known_class(class_ids, gt_classes, class_pos)
    raised = _score_raises(preds, known_class, image_pos, class_pos)
    if raised is not None:
        return _outcome(ds, preds, max_dets, raised, branch, np.zeros(len(preds), bool), 0, 0)
    group = np.where(known_class, image_pos * max(len(gt_classes), 1) + class_pos, -1)  # -1: not ranked
    kept = _kept(preds, group, max_dets)
    past = int(known_class.sum() - kept.sum())
    result = _outcome(ds, preds, max_dets, None, branch, kept, int((~known_class).sum()), past,
                      evaluated=len(gt_images), with_dets=len(np.unique(image_pos[kept])))
    nulls = _Entries(preds).null_classes  # set aside by the reader, loaded by loadRes
    if nulls:
        result.detections += nulls
        result.ignored_unknown_class += nulls
        result.text = describe(result)
    return result


def _load_res(ds: Dataset, preds: Predictions) -> tuple[Raised | None, str]:
    """What ``COCO.loadRes`` raises (None: it loads), and the branch its first entry picks."""
    meta = preds.meta
    top = meta.get("top", "list")
    bad = _Entries(preds)
    if top == "unparseable":
        why = preds.problems[0].message if preds.problems else "the file is not JSON"
        return Raised("loadRes", "JSONDecodeError", "not JSON", why), "none"
    if top not in ("list", "empty"):
        return Raised("loadRes", "AssertionError", "results in not an array of objects",
                      f"the file's top level is {'a dataset' if top == 'dataset' else 'an object'}, "
                      "not a list of detections"), "none"
    raised = bad.first("entry") or bad.first("hash") or _unknown_images(ds, preds, bad.null_images)
    if raised is not None:
        return raised, "none"
    if top == "empty":
        return Raised("loadRes", "IndexError", "list index out of range",
                      "the list is empty (loadRes reads its first entry)"), "none"
    first = meta.get("first_keys")
    empty_first_box = bad.empty_first_box()
    branch = "bbox" if first is None or ("bbox" in first and not empty_first_box) else next(
        (b for b in _OTHER_BRANCHES if b in first), "none")
    if branch == "none":
        return Raised("loadRes", "KeyError", "'id'", "the first entry has no 'bbox' (nor 'segmentation'), "
                      "so loadRes numbers no entry"), branch
    if branch != "bbox":
        return None, branch
    return bad.first_bbox(preds) or bad.first("index"), branch


# the reader's P001 facts (``Finding.data``), by the step of loadRes that meets the entry
_NOT_SUBSCRIPTABLE = {"str": "string indices must be integers, not 'str'",
                      "list": "list indices must be integers or slices, not str"}


def _step(facts: dict) -> str | None:
    """The loadRes step that meets an entry the reader set aside, from its P001 facts."""
    if "not_object" in facts or facts.get("missing") == "image_id":
        return "entry"  # ann['image_id'] in the first list comprehension
    if "key" in facts:
        null_step = "null" if facts["key"] == "image_id" else "null_class"
        return null_step if facts.get("type") == "NoneType" else "hash" if facts["key"] == "image_id" else "index"
    if facts.get("missing") == "category_id":
        return "index"  # createIndex's catToImgs
    return "bbox" if facts.get("missing") == "bbox" or "bbox" in facts else None


class _Entries:
    """The entries the reader set aside (P001), in file order per loadRes step."""

    def __init__(self, preds: Predictions) -> None:
        self.steps: dict[str, list[tuple[int, dict]]] = {}
        for found in preds.problems:
            facts = found.data or {}
            if found.code != "P001" or not isinstance(facts.get("entry"), int):
                continue
            step = _step(facts)
            if step is not None:
                self.steps.setdefault(step, []).append((facts["entry"], facts))
        for rows in self.steps.values():
            rows.sort(key=lambda row: row[0])
        self.bbox = self.steps.get("bbox", [])
        self.null_images = len(self.steps.get("null", []))
        self.null_classes = len(self.steps.get("null_class", []))  # loaded, then never matched

    def first(self, step: str) -> Raised | None:
        rows = self.steps.get(step)
        if not rows:
            return None
        item, facts = rows[0]
        if "not_object" in facts:  # ann['image_id'] on a non-object
            kind = facts["not_object"]
            text = _NOT_SUBSCRIPTABLE.get(kind, f"'{kind}' object is not subscriptable")
            return Raised("loadRes", "TypeError", text, f"entry {item} is not an object")
        if "missing" in facts:
            key = facts["missing"]
            return Raised("loadRes", "KeyError", f"'{key}'", f"entry {item} has no '{key}'")
        return Raised("loadRes", "TypeError", f"unhashable type: '{facts['type']}'",
                      f"entry {item}: {facts['key']} is a {facts['type']}")

    def empty_first_box(self) -> bool:
        """Whether the first entry's box is ``[]`` (loadRes then takes another branch)."""
        return any(item == 0 and facts.get("bbox_length") == 0 for item, facts in self.bbox)

    def first_bbox(self, preds: Predictions) -> Raised | None:
        """``ann['bbox']`` and ``bb[3]`` of the bbox branch, the first failing entry in file order."""
        det = preds.detections
        rows = [(int(i), {"missing": "bbox"}) for i in det.src_item[~det.has_box].tolist()] + self.bbox
        if not rows:
            return None
        item, facts = min(rows, key=lambda row: row[0])
        if "missing" in facts:
            return Raised("loadRes", "KeyError", "'bbox'", f"entry {item} has no 'bbox' after a first entry with one")
        short = 0 <= facts.get("bbox_length", -1) < 4
        return Raised("loadRes", "IndexError" if short else "TypeError",
                      "list index out of range" if short else f"bbox {facts['bbox']}",
                      f"entry {item}: bbox {facts['bbox']}", exact=short)


def _unknown_images(ds: Dataset, preds: Predictions, nulls: int) -> Raised | None:
    """loadRes's ``set(annsImgIds) <= set(getImgIds())``, with Python's own set semantics
    (``nulls``: entries with ``"image_id": null`` the reader set aside)."""
    if not nulls and bool(np.all(preds.detections.image >= 0)):
        return None  # the reader matched every image_id to an image of that id (by equality)
    keys = preds.image_keys.tolist() + [None] * nulls
    try:
        # the set of keys is built at C speed; the difference compares them as pycocotools does
        bad = set(keys) - set(ds.images.id.tolist())
    except TypeError as exc:
        return Raised("loadRes", "TypeError", str(exc), "an 'image_id' is not a number or a string")
    if not bad:
        return None
    counts = Counter(keys)
    n = sum(counts[k] for k in bad)
    example = sorted((repr(k) for k in bad), key=lambda r: (len(r), r))[0][:40]
    return Raised("loadRes", "AssertionError", "Results do not correspond to current coco set",
                  f"{counted(n, 'detection')} name {counted(len(bad), 'image id')} the dataset lacks "
                  f"(e.g. {example})")


def _positions(ds: Dataset, preds: Predictions, gt_images: np.ndarray) -> np.ndarray:
    """Each detection's position in the sorted ground-truth image ids (every key is one of them:
    loadRes checked): through the image row the reader matched, else the key itself (numbers
    through numpy, anything else through a dict)."""
    rows = preds.detections.image
    if bool(np.all(rows >= 0)):
        return np.searchsorted(gt_images, ds.images.id)[rows].astype(np.int64)
    keys = preds.image_keys
    values = np.asarray(keys.tolist()) if len(keys) else np.zeros(0, np.int64)
    if values.dtype.kind in "iufb":
        return np.searchsorted(gt_images, values).astype(np.int64)
    where = {k: i for i, k in enumerate(gt_images.tolist())}
    return np.array([where[k] for k in keys.tolist()], np.int64)


def _class_ids(preds: Predictions) -> np.ndarray:
    """The ``category_id`` values as ``_prepare``'s ``in catIds`` compares them: the integer ids,
    and ``true``/``false`` as 1/0 (Python's ``True == 1``; the reader keeps them in ``extra``)."""
    class_ids = preds.detections.class_id
    if not preds.meta.get("category_id_types", {}).get("bool"):
        return class_ids
    rows = np.flatnonzero(class_ids == -1)  # only the rows the reader could not read as ids
    extra = preds.detections.extra[rows].tolist()
    values = [e.get("category_id") if isinstance(e, dict) else None for e in extra]
    flags = np.array([isinstance(v, bool) for v in values], bool)
    patched = class_ids.copy()
    patched[rows[flags]] = [int(v) for v, f in zip(values, flags.tolist()) if f]
    return patched


def _known_class(class_ids: np.ndarray, gt_classes: np.ndarray, class_pos: np.ndarray) -> np.ndarray:
    """Detections ``_prepare`` keeps: a numeric ``category_id`` equal to a ground-truth id
    (``class_id`` holds integer ids only; a name or a string id never matches)."""
    if not len(gt_classes):
        return np.zeros(len(class_ids), bool)  # no category: evaluate loops over none
    return gt_classes[class_pos] == class_ids


def _score_raises(preds: Predictions, known: np.ndarray, image_pos: np.ndarray,
                  class_pos: np.ndarray) -> Raised | None:
    """``-d['score']`` in ``computeIoU``, over the (image, category) pairs in order."""
    # a boolean score is not a number to detlint but is to Python (-True): the reader keeps it as 1/0
    unusable = (preds.score_state == SCORE_MISSING) | ((preds.score_state == SCORE_NOT_A_NUMBER)
                                                       & np.isnan(preds.scores))
    bad = np.flatnonzero(known & unusable)
    if not len(bad):
        return None
    first = bad[np.lexsort((bad, class_pos[bad], image_pos[bad]))[0]]
    n = counted(len(bad), "detection")
    if preds.score_state[first] == SCORE_MISSING:
        return Raised("COCOeval.evaluate", "KeyError", "'score'", f"{n} of known classes without 'score' "
                      f"(first: entry {int(preds.detections.src_item[first])})")
    kinds = [k for k in preds.meta.get("score_types", {}) if k not in ("int", "float", "missing")]
    operand = f": '{kinds[0]}'" if len(kinds) == 1 else ""
    return Raised("COCOeval.evaluate", "TypeError", f"bad operand type for unary -{operand}",
                  f"{n} of known classes with a 'score' that is not a number", exact=bool(operand))


def _kept(preds: Predictions, group: np.ndarray, max_dets: int) -> np.ndarray:
    """The detections among the first ``max_dets`` of their group (-1: none) by ``-score``.
    Only groups over the cap are sorted: a detector's output rarely has any."""
    kept = group >= 0
    if not kept.any():
        return kept
    rows = np.flatnonzero(kept)
    groups = group[rows]
    if groups.max() < 8 * len(groups) + 2 ** 20:  # a count per group id: O(n), no sort
        sizes = np.bincount(groups)[groups]
    else:
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        sizes = counts[inverse]
    crowded = rows[sizes > max_dets]
    if len(crowded):
        kept[crowded] = _rank(preds, crowded, group[crowded]) < max_dets
    return kept


def _rank(preds: Predictions, rows: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The place of each of ``rows`` in its group by ``-score`` (NaN last, ties in file order)."""
    rank = np.empty(len(rows), np.int64)
    # -score as computeIoU sorts it: an infinite score sorts as itself, NaN last
    # (after -(-inf) too: a stable sort by the NaN flag after the one by score)
    scores = preds.scores[rows]
    nan = np.isnan(scores)
    score_key = np.where(nan, np.inf, -scores)
    # three stable sorts, least significant first: file order, then score, then group (a
    # 5-key lexsort took 0.75 s on a million rows)
    item = preds.detections.src_item[rows]
    order = np.arange(len(rows)) if np.all(item[1:] >= item[:-1]) else np.argsort(item, kind="stable")
    order = order[np.argsort(score_key[order], kind="stable")]
    if nan.any() and np.isinf(score_key[~nan]).any():
        order = order[np.argsort(nan[order], kind="stable")]
    # a 16-bit key sorts by radix (group ids below 32,768: small datasets)
    groups = groups.astype(np.int16) if groups.max() < 2 ** 15 else groups
    order = order[np.argsort(groups[order], kind="stable")]
    sorted_group = groups[order]
    m = len(rows)
    starts = np.r_[True, sorted_group[1:] != sorted_group[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
    rank[order] = np.arange(m) - first
    return rank


def _generic(ds: Dataset, preds: Predictions, max_dets: int) -> Evaluation:
    det = preds.detections
    linked = (det.image >= 0) & (det.category >= 0)
    group = np.where(linked, det.image.astype(np.int64) * max(len(ds.categories), 1) + det.category, -1)
    kept = _kept(preds, group, max_dets)
    return _outcome(ds, preds, max_dets, None, "bbox", kept, int(((det.image >= 0) & (det.category < 0)).sum()),
                    int(linked.sum() - kept.sum()), evaluated=len(ds.images),
                    with_dets=len(np.unique(det.image[kept])), unknown_image=int((det.image < 0).sum()),
                    model="generic")


def _outcome(ds: Dataset, preds: Predictions, max_dets: int, raised: Raised | None, branch: str,
             kept: np.ndarray, unknown_class: int, past: int, evaluated: int = 0, with_dets: int = 0,
             unknown_image: int = 0, model: str = "pycocotools") -> Evaluation:
    result = Evaluation(model, max_dets, len(preds), raised, branch, evaluated, with_dets, kept,
                        unknown_image, unknown_class, past)
    result.text = describe(result)
    return result


def describe(ev: Evaluation) -> str:
    """The one-paragraph summary."""
    if ev.raises is not None:
        r = ev.raises
        shown = ("" if r.exact else "e.g. ") + (r.message if "'" in r.message else f"'{r.message}'")
        return f"pycocotools: {r.where} would raise {r.type} ({shown}): {r.why}"
    if ev.model == "pycocotools" and ev.branch != "bbox":
        return (f"pycocotools: loadRes would read the file as {ev.branch} results (its first entry has "
                f"'{ev.branch}' and no 'bbox'), not as boxes; a bbox evaluation of it is not modelled")
    who = f"pycocotools COCOeval (bbox, maxDets {ev.max_dets})" if ev.model == "pycocotools" else \
        f"an evaluator (COCO-style, maxDets {ev.max_dets} per image and class)"
    kept = int(ev.kept.sum())
    without = ev.evaluated_images - ev.images_with_detections
    use = "no detections" if not ev.detections else f"all {ev.detections:,} detections" \
        if kept == ev.detections else f"{kept:,} of {ev.detections:,} detections"
    dropped = [f"{n:,} {what} ignored" for n, what in (
        (ev.ignored_unknown_image, "of unknown images"), (ev.ignored_unknown_class, "of unknown classes"),
        (ev.ignored_past_max_dets, "past maxDets")) if n]
    images = "image" if ev.evaluated_images == 1 else "images"
    return (f"{who} would evaluate {ev.evaluated_images:,} {images} ({without:,} of them without "
            f"detections), use {use}" + (": " + ", ".join(dropped) if dropped else ""))
