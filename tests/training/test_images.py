"""ImageFolder trees (training/images.py) through the dataset cache, on tiny generated images, and
every bad tree as one UserError line with nothing left behind."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from errors import UserError
from training import datasets, images


def draw(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def tree(root: Path, classes=("cat", "dog"), per_class: int = 10, folder: str = "") -> Path:
    colours = {"cat": (250, 10, 10), "dog": (10, 250, 10), "fox": (10, 10, 250)}
    for name in classes:
        for i in range(per_class):
            draw(root / folder / name / f"{i}.{'png' if i % 2 else 'jpg'}", colours[name], (40 + i, 30))
    return root


def materialise(root: Path, tmp_path: Path, size: int = 16, **fields):
    spec = datasets.DataSpec(name="custom", path=root, image_size=size, **fields)
    return datasets.load(datasets.materialise(spec, tmp_path / "cache"))


def test_a_flat_tree_is_split_train_val_test(tmp_path):
    splits = materialise(tree(tmp_path / "pets", per_class=20), tmp_path)
    assert splits.meta["class_names"] == ["cat", "dog"] and splits.meta["photos"] is True
    assert {s: len(x) for s, x in splits.x.items()} == {"train": 32, "val": 4, "test": 4}
    assert splits.x["train"].shape[1:] == (3, 16, 16) and splits.x["train"].dtype == np.uint8
    cat = splits.x["train"][splits.y["train"] == 0][0]
    assert cat[0].mean() > 200 and cat[1].mean() < 40  # red stays red: RGB, channels first
    assert len(set(splits.y["train"][:8].tolist())) == 2  # a seeded shuffle, not sorted by class


def test_train_and_val_folders_make_validation_and_test(tmp_path):
    root = tree(tree(tmp_path / "pets", per_class=20, folder="train"), per_class=5, folder="val")
    splits = materialise(root, tmp_path, val_fraction=0.25)
    assert {s: len(x) for s, x in splits.x.items()} == {"train": 30, "val": 10, "test": 10}
    assert sorted(splits.y["test"].tolist()) == [0] * 5 + [1] * 5  # val/ is the held-out test set


def test_decoding_in_a_pool_matches_decoding_here(tmp_path, monkeypatch):
    root = tree(tmp_path / "pets", per_class=6)
    here = materialise(root, tmp_path / "a")
    monkeypatch.setattr(images, "PARALLEL_FROM", 1)
    monkeypatch.setattr(images, "CHUNK", 4)
    pooled = materialise(root, tmp_path / "b")
    assert all(np.array_equal(here.x[s], pooled.x[s]) for s in datasets.SPLITS)


@pytest.mark.parametrize("make,message", [
    (lambda root: tree(root, classes=("cat",)), "one class folder"),
    (lambda root: root.mkdir(), "is empty"),
    (lambda root: (root / "cat").mkdir(parents=True) or (root / "dog").mkdir(), "holds no images"),
    (lambda root: tree(root) and (root / "cat" / "bad.jpg").write_bytes(b"not a jpeg"), "cannot read image"),
    (lambda root: tree(root, folder="train") and tree(root, classes=("cat", "fox"), folder="val"),
     "only in train: dog; only in val: fox"),
])
def test_bad_trees_are_one_line_and_leave_nothing(tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(UserError, match=message) as caught:
        materialise(root, tmp_path)
    assert "\n" not in str(caught.value)
    assert not list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True
