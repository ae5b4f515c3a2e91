"""Counting what a run produced, in a short process of its own (``run.py --count KIND PATH``):
the parent stays small because a child's ``ru_maxrss`` starts at the parent's high-water RSS
(``subprocess`` starts children with vfork, and exec keeps the old memory map's peak), so a parent
that once parsed a big report would inflate every later child's peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path


def _count_detlint(path: Path) -> dict:
    import orjson

    doc = orjson.loads(path.read_bytes())
    codes = Counter(f["code"] for f in doc["findings"])
    sets = doc.get("datasets") or [{}]
    return {"findings": sum(codes.values()), "by_code": dict(sorted(codes.items())),
            "images": sum(d.get("images", 0) for d in sets), "boxes": sum(d.get("annotations", 0) for d in sets)}


def _count_panlabel(path: Path) -> dict:
    text = path.read_bytes()
    start = text.find(b"{")  # the JSON report; anything before it is not ours to parse
    doc = json.loads(text[start:]) if start >= 0 else {}
    codes = Counter(issue["code"] for issue in doc.get("issues", []))
    return {"findings": sum(codes.values()), "by_code": dict(sorted(codes.items()))}


def _count_hotcoco(path: Path) -> dict:
    doc = json.loads(path.read_bytes())
    codes = Counter()
    for finding in doc.get("errors", []) + doc.get("warnings", []):
        codes[finding["code"]] += max(1, len(finding.get("affected_ids") or []))  # one finding names many ids
    summary = doc.get("summary", {})
    return {"findings": sum(codes.values()), "by_code": dict(sorted(codes.items())),
            "images": summary.get("num_images"), "boxes": summary.get("num_annotations")}


def _count_output(target: str, out: Path) -> dict:
    """Images and boxes a conversion wrote, counted the same way for every tool (not timed)."""
    images = boxes = 0
    if target == "coco":
        import orjson  # run.py --count runs in detlint's environment

        for path in out.rglob("*.json"):
            if path.name == "detlint-conversion.json":
                continue
            doc = orjson.loads(path.read_bytes())
            if isinstance(doc, dict) and "annotations" in doc:
                images += len(doc.get("images", []))
                boxes += len(doc["annotations"])
    elif target == "yolo":
        for dirpath, _, files in os.walk(out):
            for name in files:
                if name.endswith(".txt") and name not in ("classes.txt", "train.txt", "val.txt"):
                    images += 1
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        boxes += sum(1 for line in fh if line.strip())
    else:
        for dirpath, _, files in os.walk(out):
            for name in files:
                if name.endswith(".xml"):
                    images += 1
                    with open(os.path.join(dirpath, name), "rb") as fh:
                        boxes += fh.read().count(b"<object>")
    return {"images": images, "boxes": boxes}


COUNTERS = {"detlint": _count_detlint, "panlabel": _count_panlabel, "hotcoco": _count_hotcoco}


def count_main(kind: str, path: str) -> None:
    """``run.py --count KIND PATH``: one JSON line (a check report's findings, a conversion's output)."""
    if kind.startswith("output:"):
        result = _count_output(kind.removeprefix("output:"), Path(path))
    else:
        result = COUNTERS[kind](Path(path))
    sys.stdout.write(json.dumps(result) + "\n")


def count_report(kind: str, path: Path) -> dict:
    """What a report or an output folder holds, read by a short process of its own."""
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return {"findings": None}
    run_py = Path(__file__).resolve().parent.parent / "run.py"
    done = subprocess.run([sys.executable, str(run_py), "--count", kind, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return {"findings": None, "count_error": done.stderr.strip()[-200:]}
    return json.loads(done.stdout)


