"""class-imbalance (C007): the most frequent class outnumbers the least frequent by a large ratio.

Why it matters: with a 1000:1 imbalance the rare class contributes almost nothing to the loss;
the detector learns to never predict it unless you re-sample or re-weight. Informational: some
imbalance is natural, but it should be a decision, not a surprise.

Options: ``imbalance-ratio`` (default 50): fires when max/min count of the used classes is larger.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detlint.findings import Finding
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, class_list_file
from detlint.rules._options import Option, Options
from detlint.safetext import counted

CODE = "C007"
NAME = "class-imbalance"
SEVERITY = "info"
FIX = None
OPTIONS = Options(Option("imbalance-ratio", 50.0, "number",
                          "C007 fires when max/min count of the used classes is larger.", minimum=1))


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    limit = float(ctx.get(OPTIONS, "imbalance-ratio"))
    categories = ds.annotations.category[ds.annotations.category >= 0]
    counts = np.bincount(categories, minlength=len(ds.categories))
    used = np.flatnonzero(counts)
    if len(used) < 2:
        return
    most, least = used[np.argmax(counts[used])], used[np.argmin(counts[used])]
    ratio = counts[most] / counts[least]
    if ratio > limit:
        names = ds.categories.names
        yield Finding(CODE, f"class '{names[most]}' has {counted(int(counts[most]), 'annotation')}, "
                      f"'{names[least]}' only {counts[least]} (ratio {ratio:.0f} > imbalance-ratio {limit:g}): "
                      "the rare class is barely learned unless it is resampled or weighted",
                      file=class_list_file(ds))
