"""unsafe-path (F008): an image file name that is absolute, contains ``..`` or escapes the dataset root.

Why it matters: the dataset works only on the machine it was made on (``/home/alice/img.jpg``),
or it reads (and a converter writes) files outside its own folder. Copying the dataset to a
cluster breaks it, and a hostile dataset could make tools overwrite files elsewhere.

Example: COCO ``"file_name": "../../etc/passwd"`` or ``"C:\\data\\img.jpg"``; VOC
``<filename>/abs/img.jpg</filename>``.

Also F008, reported by the readers where they meet it, and never opened: anything whose real
path (every symbolic link followed) lies outside the dataset root. That is a symlinked label,
image, XML or JSON leading out, a folder link (``labels/train -> /etc``), an image list entry,
an ``obj.data`` ``names =`` / ``train =`` path, and a data.yaml ``train:`` / ``val:`` /
``test:`` / ``path:`` value that leaves the root. Nothing there is read, listed, linked or
copied, and ``convert`` counts what it left out as a loss.

One departure from ultralytics: its data.yaml ``path:`` may name any folder. detlint reads only
the dataset it was pointed at, so a ``path:`` outside the root is F008 and the yaml's own folder
is the base. To check a dataset that lives elsewhere, run detlint on that folder.

With ``--image-root DIR`` (COCO, VOC), images are read from under that folder instead, by the
same rules: a name, symlink or folder link that leaves it is refused in the same way.

Fix: store names relative to the dataset's image folder, and keep every file of the dataset
inside its folder (copy it in rather than linking it).
"""

from __future__ import annotations

from collections.abc import Iterator

from detlint.fileio import safe_relative
from detlint.findings import Finding
from detlint.formats import Trait, format_of
from detlint.model import Dataset
from detlint.rules._helpers import RuleContext, at_image, reader_problems

CODE = "F008"
NAME = "unsafe-path"
SEVERITY = "error"
FIX = None
OPTIONS: dict = {}


def check(ds: Dataset, ctx: RuleContext) -> Iterator[Finding]:
    yield from reader_problems(ds, CODE)
    if not format_of(ds).has(Trait.SCHEMA):
        return  # readers of other formats report their unsafe names themselves, with the line
    names = ds.images.file_name.tolist()
    # only names with a separator, a drive colon or a leading dot can be unsafe: test those
    suspects = [row for row, name in enumerate(names) if "/" in name or "\\" in name or ":" in name or
                name.startswith(".")]
    for row in suspects:
        name = names[row]
        if name and safe_relative(name) is None:
            yield at_image(ds, row, CODE, f"file name '{name}' is absolute or leaves the dataset root",
                           field_name="file_name")
