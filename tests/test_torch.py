"""detlint.torch: the torchvision-style DetectionDataset and collate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from helpers import make_yolo, write_image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

import detlint  # noqa: E402
from detlint.torch import DetectionDataset, collate  # noqa: E402


@pytest.fixture
def yolo(tmp_path: Path) -> Path:
    # 64x48 images: a = two boxes, b = one box, c = no boxes (a negative)
    return make_yolo(tmp_path / "yolo", {
        "a": "0 0.25 0.5 0.25 0.5\n1 0.75 0.25 0.25 0.25\n",
        "b": "1 0.5 0.5 0.5 0.5\n",
        "c": "",
    }, ["cat", "dog"])


def sample_by_file(dataset: DetectionDataset, name: str) -> tuple:
    index = next(i for i in range(len(dataset)) if dataset.file_of(i).endswith(name))
    return dataset[index]


def test_sample_follows_the_torchvision_convention(yolo: Path) -> None:
    dataset = DetectionDataset(yolo, split="train")
    assert len(dataset) == 3
    assert dataset.num_classes == 3
    image, target = sample_by_file(dataset, "a.png")
    assert isinstance(image, tv_tensors.Image)
    assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 48, 64)
    boxes = target["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes)
    assert boxes.format == tv_tensors.BoundingBoxFormat.XYXY and tuple(boxes.canvas_size) == (48, 64)
    assert boxes.dtype == torch.float32
    torch.testing.assert_close(boxes.as_subclass(torch.Tensor),
                               torch.tensor([[8.0, 12.0, 24.0, 36.0], [40.0, 6.0, 56.0, 18.0]]))
    # category index + 1: label 0 stays the background class
    assert target["labels"].tolist() == [1, 2] and target["labels"].dtype == torch.int64
    assert isinstance(target["image_id"], int)
    torch.testing.assert_close(target["area"], torch.tensor([384.0, 192.0]))
    assert target["iscrowd"].tolist() == [0, 0]
    assert target["file"] == "images/train/a.png"


def test_float_dtype_is_scaled_to_unit_range(yolo: Path) -> None:
    image, _ = DetectionDataset(yolo, dtype="float")[0]
    assert image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0 and float(image.max()) > 0.5


def test_image_without_boxes_gives_empty_targets(yolo: Path) -> None:
    _, target = sample_by_file(DetectionDataset(yolo), "c.png")
    assert tuple(target["boxes"].shape) == (0, 4) and target["boxes"].dtype == torch.float32
    assert tuple(target["labels"].shape) == (0,) and target["labels"].dtype == torch.int64


def test_horizontal_flip_moves_the_boxes(yolo: Path) -> None:
    flipped = DetectionDataset(yolo, transforms=v2.RandomHorizontalFlip(p=1.0))
    plain = DetectionDataset(yolo)
    image, target = sample_by_file(flipped, "a.png")
    original_image, original = sample_by_file(plain, "a.png")
    torch.testing.assert_close(image.as_subclass(torch.Tensor), original_image.flip(-1).as_subclass(torch.Tensor))
    before = original["boxes"].as_subclass(torch.Tensor)
    expected = torch.stack([64 - before[:, 2], before[:, 1], 64 - before[:, 0], before[:, 3]], dim=1)
    torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor), expected)
    assert target["labels"].tolist() == original["labels"].tolist()


def test_resize_scales_boxes_with_the_image(yolo: Path) -> None:
    dataset = DetectionDataset(yolo, transforms=v2.Compose([v2.Resize((96, 128)),
                                                            v2.ToDtype(torch.float32, scale=True)]))
    image, target = sample_by_file(dataset, "a.png")
    assert tuple(image.shape) == (3, 96, 128) and image.dtype == torch.float32
    assert tuple(target["boxes"].canvas_size) == (96, 128)
    torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor)[0], torch.tensor([16.0, 24.0, 48.0, 72.0]))


def test_dataloader_with_workers_and_collate(yolo: Path) -> None:
    dataset = DetectionDataset(yolo, dtype="float")
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert [len(images) for images, _ in batches] == [2, 1]
    images, targets = batches[0]
    assert isinstance(images, list) and isinstance(targets, list)
    assert sum(int(t["boxes"].shape[0]) for _, ts in batches for t in ts) == 3


def test_collate_names_the_malformed_sample(yolo: Path) -> None:
    good = DetectionDataset(yolo)[0]
    image, target = good
    with pytest.raises(ValueError, match=r"sample 1: expected an \(image, target\) pair"):
        collate([good, image])
    bad_boxes = dict(target, boxes=torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"sample 1 \(images/train/a.png\): boxes must be a \(N, 4\) tensor"):
        collate([good, (image, bad_boxes)])
    bad_labels = dict(target, labels=torch.zeros(7, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"sample 0 \(images/train/a.png\): labels must be a \(2,\) tensor"):
        collate([(image, bad_labels)])
    with pytest.raises(ValueError, match="target must be a dict"):
        collate([(image, [1, 2])])


def test_normalised_rows_take_the_decoded_image_size(yolo: Path) -> None:
    ds = detlint.load(yolo, probe_images=False)
    assert ds.annotations.normalized.all()
    _, target = sample_by_file(DetectionDataset(ds), "a.png")
    torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor)[0], torch.tensor([8.0, 12.0, 24.0, 36.0]))
    torch.testing.assert_close(target["area"][0], torch.tensor(384.0))
    # _load_target alone reads the size from the image header
    dataset = DetectionDataset(ds)
    assert tuple(dataset._load_target(0)["boxes"].canvas_size) == tuple(dataset._load_image(0).shape[-2:])


def test_exif_rotation_and_mode_are_normalised(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "exif", {"r": "0 0.5 0.25 0.5 0.5\n", "g": "0 0.5 0.5 0.5 0.5\n"}, ["x"])
    # stored 64x48 with orientation 6 (rotate 90): displayed 48x64, as the labels were drawn
    write_image(root / "images/train/r.png", (64, 48), orientation=6)
    write_image(root / "images/train/g.png", (64, 48), mode="LA")
    dataset = DetectionDataset(root)
    image, target = sample_by_file(dataset, "r.png")
    assert tuple(image.shape) == (3, 64, 48)
    assert tuple(target["boxes"].canvas_size) == (64, 48)
    torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor)[0], torch.tensor([12.0, 0.0, 36.0, 32.0]))
    gray, _ = sample_by_file(dataset, "g.png")
    assert gray.shape[0] == 3


def test_only_trainable_annotations_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    write_image(root / "images" / "one.png", (64, 48))
    coco = {
        "images": [{"id": 1, "file_name": "one.png", "width": 64, "height": 48}],
        "categories": [{"id": 7, "name": "cat"}, {"id": 9, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [2, 3, 10, 20], "area": 150.0, "iscrowd": 1},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [1, 1, 4, 4]},
            {"id": 3, "image_id": 1, "category_id": 99, "bbox": [1, 1, 4, 4]},
        ],
    }
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances.json").write_text(json.dumps(coco))
    dataset = DetectionDataset(root / "annotations" / "instances.json", label_offset=0)
    assert len(dataset) == 1 and dataset.num_classes == 2
    _, target = dataset[0]
    assert target["labels"].tolist() == [1, 0]
    torch.testing.assert_close(target["boxes"].as_subclass(torch.Tensor)[0], torch.tensor([2.0, 3.0, 12.0, 23.0]))
    torch.testing.assert_close(target["area"], torch.tensor([150.0, 16.0]))  # source area, else box area
    assert target["iscrowd"].tolist() == [1, 0]


def test_classes_name_the_labels(yolo: Path) -> None:
    dataset = DetectionDataset(yolo)
    assert dataset.classes == ["cat", "dog"]
    _, target = sample_by_file(dataset, "a.png")
    assert [dataset.classes[label - 1] for label in target["labels"].tolist()] == ["cat", "dog"]
    shifted = DetectionDataset(yolo, label_offset=0)
    _, target = sample_by_file(shifted, "a.png")
    assert [shifted.classes[label] for label in target["labels"].tolist()] == ["cat", "dog"]


def unsplit_yolo(root: Path) -> Path:
    """images/ + labels/ + classes.txt: no data.yaml, no splits."""
    for stem, text in {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.5 0.5 0.4 0.4\n"}.items():
        write_image(root / "images" / f"{stem}.png", (64, 48))
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"{stem}.txt").write_text(text)
    (root / "classes.txt").write_text("cat\ndog\n")
    return root


def test_an_unsplit_dataset_trains_on_every_image_by_default(tmp_path: Path) -> None:
    root = unsplit_yolo(tmp_path / "flat")
    assert detlint.load(root).splits == [""]
    assert len(DetectionDataset(root)) == 2
    assert len(DetectionDataset(root, split="train")) == 2  # as the README writes it
    assert len(DetectionDataset(root, split=None)) == 2
    with pytest.raises(ValueError, match=r"no split 'val': .* has no splits; leave split out \(or None\) to take all 2 images"):
        DetectionDataset(root, split="val")


def test_the_default_split_is_train_where_there_are_splits(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "split", {"a": "0 0.5 0.5 0.2 0.2\n", "b": ""}, ["cat"])
    make_yolo(root, {"v": "0 0.5 0.5 0.2 0.2\n"}, ["cat"], split="val")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [cat]\n")
    assert len(DetectionDataset(root)) == 2 and len(DetectionDataset(root, split="val")) == 1
    assert len(DetectionDataset(root, split=None)) == 3
    with pytest.raises(ValueError, match=r"no split 'test' in .* \(splits: 'train', 'val'\)"):
        DetectionDataset(root, split="test")
    only_val = make_yolo(tmp_path / "val_only", {"v": "0 0.5 0.5 0.2 0.2\n", "w": ""}, ["cat"], split="val")
    assert len(DetectionDataset(only_val)) == 2  # no train split: the default takes every image
    with pytest.raises(ValueError, match=r"no split 'train' in .* \(splits: 'val'\)"):
        DetectionDataset(only_val, split="train")


def test_unknown_class_rows_of_the_chosen_images_are_listed(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "unknown", {"a": "0 0.5 0.5 0.2 0.2\n4 0.5 0.5 0.2 0.2\n", "b": "3 0.5 0.5 0.2 0.2\n"},
                     ["cat"])
    dataset = DetectionDataset(root)
    ann = dataset.ds.annotations
    assert sorted(ann.class_id[dataset.unknown_class_rows].tolist()) == [3, 4]
    assert sum(len(dataset[i][1]["labels"]) for i in range(len(dataset))) == 1


def test_unknown_split_and_dtype_are_rejected(yolo: Path) -> None:
    with pytest.raises(ValueError, match="no split 'nope'"):
        DetectionDataset(yolo, split="nope")
    with pytest.raises(ValueError, match="dtype must be one of"):
        DetectionDataset(yolo, dtype="half")


def test_detlint_works_without_torch(yolo: Path) -> None:
    code = f"""
import sys
sys.modules['torch'] = None
sys.modules['torchvision'] = None
import detlint
from click.testing import CliRunner
from detlint.cli import main
ds = detlint.load({str(yolo)!r})
try:
    import detlint.torch
except ImportError as error:
    print('IMPORT-ERROR', error)
runner = CliRunner()
check = runner.invoke(main, ['check', {str(yolo)!r}])
print('CHECK', check.exit_code)
smoke = runner.invoke(main, ['smoke', {str(yolo)!r}])
print('SMOKE', smoke.exit_code, smoke.output.strip().splitlines()[-1] if smoke.output.strip() else '')
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "IMPORT-ERROR" in result.stdout and "pip install 'detlint[torch]'" in result.stdout
    assert "CHECK 0" in result.stdout
    assert "SMOKE 2" in result.stdout and "pip install 'detlint[torch]'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
