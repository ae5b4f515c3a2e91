"""``detlint check --fix`` / ``--diff``: the thin driver between the rules' fixes and the formats'
write-back.

Each rule module with a fix builds it beside its ``check`` (``fix(ds, findings) -> Dataset``, pure;
see :mod:`detlint.rules._fixes`). This driver picks the findings whose fix is safe (or unsafe too,
when asked), runs the rules' fixes in ``FIX_PRIORITY`` order, the drops last and all at once (row
numbers in findings refer to the dataset as read, and only drops change them), then asks the
dataset's format for the minimal edits of its source files (``Format.write_back``) and writes them
all or none (:func:`detlint.fileio.replace_files`). Images are never written. Nothing is written
with ``write=False`` (``--diff``): the outcome then carries a unified diff of the source files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from detlint.edits import FileChange, diff_text
from detlint.fileio import is_image, replace_files
from detlint.findings import Finding
from detlint.formats import format_of
from detlint.model import Dataset
from detlint.rules import RULES
from detlint.rules._fixes import DropRows, drop_annotations


@dataclass
class Outcome:
    """What :func:`apply_fixes` did: whether sources changed, the diff, per-code counts, files."""

    changed: bool = False
    diff: str = ""
    applied: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def fixing_rules() -> list[ModuleType]:
    """Rules that build a fix, in the order their fixes run (drops last)."""
    rules = [rule for rule in RULES.values() if callable(getattr(rule, "fix", None))]
    return sorted(rules, key=lambda rule: (isinstance(rule.fix, DropRows), getattr(rule, "FIX_PRIORITY", 50)))


def selected(findings: Iterable[Finding], unsafe: bool) -> list[Finding]:
    """Findings with a fix this run may apply."""
    allowed = ("safe", "unsafe") if unsafe else ("safe",)
    return [f for f in findings if f.fix is not None and f.fix.applicability in allowed
            and callable(getattr(RULES.get(f.code), "fix", None))]


def fixed_dataset(ds: Dataset, findings: Iterable[Finding], unsafe: bool = False) -> tuple[Dataset, dict[str, int]]:
    """``ds`` with the applicable fixes applied, and how many findings each code fixed."""
    by_code: dict[str, list[Finding]] = {}
    for finding in selected(findings, unsafe):
        by_code.setdefault(finding.code, []).append(finding)
    new, applied, drops = ds, {}, []
    for rule in fixing_rules():
        chosen = by_code.get(rule.CODE)
        if not chosen:
            continue
        if isinstance(rule.fix, DropRows):
            rows = rule.fix.rows(chosen)
            drops += rows
            if rows:
                applied[rule.CODE] = len(rows)
            continue
        fixed = rule.fix(new, chosen)
        if fixed is not new:
            applied[rule.CODE] = len(chosen)
            new = fixed
    if drops:
        new = drop_annotations(new, drops)
    return new, applied


def apply_fixes(ds: Dataset, findings: Iterable[Finding], unsafe: bool = False, write: bool = True) -> Outcome:
    """Apply the fixes the findings offer (safe ones; unsafe too if ``unsafe``) to ``ds``'s source files.

    With ``write`` False nothing is written; the outcome's ``diff`` shows what would change.
    """
    new, applied = fixed_dataset(ds, findings, unsafe)
    changes = [c for c in source_changes(ds, new) if c.new != c.old]
    if write:
        # images are never rewritten, whatever the provenance says; the rest all or none
        replace_files(Path(ds.root), [(c.file, c.new) for c in changes if not is_image(c.file)])
    return Outcome(changed=bool(changes), diff="".join(diff_text(c) for c in changes), applied=applied,
                   files=[c.file for c in changes])


def source_changes(old: Dataset, new: Dataset) -> list[FileChange]:
    """The edits that bring ``old``'s source files in line with ``new``."""
    if len(old.images) != len(new.images):
        raise ValueError("fixes must not add or remove image entries")
    return format_of(old).write_back(old, new)
