"""image-renamed (D003): an image whose path changed but whose content did not (same split).

Images are matched by relative path first, then the unmatched ones by content hash (git's blob
id of the file, so a `--rev` diff reads no old image). A renamed image's boxes are compared
with its old boxes as for any matched image.

Located at the image's entry in NEW; the message names the old path.

Reported by `detlint diff OLD NEW` (or `detlint diff PATH --rev REV`) only, never by
`detlint check`: the D codes describe a change between two versions, not a defect of one.
`--fail-on-change image-renamed` makes the diff exit 1 when it is found.
"""

from __future__ import annotations

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules.context import RuleContext

CODE = "D003"
NAME = "image-renamed"
SEVERITY = "info"
FIX = None
OPTIONS: dict = {}
NEEDS = "diff"  # built by detlint.diffing from two versions; the engine never runs it


def check(ds: Dataset, ctx: RuleContext) -> list[Finding]:
    """One version alone shows no change: ``detlint diff`` builds these findings itself."""
    return []
