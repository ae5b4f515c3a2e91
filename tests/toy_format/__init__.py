"""A toy format, registered only by tests: one ``boxes.csv`` per dataset.

It shows what adding a format takes: one package whose ``FORMAT`` satisfies the ``Format``
protocol, and one ``register`` call (a built-in format is one line in ``BUILTIN`` instead).

``boxes.csv`` (header line, then one row per box, absolute pixels, images beside the file)::

    image,width,height,class,x1,y1,x2,y2
    a.jpg,64,48,cat,4,4,20,30
"""

from __future__ import annotations

from pathlib import Path

from detlint.formats import FormatBase, ReadOptions, Trait, WriteOptions
from detlint.model import Dataset
from toy_format.read import HEADER, read_csv
from toy_format.write import write_csv

NAME = "toycsv"
FILE_NAME = "boxes.csv"


class ToyFormat(FormatBase):
    name = NAME
    title = "toy CSV"
    traits = frozenset({Trait.DECLARED_SIZES, Trait.NAMED_IMAGE_FILES, Trait.CLASS_NAME})

    def sniff(self, path: Path) -> int:
        target = path / FILE_NAME if path.is_dir() else path
        try:
            with open(target, encoding="utf-8") as fh:
                return 10 if fh.readline().strip() == HEADER else 0
        except OSError:
            return 0

    def read(self, path: Path, options: ReadOptions) -> Dataset:
        csv_path = path / FILE_NAME if path.is_dir() else path
        return read_csv(csv_path, NAME)

    def write(self, ds: Dataset, dst: Path, options: WriteOptions) -> None:
        write_csv(ds, dst / FILE_NAME, options)


FORMAT = ToyFormat()
