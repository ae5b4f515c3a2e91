"""What is measured: tasks, the dataset layout each reads, the tools that can do it."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # benchmarks/
REPO = HERE.parent
OUT = HERE / "out"
RESULTS = HERE / "results"
PEERS_VENV = HERE / ".venv-peers"
PEER_PACKAGES = ("orjson", "pycocotools", "globox", "supervision", "datumaro", "panlabel==0.7.0", "hotcoco==1.3.0")
# generated scales (benchmarks/generate.py), and "worst": the worst cases of issue 21 item 3
SCALES = {"10k": 10_000, "full": 118_287, "worst": 10_000}
FORMATS = ("coco", "coco_poly", "voc", "yolo")
OPEN_IMAGES = {"images": 1_900_000, "boxes": 16_000_000}
DENSE_BOXES = 100_000  # one image holding every box (bench_dense.py's data, variant "overlap")
DENSE_VOC_BOXES = 50_000
PREDICTIONS_PER_IMAGE = 100  # the "worst" scale's coco_preds: 10k images x 100 = 1M boxes

_COCO_PEERS = ("detlint", "orjson", "pycocotools", "hotcoco", "globox", "supervision", "datumaro")
_CONVERT_PEERS = ("detlint", "panlabel", "hotcoco", "globox", "supervision", "datumaro")

# task -> (dataset layout it reads, tools in display order, scales it runs at)
TASKS: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    "version": (None, ("detlint",), ("10k", "full")),
    "load_coco": ("coco", _COCO_PEERS, ("10k", "full")),
    "load_coco_poly": ("coco_poly", _COCO_PEERS, ("10k", "full")),
    "load_voc": ("voc", ("detlint", "globox", "supervision", "datumaro"), ("10k", "full")),
    "load_yolo": ("yolo", ("detlint", "globox", "supervision", "datumaro"), ("10k", "full")),
    "check_coco": ("coco", ("detlint", "panlabel", "hotcoco"), ("10k", "full")),
    "check_coco_poly": ("coco_poly", ("detlint", "panlabel", "hotcoco"), ("10k", "full")),
    "check_voc": ("voc", ("detlint", "panlabel"), ("10k", "full")),
    "check_yolo": ("yolo", ("detlint", "panlabel"), ("10k", "full")),
    "check_voc_warm": ("voc", ("detlint",), ("10k", "full")),
    "check_yolo_warm": ("yolo", ("detlint",), ("10k", "full")),
    "coco2yolo": ("coco", _CONVERT_PEERS, ("10k", "full")),
    "yolo2coco": ("yolo", _CONVERT_PEERS, ("10k", "full")),
    "coco2voc": ("coco", _CONVERT_PEERS, ("10k", "full")),
    # polygons as YOLO segmentation rows (detlint convert --geometry mask): no peer writes them
    "cocopoly2yoloseg": ("coco_poly", ("detlint",), ("10k", "full")),
    "check_dense_coco": ("dense_coco", ("detlint", "panlabel", "hotcoco"), ("worst",)),
    "check_dense_yolo": ("dense_yolo", ("detlint", "panlabel"), ("worst",)),
    "check_dense_voc": ("dense_voc", ("detlint", "panlabel"), ("worst",)),
    "check_coco_preds": ("coco_preds", ("detlint", "orjson", "pycocotools", "panlabel", "hotcoco"), ("worst",)),
}
TARGET_OF = {"coco2yolo": "yolo", "yolo2coco": "coco", "coco2voc": "voc", "cocopoly2yoloseg": "yolo"}
CONVERT_ARGS = {"cocopoly2yoloseg": ("--geometry", "mask")}  # detlint convert flags beyond --to
FLOOR_TOOLS = ("orjson",)  # a lower bound, not a tool a user would pick instead
CLI_TOOLS = ("panlabel",)  # run as their own process (no Python wrapper); hotcoco's CLI for check/convert

TASK_TITLES = {
    "version": "detlint --version",
    "load_coco": "Load COCO (box-only)", "load_coco_poly": "Load COCO (polygons)",
    "load_voc": "Load VOC folder", "load_yolo": "Load YOLO folder (+ image header sizes)",
    "check_coco": "Check COCO (detlint check --images none / panlabel validate / hotcoco healthcheck)",
    "check_coco_poly": "Check COCO polygons", "check_voc": "Check VOC folder", "check_yolo": "Check YOLO folder",
    "check_voc_warm": "detlint check --images none, VOC, re-check (parse cache warm)",
    "check_yolo_warm": "detlint check --images none, YOLO, re-check (parse cache warm)",
    "coco2yolo": "Convert COCO -> YOLO", "yolo2coco": "Convert YOLO -> COCO", "coco2voc": "Convert COCO -> VOC",
    "cocopoly2yoloseg": "Convert COCO polygons -> YOLO segmentation rows (--geometry mask)",
    "check_dense_coco": f"Check one image with {DENSE_BOXES:,} boxes, COCO",
    "check_dense_yolo": f"Check one image with {DENSE_BOXES:,} boxes, YOLO",
    "check_dense_voc": f"Check one image with {DENSE_VOC_BOXES:,} objects, VOC",
    "check_coco_preds": f"Check COCO, {PREDICTIONS_PER_IMAGE} predictions-like boxes per image (orjson, pycocotools: load)",
}


def tasks_for(scale: str, names: list[str] | None) -> list[str]:
    return [t for t, (_, _, scales) in TASKS.items() if scale in scales and (not names or t in names)]


def coco_json(root: Path) -> Path:
    """The one annotation file of a COCO layout (generate.py and bench_dense.py name it differently)."""
    found = sorted((root / "annotations").glob("*.json"))
    return found[0] if found else root / "annotations" / "instances_train.json"
