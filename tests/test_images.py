"""Image checks (I002-I004, I007-I010, S001 by content, S002), the image report and its cache.

Every fixture is generated here with Pillow in tmp_path: small COCO datasets (JSON written by
hand) whose images carry one defect each, and a tiny YOLO dataset with an EXIF-rotated JPEG.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image, ImageDraw, ImageFile, ImageOps

import detlint
from detlint import images as images_module
from detlint.boundary import Boundary
from detlint.checking import CheckRequest, run_check
from detlint.headers import header_size
from detlint.images import ImageCache, hash_pairs, image_report, perceptual_hash, popcount64

LEVELS = ("none", "header", "decode")
IMAGE_CODES = ("I002", "I003", "I004", "I007", "I008", "I009", "I010", "S001", "S002")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(folder))
    return folder


# ------------------------------------------------------------------------------- image makers


def noise(seed: int, width: int = 160, height: int = 120) -> Image.Image:
    """A distinct textured image: smooth random blobs plus noise (pHash needs structure)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.float64)
    return Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))


def scene(background_seed: int, object_seed: int, width: int = 320, height: int = 240) -> Image.Image:
    """One background, a few objects: photos of one place with different things in it."""
    y, x = np.mgrid[0:height, 0:width]
    base = (90 + 60 * np.sin(x / 25 + background_seed) + 40 * np.cos(y / 35))[..., None] * np.array([1, 0.8, 0.6])
    base = base + np.random.default_rng(background_seed).normal(0, 6, base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(object_seed)
    for _ in range(3):
        x0, y0 = int(rng.integers(0, width - 80)), int(rng.integers(0, height - 80))
        w, h = (int(v) for v in rng.integers(30, 80, 2))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=colour)
    return im


def jpeg_bytes(im: Image.Image, quality: int = 90, **params) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality, **params)
    return buffer.getvalue()


def exif_with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def rotated_jpeg(seed: int, orientation: int) -> bytes:
    """A JPEG stored 160x80 whose EXIF orientation makes viewers show it 80x160."""
    return jpeg_bytes(noise(seed, 160, 80), exif=exif_with_orientation(orientation))


# ----------------------------------------------------------------------------- COCO datasets


def write_coco(root: Path, splits: dict[str, list[dict]]) -> Path:
    """``annotations/instances_<split>.json`` + ``images/<split>/``; each entry: name, image
    (Image or bytes), optional declared size and box (COCO xywh)."""
    for split, entries in splits.items():
        folder = root / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        coco: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "thing"}]}
        for number, entry in enumerate(entries, start=1):
            data = entry["image"]
            if isinstance(data, Image.Image):
                suffix = Path(entry["name"]).suffix.lower()
                buffer = io.BytesIO()
                data.save(buffer, "PNG" if suffix == ".png" else "JPEG", quality=90)
                data = buffer.getvalue()
            (folder / entry["name"]).write_bytes(data)
            width, height = entry.get("size") or header_size(folder / entry["name"]) or (64, 64)
            coco["images"].append({"id": number, "file_name": entry["name"], "width": width, "height": height})
            box = entry.get("box", [1, 1, 3, 3])
            coco["annotations"].append({"id": number, "image_id": number, "category_id": 1, "bbox": box,
                                        "area": float(box[2] * box[3]), "iscrowd": 0})
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_bytes(orjson.dumps(coco))
    return root


def truncated_jpeg(seed: int) -> bytes:
    data = jpeg_bytes(noise(seed))
    return data[: len(data) // 2]  # header and the first scans intact, the rest cut off


def sixteen_bit_png() -> bytes:
    values = np.asarray(noise(31).convert("L"), dtype=np.uint16) * 257
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    return buffer.getvalue()


def alpha_png() -> bytes:
    im = noise(32).convert("RGBA")
    im.putalpha(200)
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return buffer.getvalue()


def defect_dataset(root: Path) -> Path:
    copy_source = jpeg_bytes(noise(1))
    leak_source = jpeg_bytes(noise(2))
    resized_source = noise(3, 320, 240)
    near_source = noise(4, 320, 240)
    train = [
        {"name": "clean.jpg", "image": noise(5)},
        {"name": "copy_source.jpg", "image": copy_source},
        {"name": "copy.jpg", "image": copy_source},
        {"name": "leak_source.jpg", "image": leak_source},
        {"name": "resized_source.jpg", "image": resized_source},
        {"name": "near_source.jpg", "image": near_source},
        {"name": "near.jpg", "image": jpeg_bytes(near_source.resize((160, 120)), quality=60)},
        {"name": "truncated.jpg", "image": truncated_jpeg(6)},
        {"name": "text.jpg", "image": b"this is not an image\n"},
        {"name": "alpha.png", "image": alpha_png()},
        {"name": "cmyk.jpg", "image": jpeg_bytes(noise(7).convert("CMYK"))},
        {"name": "deep.png", "image": sixteen_bit_png()},
        {"name": "tiny.png", "image": noise(8, 6, 5)},
        {"name": "wrong_size.jpg", "image": noise(9), "size": [100, 100]},
        # stored 160x80, shown 80x160; the box (x up to 150) only fits the stored pixels
        {"name": "rot6.jpg", "image": rotated_jpeg(13, 6), "size": [80, 160], "box": [100, 10, 50, 20]},
        {"name": "rot8.jpg", "image": rotated_jpeg(14, 8), "size": [80, 160], "box": [10, 100, 20, 50]},
        {"name": "similar_1.jpg", "image": scene(40, 1)},
        {"name": "similar_2.jpg", "image": scene(40, 2)},
    ]
    val = [
        {"name": "val_clean.jpg", "image": noise(10)},
        {"name": "leak.jpg", "image": leak_source},
        {"name": "resized.jpg", "image": jpeg_bytes(resized_source.resize((200, 150)), quality=70)},
        {"name": "similar_3.jpg", "image": scene(40, 3)},
    ]
    return write_coco(root, {"train": train, "val": val})


def clean_dataset(root: Path) -> Path:
    return write_coco(root, {
        "train": [{"name": f"t{i}.jpg", "image": noise(100 + i)} for i in range(4)]
        + [{"name": "s1.jpg", "image": scene(50, 1)}, {"name": "s2.jpg", "image": scene(50, 2)}],
        "val": [{"name": f"v{i}.jpg", "image": noise(200 + i)} for i in range(3)]
        + [{"name": "s3.jpg", "image": scene(50, 3)}],
    })


def findings(path: Path, level: str, use_cache: bool = True, **request) -> list[dict]:
    text, _ = run_check(CheckRequest(paths=[path], images=level, output_format="json", use_cache=use_cache,
                                     **request))
    return orjson.loads(text)["findings"]


def by_code(found: list[dict], codes=IMAGE_CODES) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for finding in found:
        if finding["code"] in codes:
            out.setdefault(finding["code"], set()).add(finding["image"])
    return out


# -------------------------------------------------------------------------------- the rules


EXPECTED_HEADER = {
    "I002": {"images/train/text.jpg"},
    "I003": {"images/train/wrong_size.jpg"},
    "I004": {"images/train/rot6.jpg", "images/train/rot8.jpg"},
    "I008": {"images/train/alpha.png", "images/train/cmyk.jpg", "images/train/deep.png"},
    "I009": {"images/train/tiny.png"},
}
EXPECTED_DECODE = {
    **EXPECTED_HEADER,
    "I002": {"images/train/text.jpg", "images/train/truncated.jpg"},
    "I007": {"images/train/copy.jpg"},
    "I010": {"images/train/near.jpg"},
    "S001": {"images/val/leak.jpg"},
    "S002": {"images/val/resized.jpg"},
}


@pytest.fixture(scope="module")
def defects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return defect_dataset(tmp_path_factory.mktemp("defects"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_dataset(tmp_path_factory.mktemp("clean"))


def test_no_image_codes_without_image_access(defects: Path) -> None:
    assert by_code(findings(defects, "none")) == {}


def test_header_level_codes_fire_on_their_images(defects: Path) -> None:
    assert by_code(findings(defects, "header")) == EXPECTED_HEADER


def test_decode_level_codes_fire_on_their_images(defects: Path) -> None:
    assert by_code(findings(defects, "decode")) == EXPECTED_DECODE


@pytest.mark.parametrize("level", LEVELS)
def test_clean_dataset_is_silent(clean: Path, level: str) -> None:
    found = findings(clean, level)
    assert [f for f in found if f["severity"] in ("warning", "error")] == []
    assert by_code(found) == {}


def test_findings_name_the_declaring_file_and_pointer(defects: Path) -> None:
    found = {f["code"] + f["image"]: f for f in findings(defects, "decode")}
    size = found["I003images/train/wrong_size.jpg"]
    assert size["file"] == "annotations/instances_train.json"
    assert size["pointer"] == "/images/13/width"
    assert "declared size 100x100" in size["message"] and "160x120" in size["message"]
    assert size["fix"]["applicability"] == "safe"
    truncated = found["I002images/train/truncated.jpg"]
    assert "truncated" in truncated["message"]
    assert "not an image" in found["I002images/train/text.jpg"]["message"]
    assert "'images/train/copy_source.jpg'" in found["I007images/train/copy.jpg"]["message"]
    assert "'images/train/leak_source.jpg' in split 'train'" in found["S001images/val/leak.jpg"]["message"]


def test_exif_rotation_says_which_size_the_boxes_fit(defects: Path) -> None:
    found = {f["image"]: f for f in findings(defects, "header") if f["code"] == "I004"}
    message = found["images/train/rot6.jpg"]["message"]
    assert "orientation 6" in message and "show 80x160" in message and "stored pixels are 160x80" in message
    assert "fit the stored size" in message


def test_exif_rotated_size_matches_when_declared_as_displayed(defects: Path) -> None:
    """rot6/rot8 declare the displayed size: no I003 although the stored pixels are 160x80."""
    found = findings(defects, "header")
    assert not [f for f in found if f["code"] == "I003" and "rot" in f["image"]]


def test_truncated_jpeg_fails_even_if_the_caller_allows_truncation(defects: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    record = images_module.probe_file(str(defects / "images/train/truncated.jpg"), True, Boundary(defects))
    assert record[6] is None  # probe_file alone honours the caller's setting...
    found = by_code(findings(defects, "decode", use_cache=False))
    assert "images/train/truncated.jpg" in found["I002"]  # ...the decode run never does
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_header_level_never_decodes_pixels(defects: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"pixels decoded at header level: {self.filename}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    found = by_code(findings(defects, "header", use_cache=False))
    assert found == EXPECTED_HEADER


def test_png_with_exif_after_pixels_is_not_decoded_for_its_header(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "late_exif.png"
    noise(12).save(path, "PNG", exif=exif_with_orientation(6))
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    assert header_size(path) is not None


def test_min_image_size_option(defects: Path, tmp_path: Path) -> None:
    config = tmp_path / "detlint.toml"
    config.write_text("min-image-size = 200\n")
    found = by_code(findings(defects, "header", config_file=config))
    assert "images/train/clean.jpg" in found["I009"]


def test_yolo_skips_size_mismatch_and_reads_sizes_after_exif(tmp_path: Path) -> None:
    """A YOLO box lands where a viewer shows it on an EXIF-rotated JPEG (orientation 6)."""
    root = tmp_path / "yolo"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: ['thing']\n")
    # The viewer's (displayed) image is 60 wide x 100 high, with a red square at x 10..30, y 50..80.
    displayed = Image.new("RGB", (60, 100), (20, 20, 20))
    ImageDraw.Draw(displayed).rectangle([10, 50, 29, 79], fill=(255, 0, 0))
    # Orientation 6 means "rotate 90 degrees clockwise to display": store the inverse rotation.
    stored = displayed.transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (100, 60)
    path = root / "images" / "train" / "photo.jpg"
    path.write_bytes(jpeg_bytes(stored, quality=95, exif=exif_with_orientation(6)))
    (root / "labels" / "train" / "photo.txt").write_text("0 0.333333 0.65 0.333333 0.3\n")

    ds = detlint.load(root)
    row = list(ds.images.path).index("images/train/photo.jpg")
    assert (ds.images.width[row], ds.images.height[row]) == (60, 100)
    box = ds.annotations.boxes[0]
    np.testing.assert_allclose(box, [10, 50, 30, 80], atol=0.01)
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    inside = shown[y1 + 2:y2 - 2, x1 + 2:x2 - 2]
    assert inside[..., 0].min() > 200 and inside[..., 1].max() < 60  # red where the box is
    found = findings(root, "decode")
    assert not [f for f in found if f["code"] in ("I003", "B002")]
    rotation = [f for f in found if f["code"] == "I004"]
    assert len(rotation) == 1 and "displayed size" in rotation[0]["message"]


# ----------------------------------------------------------------------------- near duplicates


def test_perceptual_hash_keeps_copies_close_and_similar_scenes_apart() -> None:
    def distance(a: Image.Image, b: Image.Image) -> int:
        ha, hb = perceptual_hash(decoded(a)), perceptual_hash(decoded(b))
        return int(popcount64(np.array([ha ^ hb], dtype=np.uint64))[0])

    def decoded(im: Image.Image, quality: int = 90) -> Image.Image:
        return Image.open(io.BytesIO(jpeg_bytes(im, quality)))

    limit = 6
    for seed in range(12):
        photo = scene(seed % 4, 1000 + seed, 640, 480)
        assert distance(photo, photo.resize((320, 240))) <= limit
        assert distance(photo, decoded(photo, 50)) <= limit
        assert distance(photo, photo.crop((6, 5, 634, 475))) <= limit
        other = scene(seed % 4, 2000 + seed, 640, 480)  # same background, different objects
        assert distance(photo, other) > limit


def test_flat_images_have_no_perceptual_hash() -> None:
    assert perceptual_hash(Image.new("RGB", (50, 40), (10, 200, 30))) is None
    assert perceptual_hash(Image.new("L", (50, 40), 7)) is None


@pytest.mark.parametrize("n", [50, 5000])
def test_hash_pairs_matches_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
    flips = rng.integers(0, 64, (n // 5, 3))
    near = values[: n // 5].copy()
    for k, bits in enumerate(flips):
        for bit in bits[: k % 4]:
            near[k] ^= np.uint64(1) << np.uint64(int(bit))
    values = np.unique(np.concatenate([values, near]))
    for distance in (0, 3, 6):
        a, b = hash_pairs(values, distance)
        expected = set()
        for i in range(len(values)):
            d = popcount64(values[i] ^ values[i + 1:])
            expected |= {(i, i + 1 + int(j)) for j in np.flatnonzero(d <= distance)}
        assert set(zip(a.tolist(), b.tolist())) == expected
        if distance == 6:
            assert len(expected) >= n // 10  # the planted near copies are there to be found


def test_exact_copies_are_not_reported_again_as_near_copies(tmp_path: Path) -> None:
    photo = jpeg_bytes(noise(60, 320, 240))
    root = write_coco(tmp_path / "copies", {
        "train": [{"name": "a.jpg", "image": photo}, {"name": "b.jpg", "image": photo}],
        "val": [{"name": "c.jpg", "image": photo}],
    })
    found = by_code(findings(root, "decode"))
    assert found == {"I007": {"images/train/b.jpg"}, "S001": {"images/val/c.jpg"}}


# ---------------------------------------------------------------------------------- the cache


def count_probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = images_module.probe_file

    def counting(path: str, decode: bool, boundary) -> list:
        opened.append(path)
        return real(path, decode, boundary)

    monkeypatch.setattr(images_module, "probe_file", counting)
    return opened


def test_second_run_hits_the_cache_and_rechecks_changed_files(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = clean_dataset(tmp_path / "cached")
    opened = count_probes(monkeypatch)
    first = findings(root, "decode")
    assert len(opened) == 10
    opened.clear()
    assert findings(root, "decode") == first
    assert opened == []
    assert findings(root, "header") == findings(root, "header")  # a decode entry answers header too
    assert opened == []
    changed = root / "images" / "train" / "t0.jpg"
    changed.write_bytes(truncated_jpeg(0))
    found = by_code(findings(root, "decode"))
    assert [Path(p).name for p in opened] == ["t0.jpg"]
    assert found["I002"] == {"images/train/t0.jpg"}


def test_no_cache_neither_reads_nor_writes(tmp_path: Path, isolated_cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    root = clean_dataset(tmp_path / "nocache")
    opened = count_probes(monkeypatch)
    findings(root, "decode", use_cache=False)
    findings(root, "decode", use_cache=False)
    assert len(opened) == 20
    assert not any(isolated_cache.iterdir())


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"[1, 2, 3]", b'{"version": 1}',
                                     None])
def test_corrupt_cache_does_not_fail_a_check(tmp_path: Path, garbage: bytes | None) -> None:
    root = clean_dataset(tmp_path / "corrupt")
    expected = findings(root, "decode", use_cache=False)
    findings(root, "decode")
    cache_file = ImageCache.open().file_for(os.path.abspath(root))
    assert cache_file is not None and cache_file.is_file()
    if garbage is None:  # well-formed JSON, nonsense entries
        data = orjson.loads(cache_file.read_bytes())
        data["entries"] = {path: ["x", None, 2, "w", [], {}, 3] for path in data["entries"]}
        garbage = orjson.dumps(data)
    cache_file.write_bytes(garbage)
    assert findings(root, "decode") == expected
    assert findings(root, "decode") == expected  # and the rewritten cache is good again


@pytest.mark.skipif(sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="needs POSIX permissions that apply to the test user")
def test_read_only_cache_location_does_not_fail_a_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(locked / "detlint"))
    root = clean_dataset(tmp_path / "readonly")
    try:
        assert by_code(findings(root, "decode")) == {}
    finally:
        locked.chmod(stat.S_IRWXU)


@pytest.mark.parametrize("failure", ["parent is a file", "rename refused"])
def test_unwritable_cache_does_not_fail_a_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                failure: str) -> None:
    if failure == "parent is a file":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the cache folder should be")
        monkeypatch.setenv("DETLINT_CACHE_DIR", str(blocker / "detlint"))
    else:
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Read-only file system")

        monkeypatch.setattr(os, "replace", refuse)
    root = clean_dataset(tmp_path / "unwritable")
    assert by_code(findings(root, "decode")) == {}
    assert by_code(findings(root, "header")) == {}


def test_cache_dir_follows_the_platform_convention(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DETLINT_CACHE_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert images_module.cache_dir() == tmp_path / "xdg" / "detlint"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert images_module.cache_dir() == Path.home() / ".cache" / "detlint"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert images_module.cache_dir() == Path.home() / "Library" / "Caches" / "detlint"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert images_module.cache_dir() == tmp_path / "local" / "detlint" / "Cache"
    monkeypatch.setenv("DETLINT_CACHE_DIR", str(tmp_path / "mine"))
    assert images_module.cache_dir() == tmp_path / "mine"


# ------------------------------------------------------------------------- report and pools


def test_report_is_computed_once_per_dataset(defects: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = detlint.load(defects)
    opened = count_probes(monkeypatch)
    memo: dict = {}  # one run's memo for ds (RuleContext.memo_for)
    report = image_report(ds, "decode", memo=memo)
    assert len(opened) == len(set(ds.images.path.tolist()))
    assert image_report(ds, "decode", memo=memo) is report
    assert image_report(ds, "header", memo=memo) is report  # decode answers header
    assert len(opened) == len(set(ds.images.path.tolist()))
    assert image_report(ds, "decode") is not report  # another run computes its own
    row = list(ds.images.path).index("images/train/rot6.jpg")
    assert (report.stored_width[row], report.stored_height[row]) == (160, 80)
    assert (report.real_width[row], report.real_height[row]) == (80, 160)
    assert report.orientation[row] == 6


def test_process_pool_matches_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_coco(tmp_path / "many", {"train": [{"name": f"{i}.jpg", "image": noise(300 + i, 48, 32)}
                                                    for i in range(40)]})
    ds_pool, ds_local = detlint.load(root), detlint.load(root)
    pooled = image_report(ds_pool, "decode")
    monkeypatch.setattr(images_module, "_SMALL_INPUT", 10**9)
    local = image_report(ds_local, "decode")
    assert pooled.sha.tolist() == local.sha.tolist()
    assert pooled.phash.tolist() == local.phash.tolist()
    assert pooled.has_phash.all()


def test_header_thread_pool_matches_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"name": f"{i}.jpg", "image": noise(400 + i, 40 + i, 30)} for i in range(300)]
    entries[7] = {"name": "7.jpg", "image": b"not an image"}
    root = write_coco(tmp_path / "headers", {"train": entries})
    local = image_report(detlint.load(root), "header")
    monkeypatch.setattr(images_module.fileio, "IO_BOUND_SECONDS", 0.0)  # as if storage were slow
    threaded = image_report(detlint.load(root), "header")
    for column in ("stored_width", "stored_height", "orientation", "mode", "header_error"):
        assert getattr(threaded, column).tolist() == getattr(local, column).tolist()
    assert threaded.header_error[7] == "not an image Pillow can identify"
