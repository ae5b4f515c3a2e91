"""Which label file belongs to which image, and which label files have no image (orphans).

Label lookup follows ultralytics: replace the last ``/images/`` path component with
``/labels/`` and the extension with ``.txt``; otherwise a ``.txt`` beside the image. A label
found only when case is ignored is still paired (F014).
"""

from __future__ import annotations

import os

from detlint.findings import Finding
from detlint.formats.yolo.layout import ImageGroup, Layout
from detlint.formats.yolo.listing import Listing
from detlint.formats.yolo.paths import labels_counterpart, rel


def pair_labels(layout: Layout) -> tuple[list[str | None], list[str]]:
    """The label file of each image (None if none) and the label files left over (orphans).

    Per image folder, the candidate folders are worked out once; per image it is one string
    concatenation and a set lookup. A candidate outside the label pool is looked up in its
    folder's listing when that folder was listed, else on disk.
    """
    pool = layout.label_pool
    claimed: set[str] = set()
    misses = _Misses(layout, claimed)
    result: list[str | None] = []
    for group in layout.images:
        prefixes = label_prefixes(group.folder)
        walked = group.walked
        if walked:  # the usual case: every image's label is in the first candidate folder
            first = prefixes[0]
            candidates = [first + name[:name.rfind(".")] + ".txt" for name in group.names]
            if pool.issuperset(candidates):
                claimed.update(candidates)
                result += candidates
                continue
        listings = [layout.listings.get(prefix) for prefix in prefixes]
        for name in group.names:
            stem_txt = (name[:name.rfind(".")] if walked else os.path.splitext(name)[0]) + ".txt"
            candidate = prefixes[0] + stem_txt
            if candidate in pool:  # the usual case: the first candidate is a label
                claimed.add(candidate)
                result.append(candidate)
                continue
            found = misses.find(group, name, stem_txt, list(zip(prefixes, listings)))
            if found is not None:
                claimed.add(found)
            result.append(found)
    orphans = sorted(pool - claimed)
    return result, orphans


class _Misses:
    """The lookup of an image whose first candidate is no label: the other candidates, on disk
    where they are not in the pool, then the pool ignoring case (F014)."""

    def __init__(self, layout: Layout, claimed: set[str]) -> None:
        self.layout = layout
        self.claimed = claimed
        self.by_lower: dict[str, str] | None = None  # built on the first miss
        self.root = str(layout.root)

    def find(self, group: ImageGroup, name: str, stem_txt: str,
             candidates: list[tuple[str, Listing | None]]) -> str | None:
        pool = self.layout.label_pool
        for prefix, listing in candidates:
            candidate = prefix + stem_txt
            if candidate in pool or (candidate not in self.claimed and _is_file(candidate, stem_txt, listing)):
                return candidate
            loose = self._lower().get(candidate.lower())
            if loose is not None:
                self.layout.problems.append(Finding(
                    "F014", f"label {os.path.basename(loose)!r} pairs with image {name!r} "
                            f"only when case is ignored", file=rel(loose, self.root),
                    image=rel(group.prefix + name, self.root)))
                return loose
        return None

    def _lower(self) -> dict[str, str]:
        if self.by_lower is None:
            self.by_lower = {}
            for path in sorted(self.layout.label_pool):
                self.by_lower.setdefault(path.lower(), path)
        return self.by_lower


def _is_file(path: str, name: str, listing: Listing | None) -> bool:
    """Whether ``path`` (named ``name`` in a folder with ``listing``, if listed) is a file."""
    if listing is not None and not listing.has_txt(name):
        return False
    return os.path.isfile(path)


def label_prefixes(folder: str) -> list[str]:
    """Where the labels of images in ``folder`` may be: ``.../labels/...`` first, then beside them."""
    counterpart = labels_counterpart(folder)
    prefixes = [os.path.join(counterpart, "")] if counterpart is not None else []
    prefixes.append(os.path.join(folder, ""))
    return prefixes
