"""``detlint show PATH IMAGE [-o out.png]``: one image with its boxes and class names, full size.

For quick looks and bug reports: the image as a viewer shows it (EXIF orientation applied),
every box of that image with its class name, the image border, and a padded canvas so boxes
past the edge show. IMAGE is the path a shell completes (absolute, or relative to the current
folder), a path relative to the dataset root, or a file name or stem that matches exactly one
image; a path that leads outside the dataset root is refused. The PNG goes to ``-o`` or
``<stem>.detlint.png`` in the current folder, and the line that says so names it as given (no
absolute path the user did not type). An image that is not in the dataset (or a name matching
several), or whose file does not decode (truncated, corrupt, not an image: what ``check --images
decode`` reports as I002), is exit 2, one line; a missing file is drawn as a placeholder with its
boxes.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from detlint.clitypes import FORMAT_NAME, image_root_option
from detlint.errors import UsageError
from detlint.safetext import counted, escape_text


def _pick_image(index: object, name: str, root: Path) -> int:
    rows = _rows_named(index, name, root)
    if not rows:
        raise UsageError(f"image {name!r} is not in the dataset")
    if len(rows) > 1:
        images = index.ds.images  # type: ignore[attr-defined]
        names = ", ".join(str(images.path[r] or images.file_name[r]) for r in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        raise UsageError(f"image {name!r} matches {len(rows)} images ({names}{more}); give its path")
    return rows[0]


def _rows_named(index: object, name: str, root: Path) -> list[int]:
    """Image rows for ``name``: a path as the shell means it (absolute, or from the current folder
    where such a file is) when it leads into the dataset, else a name as the dataset means it."""
    find = index.find  # type: ignore[attr-defined]
    given = Path(name)
    if not (given.is_absolute() or os.path.lexists(given)):
        return find(name)
    inside = _under_root(given, root)
    if inside is not None:
        return find(inside) or find(name)
    rows = [] if given.is_absolute() else find(name)  # a relative name can still be the dataset's own
    if not rows:
        raise UsageError(f"image {name!r} is outside the dataset root")
    return rows


def _under_root(path: Path, root: Path) -> str | None:
    """``path`` relative to the dataset root (POSIX), judged on real paths (symbolic links
    followed, as opening it would) and then as written; None when it leads outside."""
    for resolve in (os.path.realpath, os.path.abspath):
        try:
            relative = os.path.relpath(resolve(path), resolve(root))
        except ValueError:  # another drive (Windows)
            continue
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep) and relative != os.curdir:
            return Path(relative).as_posix()
    return None


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("image")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="PNG to write (default: <stem>.detlint.png in the current folder).")
@click.option("--format", "input_format", type=FORMAT_NAME, default=None,
              help="Input format (default: sniffed).")
@image_root_option
def show(path: Path, image: str, output: Path | None, input_format: str | None, image_root: Path | None) -> None:
    """Draw IMAGE of the dataset at PATH with its boxes and class names into a PNG."""
    from detlint import draw
    from detlint.config import image_root_for
    from detlint.fileio import atomic_write_bytes
    from detlint.formats import ReadOptions, load

    ds = load(path, format=input_format, options=ReadOptions(image_root=image_root_for(path, image_root)))
    index = draw.ImageIndex(ds)
    row = _pick_image(index, image, Path(ds.root))
    scene = draw.scene_for(ds, row, index.annotations_of(row))
    name = str(ds.images.path[row] or ds.images.file_name[row])
    if scene.image_path is not None and scene.image_path.is_file():  # a missing one: boxes on a placeholder
        _require_decodable(ds, row, name)
    picture = draw.render(scene)
    target = output or Path(f"{Path(name).stem}.detlint.png")  # relative: the current folder, printed so
    atomic_write_bytes(target, draw.encode(picture, "PNG"))
    click.echo(escape_text(f"{target} ({picture.width}x{picture.height}, {counted(len(scene.boxes), 'box')})"),
               err=True)


def _require_decodable(ds: object, row: int, name: str) -> None:
    """A usage error when the image does not decode, judged as ``check --images decode`` (I002)
    judges it: every pixel decoded with truncated files failing whatever
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` says. Drawing would hide the failure behind a placeholder
    or the grey fill Pillow gives a cut-off file."""
    import numpy as np

    from detlint.images import image_report

    part, _ = ds.subset(np.array([row]))  # type: ignore[attr-defined]
    report = image_report(part, "decode")
    reason = report.header_error[0] or report.decode_error[0]
    if reason:
        raise UsageError(f"image {name!r} cannot be decoded: {reason}")
