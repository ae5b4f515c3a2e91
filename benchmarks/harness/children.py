"""What runs inside one measured process: one task with one tool (``run.py --child TOOL TASK ROOT
OUT``). Only the standard library is imported at module level: this runs in detlint's environment
and in ``benchmarks/.venv-peers``. Each function returns what it loaded ({"images", "boxes"});
the parent counts conversions' output files and check reports itself, after the process ended."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from harness.tasks import CONVERT_ARGS, TARGET_OF, TASKS, coco_json


def _coco_images(root: Path) -> Path:
    return root / "images" / "train"


def _child_detlint(task: str, root: Path, out: Path) -> dict:
    if task.startswith("load_"):
        import detlint.formats

        ds = detlint.formats.load(root)
        return {"images": len(ds.images), "boxes": len(ds.annotations), "problems": len(ds.problems)}
    from detlint import cli

    if task.startswith("check_"):
        report = out / "report.json"
        out.mkdir(parents=True, exist_ok=True)
        args = ["check", str(root), "--images", "none", "--output-format", "json", "-o", str(report)]
        if not task.endswith("_warm"):
            args.append("--no-cache")  # cold: parse every file
    else:
        args = ["convert", str(root), str(out / "dataset"), "--to", TARGET_OF[task], *CONVERT_ARGS.get(task, ())]
    code = 0
    try:
        with contextlib.redirect_stdout(sys.stderr):
            cli.main(args, prog_name="detlint")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    if code not in (0, 1):
        raise RuntimeError(f"detlint {' '.join(args)} exited {code}")
    return {"exit": code}


def _child_orjson(task: str, root: Path, out: Path) -> dict:
    import orjson

    data = orjson.loads(coco_json(root).read_bytes())
    return {"images": len(data["images"]), "boxes": len(data["annotations"])}


def _child_pycocotools(task: str, root: Path, out: Path) -> dict:
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(sys.stderr):  # COCO() prints its progress on stdout
        coco = COCO(str(coco_json(root)))
    return {"images": len(coco.imgs), "boxes": len(coco.anns)}


def _child_hotcoco(task: str, root: Path, out: Path) -> dict:
    from hotcoco import COCO

    with contextlib.redirect_stdout(sys.stderr):
        coco = COCO(str(coco_json(root)))
    return {"images": len(coco.get_img_ids()), "boxes": len(coco.get_ann_ids())}


def _globox_load(fmt: str, root: Path):
    from globox import AnnotationSet

    if fmt in ("coco", "coco_poly"):
        return AnnotationSet.from_coco(coco_json(root), verbose=False)
    if fmt == "voc":
        return AnnotationSet.from_pascal_voc(root / "Annotations", verbose=False)
    return AnnotationSet.from_yolo_v5(root / "labels" / "train", image_folder=root / "images" / "train",
                                      verbose=False)


def _child_globox(task: str, root: Path, out: Path) -> dict:
    fmt = TASKS[task][0]
    annotations = _globox_load(fmt, root)
    if task in TARGET_OF:
        labels = sorted({box.label for box in annotations.all_boxes})
        target = TARGET_OF[task]
        if target == "yolo":
            annotations.save_yolo_v5(out / "labels", label_to_id={name: i for i, name in enumerate(labels)},
                                     verbose=False)
        elif target == "coco":
            annotations.save_coco(out / "annotations.json", label_to_id={name: i + 1 for i, name in enumerate(labels)},
                                  auto_ids=True, verbose=False)
        else:
            annotations.save_pascal_voc(out / "Annotations", verbose=False)
        return {}
    return {"images": len(annotations), "boxes": sum(len(a.boxes) for a in annotations)}


def _supervision_load(fmt: str, root: Path):
    import supervision as sv

    if fmt in ("coco", "coco_poly"):
        return sv.DetectionDataset.from_coco(images_directory_path=str(_coco_images(root)),
                                             annotations_path=str(coco_json(root)))
    if fmt == "voc":
        return sv.DetectionDataset.from_pascal_voc(images_directory_path=str(root / "JPEGImages"),
                                                   annotations_directory_path=str(root / "Annotations"))
    return sv.DetectionDataset.from_yolo(images_directory_path=str(root / "images" / "train"),
                                         annotations_directory_path=str(root / "labels" / "train"),
                                         data_yaml_path=str(root / "data.yaml"))


def _child_supervision(task: str, root: Path, out: Path) -> dict:
    dataset = _supervision_load(TASKS[task][0], root)
    target = TARGET_OF.get(task)
    if target == "yolo":  # annotations only: images_directory_path=None writes no images
        dataset.as_yolo(annotations_directory_path=str(out / "labels"), data_yaml_path=str(out / "data.yaml"))
    elif target == "coco":
        dataset.as_coco(annotations_path=str(out / "annotations.json"))
    elif target == "voc":
        dataset.as_pascal_voc(annotations_directory_path=str(out / "Annotations"))
    if target:
        return {}
    return {"images": len(dataset), "boxes": sum(len(d) for d in dataset.annotations.values())}


DATUMARO_FORMATS = {"coco": "coco_instances", "coco_poly": "coco_instances", "voc": "voc_detection",
                    "yolo": "yolo"}


def _child_datumaro(task: str, root: Path, out: Path) -> dict:
    import datumaro as dm

    fmt = TASKS[task][0]
    dataset = dm.Dataset.import_from(str(root), DATUMARO_FORMATS[fmt])
    target = TARGET_OF.get(task)
    if target:
        dataset.export(str(out / "dataset"), DATUMARO_FORMATS[target], save_media=False)
        return {}
    kinds = {dm.AnnotationType.bbox, dm.AnnotationType.polygon, dm.AnnotationType.mask}
    # a COCO polygon becomes a Polygon and a Bbox sharing the annotation id: count ids, not shapes
    boxes = sum(len({a.id for a in item.annotations if a.type in kinds}) for item in dataset)
    return {"images": len(dataset), "boxes": boxes}


def _versions(tool: str) -> dict:
    from importlib import metadata

    names = {"detlint": ("detlint", "numpy", "orjson", "lxml"), "orjson": ("orjson",),
             "pycocotools": ("pycocotools", "numpy"), "globox": ("globox",),
             "supervision": ("supervision", "numpy", "opencv-python", "opencv-python-headless"),
             "datumaro": ("datumaro",), "hotcoco": ("hotcoco",)}[tool]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def child_main(tool: str, task: str, root: str, out: str) -> None:
    os.environ.setdefault("TQDM_DISABLE", "1")
    runner = globals()[f"_child_{tool}"]
    start = time.perf_counter()
    result = runner(task, Path(root), Path(out))
    result["op_s"] = time.perf_counter() - start
    result["versions"] = _versions(tool)
    import resource  # Linux/macOS; the benchmark runs there

    # the tool's helper processes (detlint forks one for big COCO files): wait4 reports the
    # largest process of the tree, so the parent adds theirs to this process's own peak
    result["self_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result["helpers_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    sys.stdout.write(json.dumps(result) + "\n")
