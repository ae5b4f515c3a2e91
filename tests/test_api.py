"""The Python API (``detlint.load``, ``detlint.check``, ``detlint.save``) and the README's example
of it, run as a user would (#15 item 19)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_yolo
from pycocotools.coco import COCO

import detlint
from detlint.errors import UsageError

REPO = Path(__file__).resolve().parent.parent


def readme_api_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Python API section has one example"
    return blocks[0]


def test_the_readme_example_runs(tmp_path: Path) -> None:
    example = readme_api_example()
    assert len([line for line in example.splitlines() if line.strip() and not line.startswith("import")]) == 3
    shutil.copytree(REPO / "fixtures" / "demo", tmp_path / "fixtures" / "demo")
    probe = example + ("\nimport json\nprint(json.dumps({'codes': sorted({f.code for f in findings}), "
                       "'losses': losses, 'annotations': len(ds.annotations)}))\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                                 "DETLINT_CACHE_DIR": str(tmp_path / "cache")}, timeout=300)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"B001", "B002", "C001", "F006"} <= set(outcome["codes"])  # the demo's planted defects
    assert outcome["losses"] and all({"what", "count"} <= set(loss) for loss in outcome["losses"])
    written = sorted((tmp_path / "demo-coco").rglob("*.json"))
    assert written
    kept = sum(len(COCO(str(path)).getAnnIds()) for path in written)  # pycocotools reads what save wrote
    lost = sum(loss["count"] for loss in outcome["losses"] if "annotation" in loss["what"])
    assert kept + lost == outcome["annotations"]


def test_check_takes_images_select_ignore_and_options(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "yolo", {"a": "0 0.5 0.5 0.01 0.5\n", "b": "0 0.5 0.5 0.5 0.5\n"}, ["cat"])
    broken = root / "images" / "train" / "b.png"
    broken.write_bytes(broken.read_bytes()[:60])  # the header is intact, the pixels are gone
    ds = detlint.load(root)
    assert "I002" not in {f.code for f in detlint.check(ds)}  # header level by default
    assert "I002" in {f.code for f in detlint.check(ds, images="decode")}
    assert {f.code for f in detlint.check(ds, select=["B"])} <= {f"B00{i}" for i in range(1, 10)}
    assert "B007" in {f.code for f in detlint.check(ds)}
    assert "B007" not in {f.code for f in detlint.check(ds, ignore=["B007"])}
    assert "B007" not in {f.code for f in detlint.check(ds, options={"max-aspect-ratio": 100})}
    with pytest.raises(UsageError, match="images='pixels'"):
        detlint.check(ds, images="pixels")


def test_check_reads_a_config_file_or_the_dataset_folder(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "yolo", {"a": "0 0.5 0.5 0.01 0.5\n"}, ["cat"])
    ds = detlint.load(root)
    assert "B007" in {f.code for f in detlint.check(ds, config=root)}  # no config file: defaults
    (root / "detlint.toml").write_text('ignore = ["B007"]\n')
    assert "B007" not in {f.code for f in detlint.check(ds, config=root)}
    assert "B007" not in {f.code for f in detlint.check(ds, config=root / "detlint.toml")}
    assert "B007" in {f.code for f in detlint.check(ds, config=root, select=["B007"], ignore=[])}
    (root / "detlint.toml").write_text('images = "sometimes"\n')
    with pytest.raises(UsageError):
        detlint.check(ds, config=root)


@pytest.mark.parametrize(("function", "words"), [
    (detlint.load, ("format", "ds.problems", "UsageError", "voc_origin")),
    (detlint.check, ('images="decode"', "select", "ignore", "options", "config")),
    (detlint.save, ("losses", "link_images", "format")),
])
def test_the_api_is_documented(function: object, words: tuple[str, ...]) -> None:
    doc = function.__doc__ or ""
    assert all(word in doc for word in words), [word for word in words if word not in doc]
