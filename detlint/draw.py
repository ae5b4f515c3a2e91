"""Pictures of an image with its boxes: thumbnails for the HTML report, full size for ``detlint show``.

An image is drawn as a viewer shows it (EXIF orientation applied) with every box of that image
and its class name. Boxes reaching past the image are not clipped: the canvas is padded around
the image (up to ``MAX_PAD`` image sizes on each side) and the image border is drawn, so a box
past the edge is visible as such. Highlighted boxes (the finding's box) are drawn thick in a
signal colour, with a ring around boxes too small to see. A missing or undecodable image becomes
a grey placeholder of the declared size, with the boxes still drawn.

Box coordinates follow the model: absolute pixel ``x1 y1 x2 y2``; rows flagged ``normalized``
(YOLO without a known image size) are scaled by the size of the image as decoded.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from detlint.boundary import Boundary, read_regular

MAX_PAD = 1.0  # how far past the image (in image sizes) the canvas grows to show stray boxes
MAX_FULL_SIDE = 8192  # full-size pictures are shrunk to this (a huge declared size, a panorama)
CANVAS_LIMIT = 1e6
MIN_FULL_SIDE = 512  # full-size pictures of smaller images are enlarged to this (nearest pixel)
FALLBACK_SIZE = (640, 480)  # placeholder size when neither the image nor its declared size is known
PAD_COLOUR = (40, 40, 46)
PLACEHOLDER_COLOUR = (150, 150, 150)
BORDER_COLOUR = (0, 220, 255)
DECLARED_COLOUR = (255, 210, 0)
HIGHLIGHT_COLOUR = (255, 0, 200)
# a model's detection (check --predictions): dashed white on a black halo, like no label box
PREDICTION_COLOUR = (255, 255, 255)
OLD_COLOUR = (255, 160, 0)  # detlint diff: a box where it was in the old version
TINY_PX = 6  # boxes smaller than this on the picture get a ring so they can be found
# Class colours; none close to HIGHLIGHT_COLOUR, so the finding's box stands out.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
)


@dataclass
class Scene:
    """What to draw: the image file, its declared size, and its boxes with labels."""

    image_path: Path | None
    declared_size: tuple[int, int]  # (W, H); 0 when unknown
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # float64[N, 4] xyxy
    normalized: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    labels: Sequence[str] = ()
    colour_keys: Sequence[int] = ()  # category index per box, picks the colour
    highlight: frozenset[int] = frozenset()  # positions in boxes
    root: Path | None = None  # the dataset root: the image is read only if it really lies under it
    # per box, its polygon rings ((K, 2) arrays in the box's units), drawn inside its rectangle
    outlines: Sequence[Sequence[np.ndarray]] = ()


def load_image(path: Path | None, max_side: int | None = None,
               root: Path | None = None) -> tuple[Image.Image, tuple[int, int]] | None:
    """(the decoded image as a viewer shows it, its full size), or None when unreadable.

    The image is EXIF-transposed and RGB. ``max_side`` lets JPEG decoding skip detail
    (``draft``): a 256 px thumbnail of a 4000 px photo decodes at 1/8 scale, several times
    faster; the returned size is still the full one (after EXIF orientation).
    """
    if path is None:
        return None
    data = Boundary(root).read(str(path)) if root is not None else read_regular(path)
    if not isinstance(data, bytes):
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            full = im.size
            if max_side is not None and max(full) > max_side:
                # The box asked for has the image's own aspect, or no reduction would qualify.
                shrink = max_side / max(full)
                im.draft("RGB", (max(1, int(full[0] * shrink)), max(1, int(full[1] * shrink))))
            stored = im.size
            shown = ImageOps.exif_transpose(im)
            if shown.size != stored:  # orientation 5-8 swapped the sides
                full = (full[1], full[0])
            return (shown if shown.mode == "RGB" else shown.convert("RGB")), full
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _pixel_boxes(scene: Scene, size: tuple[int, int]) -> np.ndarray:
    boxes = np.asarray(scene.boxes, np.float64).reshape(-1, 4).copy()
    if len(scene.normalized):
        scale = np.array([size[0], size[1], size[0], size[1]], np.float64)
        boxes[scene.normalized] *= scale
    return boxes


def _extent(boxes: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The region to draw: the image plus the stray boxes, at most MAX_PAD sizes past each edge."""
    width, height = size
    finite = boxes[np.isfinite(boxes).all(axis=1)]
    x0, y0, x1, y1 = 0.0, 0.0, float(width), float(height)
    if len(finite):
        x0 = min(x0, float(finite[:, [0, 2]].min()))
        y0 = min(y0, float(finite[:, [1, 3]].min()))
        x1 = max(x1, float(finite[:, [0, 2]].max()))
        y1 = max(y1, float(finite[:, [1, 3]].max()))
    return (max(x0, -MAX_PAD * width), max(y0, -MAX_PAD * height),
            min(x1, (1 + MAX_PAD) * width), min(y1, (1 + MAX_PAD) * height))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def render(scene: Scene, max_side: int | None = None,
           loaded: tuple[Image.Image, tuple[int, int]] | None | bool = False) -> Image.Image:
    """The picture: thumbnail-sized when ``max_side`` is given (longest side), else full size.

    ``loaded`` is the result of :func:`load_image` when the caller draws one image several
    times (one thumbnail per finding); by default the image is read here.
    """
    return render_each(scene, [scene.highlight], max_side, loaded)[0]


# a detection's xyxy pixel box and its label ("dog 0.91"), optionally its colour (default
# PREDICTION_COLOUR; detlint diff draws a box's old place in OLD_COLOUR)
Overlay = tuple  # (np.ndarray, str) | (np.ndarray, str, tuple[int, int, int])


def render_each(scene: Scene, highlights: Sequence[frozenset[int]], max_side: int | None = None,
                loaded: tuple[Image.Image, tuple[int, int]] | None | bool = False,
                overlays: Sequence[Sequence[Overlay]] = ()) -> list[Image.Image]:
    """One picture per set of highlighted boxes (``scene.highlight`` is ignored), each with its
    ``overlays`` (a model's detections, dashed in ``PREDICTION_COLOUR``) on top.

    The image and every box are drawn once; each picture is a copy with only its highlighted
    boxes drawn again on top. A card per finding on an image with thousands of boxes then costs
    a copy each, not a redraw of every box and label (5,000 boxes x 100 cards took 25 s).
    """
    if loaded is False:
        loaded = load_image(scene.image_path, max_side, scene.root)
    picture, size = loaded if loaded is not None else (None, _placeholder_size(scene))
    boxes = _pixel_boxes(scene, size)
    extra = [overlay[0] for group in overlays for overlay in group]
    x0, y0, x1, y1 = _extent(np.vstack([boxes, *extra]) if extra else boxes, size)
    longest = max(x1 - x0, y1 - y0, 1.0)
    if max_side:
        margin = 4
        scale = (max_side - 2 * margin) / longest
    else:  # full size; tiny images are enlarged so that labels and 1 px boxes stay legible
        scale = min(max(1.0, MIN_FULL_SIDE / longest), MAX_FULL_SIDE / longest)
        margin = max(4, int(longest * scale / 200))
    canvas_size = (int(math.ceil((x1 - x0) * scale)) + 2 * margin, int(math.ceil((y1 - y0) * scale)) + 2 * margin)
    canvas = Image.new("RGB", canvas_size, PAD_COLOUR)
    offset = (margin - x0 * scale, margin - y0 * scale)
    image_box = _to_canvas(np.array([0, 0, size[0], size[1]], np.float64), scale, offset)
    _paste_image(canvas, picture, size, image_box)
    draw = ImageDraw.Draw(canvas)
    line = max(1, int(round(max(canvas_size) / 300)))
    font = _font(max(10, int(round(max(canvas_size) / 45))))
    draw.rectangle(_rect(image_box), outline=BORDER_COLOUR, width=line)
    declared = scene.declared_size
    if picture is not None and all(declared) and tuple(declared) != tuple(size):
        declared_box = _to_canvas(np.array([0, 0, declared[0], declared[1]], np.float64), scale, offset)
        _dashed_rectangle(draw, declared_box, DECLARED_COLOUR, line)
    if picture is None:
        _caption(draw, image_box, "image missing or unreadable", font)
    pen = _Pen(scale, offset, line, font)
    _draw_boxes(draw, scene, boxes, pen, range(len(boxes)), frozenset())
    pictures = []
    for k, highlight in enumerate(highlights):
        copy = canvas.copy() if len(highlights) > 1 else canvas
        draw_copy = ImageDraw.Draw(copy)
        _draw_boxes(draw_copy, scene, boxes, pen, sorted(highlight), highlight)
        for overlay in overlays[k] if k < len(overlays) else ():
            _draw_overlay(draw_copy, overlay[0], overlay[1], pen, *overlay[2:])
        pictures.append(copy)
    return pictures


def _draw_overlay(draw: ImageDraw.ImageDraw, box: np.ndarray, label: str, pen: _Pen,
                  colour: tuple[int, int, int] = PREDICTION_COLOUR) -> None:
    """A model's detection: dashed, in its own colour, so it is never taken for a label."""
    if not np.isfinite(box).all():
        return
    rect = _rect(_to_canvas(np.asarray(box, np.float64), pen.scale, pen.offset))
    draw.rectangle(rect, outline=(0, 0, 0), width=pen.line * 2)
    _dashed_rectangle(draw, np.array(rect), colour, pen.line * 2)
    if label:  # at the bottom edge, inside: the label's own tag sits above the top edge
        _label(draw, [rect[0], rect[3], rect[2], rect[3]], label, colour, pen.font)


@dataclass(frozen=True)
class _Pen:
    """How boxes land on one canvas: scale and offset from image pixels, line width, label font."""

    scale: float
    offset: tuple[float, float]
    line: int
    font: ImageFont.ImageFont


def _placeholder_size(scene: Scene) -> tuple[int, int]:
    width, height = scene.declared_size
    if width > 0 and height > 0:
        return int(width), int(height)
    return FALLBACK_SIZE


def _to_canvas(box: np.ndarray, scale: float, offset: tuple[float, float]) -> np.ndarray:
    # Clipped far outside any canvas: a 1e300 coordinate would overflow Pillow's integer maths.
    # an overflow to inf is clipped like any other far coordinate: no RuntimeWarning on stderr
    with np.errstate(over="ignore"):
        canvas = box * scale + np.array([offset[0], offset[1], offset[0], offset[1]])
    return np.clip(canvas, -CANVAS_LIMIT, CANVAS_LIMIT)


def _rect(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]


def _paste_image(canvas: Image.Image, picture: Image.Image | None, size: tuple[int, int],
                 image_box: np.ndarray) -> None:
    left, top, right, bottom = (int(round(v)) for v in image_box)
    target = (max(1, right - left), max(1, bottom - top))
    if picture is None:
        canvas.paste(PLACEHOLDER_COLOUR, (left, top, left + target[0], top + target[1]))
        return
    if picture.size != target:
        enlarging = target[0] > picture.width
        # Enlarged pixels stay sharp squares, so a box edge can be checked against them.
        resample = Image.Resampling.NEAREST if enlarging else Image.Resampling.BILINEAR
        picture = picture.resize(target, resample, reducing_gap=None if enlarging else 2.0)
    canvas.paste(picture, (left, top))


def _draw_boxes(draw: ImageDraw.ImageDraw, scene: Scene, boxes: np.ndarray, pen: _Pen, which: Iterable[int],
                highlight: frozenset[int]) -> None:
    """Boxes ``which`` in order; those in ``highlight`` thick in the signal colour."""
    line = pen.line
    for i in which:
        if not 0 <= i < len(boxes):
            continue
        box = boxes[i]
        if not np.isfinite(box).all():
            continue
        rect = _rect(_to_canvas(box, pen.scale, pen.offset))
        highlighted = i in highlight
        key = scene.colour_keys[i] if i < len(scene.colour_keys) else 0
        colour = HIGHLIGHT_COLOUR if highlighted else PALETTE[key % len(PALETTE)] if key >= 0 else (255, 255, 255)
        width = line * 3 if highlighted else line
        if highlighted:  # a dark halo keeps the highlight visible on light and busy images
            halo = [rect[0] - line, rect[1] - line, rect[2] + line, rect[3] + line]
            draw.rectangle(halo, outline=(0, 0, 0), width=width + 2 * line)
        draw.rectangle(rect, outline=colour, width=width)
        _draw_outlines(draw, scene.outlines[i] if i < len(scene.outlines) else (), pen, colour)
        if highlighted and max(rect[2] - rect[0], rect[3] - rect[1]) < TINY_PX * line:
            cx, cy, r = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, TINY_PX * line * 2
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=line * 2)
        label = scene.labels[i] if i < len(scene.labels) else ""
        if label:
            _label(draw, rect, label, colour, pen.font)


def _draw_outlines(draw: ImageDraw.ImageDraw, rings: Sequence[np.ndarray], pen: _Pen,
                   colour: tuple[int, int, int]) -> None:
    """A box's polygon rings, closed, in its colour (thinner than its rectangle)."""
    for ring in rings:
        points = np.clip(ring * pen.scale + np.asarray(pen.offset), -CANVAS_LIMIT, CANVAS_LIMIT)
        if len(points) >= 3 and np.isfinite(points).all():
            draw.line([tuple(p) for p in points.tolist()] + [tuple(points[0].tolist())], fill=colour,
                      width=max(1, pen.line // 2 or 1))


def _label(draw: ImageDraw.ImageDraw, rect: list[float], text: str, colour: tuple[int, int, int],
           font: ImageFont.ImageFont) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 4, bottom - top + 4
    x, y = rect[0], rect[1] - height
    if y < 0:
        y = rect[1]
    draw.rectangle([x, y, x + width, y + height], fill=colour)
    ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
    draw.text((x + 2 - left, y + 2 - top), text, fill=ink, font=font)


def _caption(draw: ImageDraw.ImageDraw, image_box: np.ndarray, text: str, font: ImageFont.ImageFont) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    cx, cy = (image_box[0] + image_box[2]) / 2, (image_box[1] + image_box[3]) / 2
    draw.text((cx - (right - left) / 2, cy - (bottom - top) / 2), text, fill=(60, 60, 60), font=font)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box: np.ndarray, colour: tuple[int, int, int], width: int) -> None:
    """The declared size, when it differs from the decoded one (I003)."""
    x1, y1, x2, y2 = _rect(box)
    dash = 6 * width
    for start in np.arange(x1, x2, 2 * dash):
        end = min(start + dash, x2)
        draw.line([(start, y1), (end, y1)], fill=colour, width=width)
        draw.line([(start, y2), (end, y2)], fill=colour, width=width)
    for start in np.arange(y1, y2, 2 * dash):
        end = min(start + dash, y2)
        draw.line([(x1, start), (x1, end)], fill=colour, width=width)
        draw.line([(x2, start), (x2, end)], fill=colour, width=width)


def encode(picture: Image.Image, fmt: str = "JPEG", quality: int = 70) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        picture.save(buffer, format="JPEG", quality=quality, optimize=False)
    else:
        picture.save(buffer, format=fmt)
    return buffer.getvalue()


def scene_for(ds, image_row: int, annotation_rows: Sequence[int] | np.ndarray,
              highlight_rows: Sequence[int] = ()) -> Scene:
    """The scene of one image of a Dataset: its file, declared size and the given annotations."""
    images, ann, names = ds.images, ds.annotations, ds.categories.names
    rows = drawn_rows(ds, annotation_rows)
    relpath = str(images.path[image_row] or "") if image_row >= 0 else ""
    categories = ann.category[rows].tolist()
    class_ids = ann.class_id[rows].tolist()
    labels = [names[c] if 0 <= c < len(names) else f"?{int(k)}" for c, k in zip(categories, class_ids)]
    position = {int(r): i for i, r in enumerate(rows.tolist())}
    return Scene(
        image_path=ds.image_dir / relpath if relpath else None,
        declared_size=(int(images.width[image_row]), int(images.height[image_row])) if image_row >= 0 else (0, 0),
        boxes=ann.boxes[rows], normalized=ann.normalized[rows], labels=labels, colour_keys=categories,
        highlight=frozenset(position[r] for r in highlight_rows if r in position), root=ds.image_dir,
        outlines=_outlines(ds, rows),
    )


def _outlines(ds, rows: np.ndarray) -> list[list[np.ndarray]]:
    """The polygon rings of ``rows`` in their boxes' units: COCO pixel polygons as they are, a
    YOLO ring scaled to pixels where its image size is known (RLE masks are not traced for a
    picture)."""
    from detlint.geometry.masks import is_polygon_list, usable_polygons

    ann, images = ds.annotations, ds.images
    out: list[list[np.ndarray]] = []
    for row in rows.tolist():
        value, kind = ann.segmentation[row], int(ann.kind[row])
        rings: list[np.ndarray] = []
        if kind == 0 and is_polygon_list(value):
            rings = [np.asarray(p, np.float64).reshape(-1, 2) for p in usable_polygons(value)]
        elif kind == 1 and isinstance(value, list) and len(value) % 2 == 0 and not ann.normalized[row]:
            size = (float(images.width[ann.image[row]]), float(images.height[ann.image[row]]))
            rings = [np.asarray(value, np.float64).reshape(-1, 2) * size]
        out.append(rings)
    return out


def drawn_rows(ds, annotation_rows: Sequence[int] | np.ndarray) -> np.ndarray:
    """The annotation rows a scene draws (those with a box), in order: box ``i`` of the scene is
    row ``drawn_rows(...)[i]``."""
    ann = ds.annotations
    rows = np.asarray(annotation_rows, np.int64)
    return rows[(ann.kind[rows] != ann.KIND_NONE) & ann.has_box[rows]] if len(rows) else rows


class ImageIndex:
    """Annotation rows per image row, and image rows by name, for one Dataset (built once)."""

    def __init__(self, ds) -> None:
        self.ds = ds
        image_of = ds.annotations.image
        self._order = np.argsort(image_of, kind="stable")
        self._sorted = image_of[self._order]
        self._by_name: dict[str, int] | None = None

    def annotations_of(self, image_row: int) -> np.ndarray:
        lo, hi = np.searchsorted(self._sorted, [image_row, image_row + 1])
        return self._order[lo:hi]

    def find(self, name: str) -> list[int]:
        """Image rows whose path, file name, base name or stem is ``name`` (most specific first)."""
        if self._by_name is None:
            self._by_name = {}
            images = self.ds.images
            for row, (path, file_name) in enumerate(zip(images.path.tolist(), images.file_name.tolist())):
                for key in (path, file_name):
                    if key:
                        self._by_name.setdefault(str(key).replace("\\", "/"), row)
        name = name.replace("\\", "/")
        if name in self._by_name:
            return [self._by_name[name]]
        images = self.ds.images
        candidates = [str(p or f) for p, f in zip(images.path.tolist(), images.file_name.tolist())]
        base = [i for i, c in enumerate(candidates) if c.rsplit("/", 1)[-1] == name or c.endswith("/" + name)]
        if base:
            return base
        return [i for i, c in enumerate(candidates) if Path(c).stem == name]
