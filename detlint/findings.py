"""A finding: one problem, at one place in the source files.

Readers create findings for what they meet while parsing (F001, F006, ...); rules create the
rest. The engine stamps each finding's ``name`` and ``severity`` from the rule catalog by code
(:func:`detlint.engine.run_rules`), so this module knows no rule and imports nothing of detlint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
INDEX_WIDTH = 20  # digits of the largest 64-bit index: pointers sort by number when padded to it


@dataclass(frozen=True)
class Fix:
    applicability: str  # "safe" | "unsafe"
    description: str


@dataclass
class Finding:
    code: str
    message: str
    file: str | None = None  # relative to the dataset root, POSIX
    line: int | None = None  # 1-based
    pointer: str | None = None  # RFC 6901, COCO only
    image: str | None = None
    annotation: str | None = None  # the source's own key: COCO id, VOC object index, YOLO line
    fix: Fix | None = None
    column: int | None = None
    dataset: str | None = None  # the dataset root as given on the command line
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # for fixes and reporters
    name: str = field(default="", compare=False)  # the rule's kebab name, stamped by the engine
    severity: str = field(default="error", compare=False)  # stamped by the engine; unknown codes: error
    # --target: trainer name -> what that trainer does with this finding's box or image
    consequences: dict[str, str] = field(default_factory=dict, compare=False)

    def stamped(self, name: str, severity: str) -> Finding:
        """This finding with the catalog's name and severity for its code."""
        self.name, self.severity = name, severity
        return self

    def key(self) -> tuple[str, str, str]:
        """Identity in baselines of version 1 (line, position or id): still read, never written
        (see :func:`baseline_keys`)."""
        obj = self.annotation or self.pointer or self.image or ""
        return (self.code, self.file or "", obj)

    def sort_key(self) -> tuple:
        return (self.dataset or "", self.file or "", self.line or 0, pointer_order(self.pointer), self.code,
                self.message)


def json_pointer(*parts: object) -> str:
    """RFC 6901 pointer from path parts (``~`` and ``/`` escaped)."""
    text = "/".join(map(str, parts))
    if "~" not in text and text.count("/") == len(parts) - 1:  # no part needs escaping
        return "/" + text if parts else ""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_order(pointer: str | None) -> str:
    """A JSON pointer's sort key: array indices as numbers, so ``/categories/2`` comes before
    ``/categories/10`` and ``/annotations/9/bbox`` before ``/annotations/10/bbox``."""
    if not pointer:
        return ""
    # Each index zero-padded to one width: a plain string compares fast (a sort of 200k COCO
    # findings), where a tuple of (kind, value) pairs made the sort several times slower.
    return "/".join([part.zfill(INDEX_WIDTH) if part.isdigit() and part.isascii() else part
                     for part in pointer.split("/")])


BASELINE_VERSION = 2  # keys name the object (image, class, box), not its line or position


def baseline_keys(findings: list[Finding], objects: list[str]) -> list[tuple[str, str, str]]:
    """Baseline identity of each finding: (code, file, object), ``objects[i]`` naming what
    ``findings[i]`` is about, with an ordinal among findings of the same code, file and object
    (two identical broken rows are two entries; a third one is new)."""
    seen: dict[tuple[str, str, str], int] = {}
    keys = []
    for finding, obj in zip(findings, objects):
        base = (finding.code, finding.file or "", obj)
        ordinal = seen.get(base, 0)
        seen[base] = ordinal + 1
        keys.append((base[0], base[1], f"{obj}#{ordinal}"))
    return keys
