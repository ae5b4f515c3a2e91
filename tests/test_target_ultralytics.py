"""The ultralytics adapter against ultralytics itself: on a generated YOLO dataset with planted
defects, ultralytics' own ``verify_image_label`` decides per image, and detlint's prediction must
be exactly that (images dropped, duplicate rows removed, JPEGs re-saved). Ultralytics is AGPL: it
is a test dependency only (the ``test`` extra), never imported by detlint."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import detlint
from detlint.cli import main
from detlint.targets import ultralytics as adapter
from detlint.targets.base import TargetContext

if importlib.util.find_spec("ultralytics") is None:
    pytest.skip("ultralytics (test extra) is not installed", allow_module_level=True)
# ultralytics patches PIL when imported (a HEIF opener): it runs in a child process only, so the
# rest of the suite keeps PIL as it is
VERIFY = """
import json, sys
from ultralytics.data.utils import img2label_paths, verify_image_label
out = {}
for im_file, nc in json.loads(sys.stdin.read()):
    lb_file = img2label_paths([im_file])[0]
    r = verify_image_label((im_file, lb_file, "", False, nc, 0, 0, False))
    out[im_file] = [r[8] == 1, -1 if r[1] is None else len(r[1]), r[5], lb_file]
print(json.dumps(out))
"""


def verify(files: list[str], nc: int) -> dict[str, list]:
    """ultralytics' own verify_image_label per image: [dropped, labels kept, missing, label path]."""
    done = subprocess.run([sys.executable, "-c", VERIFY], input=json.dumps([[f, nc] for f in files]),
                          capture_output=True, text=True, check=True, env={**os.environ, "YOLO_OFFLINE": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])

NC = 5
BOX = "{c} 0.5 0.5 0.2 0.3"
# defect kind -> label lines (None: no label file); each kind is planted on several images
KINDS: dict[str, list[str] | None] = {
    "clean": [BOX.format(c=0), "1 0.3 0.3 0.1 0.1"],
    "at-tolerance": ["0 0.5 0.5 1.01 0.2"],
    "within-tolerance": ["2 1.004 0.5 0.2 0.2"],
    "over-tolerance": ["0 0.5 0.5 0.2 0.2", "1 1.02 0.5 0.2 0.2"],
    "pixels": ["0 320 240 50 60"],
    "small-negative": ["0 -0.005 0.5 0.2 0.2"],
    "negative": ["0 -0.02 0.5 0.2 0.2"],
    "negative-size": ["0 0.5 0.5 -0.001 0.2"],
    "class-at-nc": [BOX.format(c=NC)],
    "class-large": [BOX.format(c=0), BOX.format(c=17)],
    "class-float": ["1.5 0.5 0.5 0.2 0.2"],
    "class-negative": ["-1 0.5 0.5 0.2 0.2"],
    "four-columns": ["0 0.5 0.5 0.2"],
    "six-columns": ["0 0.5 0.5 0.2 0.2 0.9"],
    "non-numeric": ["0 0.5 abc 0.2 0.2"],
    "nan": ["0 nan 0.5 0.2 0.2"],
    "duplicate": [BOX.format(c=0), BOX.format(c=0), "1 0.2 0.2 0.1 0.1", BOX.format(c=0)],
    "duplicate-other-class": [BOX.format(c=0), BOX.format(c=1)],
    "polygon": ["3 0.1 0.1 0.4 0.1 0.4 0.5"],
    "polygon-duplicate": ["3 0.1 0.1 0.4 0.1 0.4 0.5", "3 0.1 0.1 0.4 0.1 0.4 0.5"],
    "polygon-same-box": ["3 0.1 0.1 0.4 0.1 0.4 0.5", "3 0.1 0.1 0.4 0.5 0.4 0.1"],
    "polygon-and-box": ["3 0.1 0.1 0.4 0.1 0.4 0.5", BOX.format(c=0)],
    "empty": [],
    "missing": None,
    "tiny": [BOX.format(c=0)],
    "truncated-jpeg": [BOX.format(c=2)],
    "trailing-jpeg": [BOX.format(c=2)],
}
DROPPING = {"over-tolerance", "pixels", "negative", "negative-size", "class-at-nc", "class-large", "class-float",
            "class-negative", "four-columns", "six-columns", "non-numeric", "nan", "polygon-and-box", "tiny"}


def _jpeg(size: tuple[int, int], seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def make_dataset(root: Path, per_kind: int = 8, seed: int = 7) -> dict[str, str]:
    """A YOLO dataset of ``per_kind`` images of every kind, shuffled; image name -> kind."""
    rng = random.Random(seed)
    names = [(kind, i) for kind in KINDS for i in range(per_kind)]
    rng.shuffle(names)
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\n"
                                    f"names: [{', '.join(f'c{i}' for i in range(NC))}]\n")
    kinds = {}
    for n, (kind, _) in enumerate(names):
        stem = f"im{n:04d}"
        data = _jpeg((8, 40) if kind == "tiny" else (64, 48), n)
        data = data[:-2] if kind == "truncated-jpeg" else data + b"\0\0" if kind == "trailing-jpeg" else data
        (root / "images" / "train" / f"{stem}.jpg").write_bytes(data)
        lines = KINDS[kind]
        if lines is not None:
            (root / "labels" / "train" / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines))
        kinds[f"images/train/{stem}.jpg"] = kind
    return kinds


def _ultralytics(root: Path, images: list[str]) -> dict[str, tuple[bool, int, bool]]:
    """(dropped, duplicate rows removed, re-saved) per image, as ultralytics itself says."""
    before = {image: (root / image).read_bytes() for image in images}
    rows = {}
    for image in images:
        label = root / image.replace("images/", "labels/", 1).rsplit(".", 1)[0]
        text = label.with_suffix(".txt").read_text() if label.with_suffix(".txt").exists() else ""
        rows[image] = len([ln for ln in text.splitlines() if ln.strip()])
    results = verify([str(root / image) for image in images], NC)
    return {image: (results[str(root / image)][0],
                    0 if results[str(root / image)][0] else rows[image] - results[str(root / image)][1],
                    (root / image).read_bytes() != before[image]) for image in images}


def test_predicted_drops_are_ultralytics_drops(tmp_path: Path) -> None:
    kinds = make_dataset(tmp_path)
    ds = detlint.load(tmp_path, progress=False)
    outcome = adapter.assess(ds, TargetContext(root=tmp_path, images_level="header",
                                               findings=detlint.check(ds, images="header")))
    paths = ds.images.path.tolist()
    predicted = {paths[r] for r in outcome.dropped_images}
    removed = {paths[r]: 0 for r in range(len(paths))}
    for row in outcome.dropped_boxes:
        removed[paths[int(ds.annotations.image[row])]] += 1
    resaved = {paths[r] for r in outcome.rewritten_images}
    actual = _ultralytics(tmp_path, list(kinds))
    defective = [image for image, kind in kinds.items() if kind != "clean"]
    assert len(defective) >= 200
    assert predicted == {image for image, (dropped, _, _) in actual.items() if dropped}
    # a JPEG cut before its end marker is dropped when PIL cannot decode it, else re-saved: either
    assert {kinds[i] for i in predicted} - {"truncated-jpeg"} == DROPPING
    assert {i: n for i, n in removed.items() if n} == {i: n for i, (_, n, _) in actual.items() if n}
    assert resaved == {image for image, (_, _, saved) in actual.items() if saved} != set()
    assert {kinds[i] for i, n in removed.items() if n} == {"duplicate", "polygon-duplicate"}


def test_labels_ultralytics_does_not_find_are_r010_and_lost(tmp_path: Path) -> None:
    """Labels beside the images in ``images/``: ultralytics reads ``labels/`` and finds none."""
    folder = tmp_path / "images" / "train"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(_jpeg((64, 48), 1))
    (folder / "a.txt").write_text(BOX.format(c=0) + "\n")
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [c0]\n")
    ds = detlint.load(tmp_path, progress=False)
    outcome = adapter.assess(ds, TargetContext(root=tmp_path, images_level="header"))
    dropped, kept, missing, looks = verify([str(folder / "a.jpg")], 1)[str(folder / "a.jpg")]
    assert not Path(looks).exists()
    assert list(outcome.dropped_boxes.values()) == [
        "ultralytics reads labels/train/a.txt, not images/train/a.txt: the image trains as a background"]
    assert [r.message for r in outcome.raises] == [
        "'val:' key missing. 'train' and 'val' are required in all data YAMLs."]
    assert (dropped, kept, missing) == (False, 0, 1)  # no labels, counted as missing: a background


def test_report_says_what_ultralytics_drops(tmp_path: Path) -> None:
    """The CLI's ``targets.ultralytics`` summary and consequences against ultralytics' own verdicts."""
    kinds = make_dataset(tmp_path, per_kind=1)
    ds = detlint.load(tmp_path, progress=False)
    boxes_of = dict(zip(ds.images.path.tolist(), np.bincount(ds.annotations.image, minlength=len(ds.images)).tolist()))
    result = CliRunner().invoke(main, ["check", str(tmp_path), "--target", "ultralytics",
                                       "--output-format", "json", "--no-cache"])
    report = json.loads(result.stdout)  # before ultralytics runs: it re-saves the JPEGs it can repair
    actual = _ultralytics(tmp_path, list(kinds))
    summary = report["targets"]["ultralytics"]
    dropped = sorted(image for image, (gone, _, _) in actual.items() if gone)
    assert summary["images_dropped"] == dropped and len(dropped) >= len(DROPPING)
    assert summary["boxes_dropped"] == sum(boxes_of[i] for i in dropped) + sum(n for _, n, _ in actual.values())
    assert summary["rewrites"] == sum(saved for _, _, saved in actual.values()) >= 1
    assert summary["raises"] == []
    c001 = next(f for f in report["findings"] if f["code"] == "C001")
    assert c001["consequences"]["ultralytics"].startswith("drops the whole image (")
