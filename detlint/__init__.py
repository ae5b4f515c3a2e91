"""detlint: make object-detection datasets trustworthy before training on them.

Python API::

    import detlint

    ds = detlint.load("data/coco")                        # COCO, VOC or YOLO, sniffed
    findings = detlint.check(ds, images="decode")         # list of Finding, as `detlint check`
    detlint.save(ds, "out", format="yolo")                # returns what the target could not hold

``detlint.torch.DetectionDataset`` and ``detlint.torch.collate`` (``pip install 'detlint[torch]'``)
feed a loaded dataset to torchvision detectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load", "save", "check", "__version__"]

if TYPE_CHECKING:
    from detlint.config import Config
    from detlint.findings import Finding
    from detlint.model import Dataset


def load(path: str | Path, format: str | None = None, **options: Any) -> Dataset:
    """Read the dataset at ``path`` (a folder, or an annotation file such as a COCO JSON or a
    ``data.yaml``) into one :class:`detlint.model.Dataset`: numpy columns of categories, images
    and annotations (boxes as absolute-pixel ``x1 y1 x2 y2``), each row remembering its file and
    line.

    ``format`` forces a format by name (coco, voc, yolo or a registered plugin format); by
    default it is sniffed. ``options`` are the fields of :class:`detlint.formats.protocol.ReadOptions`,
    e.g. ``voc_origin=0`` (0-based VOC pixels), ``classes=["cat", "dog"]`` (a VOC class list),
    ``probe_images=False`` (no image headers: YOLO boxes stay normalised), ``progress=False``.

    Bad data never raises: it is kept as findings in ``ds.problems``, which :func:`check`
    reports. A path that does not exist or holds no dataset raises
    :class:`detlint.errors.UsageError` with a one-line message.
    """
    from detlint.formats import load as _load
    from detlint.formats.protocol import ReadOptions

    return _load(path, format=format, options=ReadOptions(**options) if options else None)


def save(ds: Dataset, path: str | Path, format: str, **options: Any) -> list[dict]:
    """Write ``ds`` as a new dataset under the folder ``path`` in ``format`` (a format name: coco,
    voc, yolo or a plugin's), images hard-linked (``link_images=False`` copies them; other ``options`` are the
    fields of :class:`detlint.formats.protocol.WriteOptions`, e.g. ``voc_origin``).

    Returns the losses: one ``{"what": ..., "count": N, "detail": ...}`` per thing the target
    format cannot hold (an empty list: nothing lost). ``detlint convert`` does the same with a
    staged folder and a conversion report.
    """
    from detlint.formats import save as _save
    from detlint.formats.protocol import WriteOptions

    return _save(ds, path, format, WriteOptions(**options)).losses


def check(ds: Dataset, config: Config | str | Path | None = None, *, images: str | None = None,
          select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
          options: dict[str, Any] | None = None) -> list[Finding]:
    """Run the rules on a loaded dataset; the located findings (code, message, file, line or
    pointer, image, fix), sorted, with the reader's problems (F001 and the like) included.

    - ``images``: ``"none"`` (annotations only), ``"header"`` (the default: existence, real size
      after EXIF, mode) or ``"decode"`` (also decodes every image and hashes its content:
      corrupt files, duplicates, the same photo in two splits): ``check(ds, images="decode")``.
    - ``select`` / ``ignore``: code prefixes, as in the config (``select=["B", "C001"]``).
    - ``options``: rule options by their kebab-case names (``{"min-box-size": 2}``).
    - ``config``: a :class:`detlint.config.Config`; or a path: a config file (``detlint.toml``,
      ``pyproject.toml``), or a folder whose nearest config at or above it is read, as
      ``detlint check`` does (``config=ds.root``). None: the defaults, no file is read.
      The keyword arguments above override it.

    A config file that is not valid, or a bad ``images`` level, raises
    :class:`detlint.errors.UsageError`. Baselines and ``fail-on`` are the CLI's: filter the list
    by ``finding.severity`` yourself.
    """
    from detlint.config import Config as _Config
    from detlint.config import load_config
    from detlint.engine import run_rules
    from detlint.errors import UsageError
    from detlint.headers import IMAGE_LEVELS

    if isinstance(config, (str, Path)):
        where = Path(config)
        config = load_config(where) if where.is_dir() else load_config(where, explicit=where)
    overrides = {"images": images, "select": list(select) if select is not None else None,
                 "ignore": list(ignore) if ignore is not None else None, "options": options}
    config = (config or _Config()).merged(**overrides)
    if config.images not in IMAGE_LEVELS:
        raise UsageError(f"images={config.images!r}: choose one of {', '.join(IMAGE_LEVELS)}")
    return run_rules(ds, config)
