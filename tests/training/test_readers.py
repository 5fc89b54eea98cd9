"""The array sources of the dataset cache (training/readers.py): the offline digits, the CIFAR-10/100
python archives and a user's .npz, on fabricated files, through the cache."""

import pickle
import tarfile

import numpy as np
import pytest

from errors import UserError
from training import datasets


def fabricated_cifar(folder, per_batch=20, hundred=False):
    """Files in the CIFAR python format: pickled dicts with b'data' (N x 3072 uint8, CHW order) and
    b'labels' (CIFAR-10, five training batches and a test batch) or b'fine_labels' (CIFAR-100)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    key, names = (b"fine_labels", ["train", "test"]) if hundred else \
        (b"labels", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
    for name in names:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 key: [int(v) for v in rng.integers(0, 100 if hundred else 10, per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = ("meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]}) if hundred else \
        ("batches.meta", {b"label_names": [b"cat"] * 10})
    (folder / meta[0]).write_bytes(pickle.dumps(meta[1]))
    return names + [meta[0]]


def archive(folder, names, path):
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            tar.add(folder / name, arcname=f"{folder.name}/{name}")
    return path


def test_cifar10_reader_on_a_fabricated_archive(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    names = fabricated_cifar(folder)
    first = pickle.loads((folder / "data_batch_1").read_bytes())
    for source in (archive(folder, names, tmp_path / "cifar-10-python.tar.gz"), folder, tmp_path):
        (x, y), (x_test, y_test) = datasets.read_cifar10(source)
        assert x.shape == (100, 3, 32, 32) and x.dtype == np.uint8 and x_test.shape == (20, 3, 32, 32)
        assert np.array_equal(x[0].reshape(-1), first[b"data"][0]) and y[0] == first[b"labels"][0]


def test_cifar10_from_the_environment_variable(tmp_path, monkeypatch):
    fabricated_cifar(tmp_path / "cifar" / "cifar-10-batches-py", per_batch=1100)
    monkeypatch.setenv(datasets.ENV, str(tmp_path / "cifar"))
    assert datasets.default(None) == "cifar10"
    splits = datasets.load(datasets.materialise("cifar10", tmp_path / "cache"))
    assert {s: x.shape for s, x in splits.x.items()} == {"train": (4950, 3, 32, 32), "val": (550, 3, 32, 32),
                                                         "test": (1100, 3, 32, 32)}
    assert splits.meta["photos"] is True and splits.meta["class_names"] == ["cat"] * 10


def test_cifar100_as_the_users_data(tmp_path):
    folder = tmp_path / "cifar-100-python"
    path = archive(folder, fabricated_cifar(folder, per_batch=300, hundred=True), tmp_path / "cifar-100-python.tar.gz")
    spec = datasets.DataSpec(name="custom", path=path, val_fraction=0.01)
    splits = datasets.load(datasets.materialise(spec, tmp_path / "cache"))
    assert {s: len(x) for s, x in splits.x.items()} == {"train": 297, "val": 3, "test": 300}
    assert splits.classes == 100 and splits.meta["class_names"][:2] == ["c0", "c1"]


def test_missing_cifar10_is_one_user_error(tmp_path):
    with pytest.raises(UserError, match="ARCHAGENTS_CIFAR10"):
        datasets.materialise("cifar10", tmp_path)


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "grey"])
def test_npz_arrays_in_any_layout(tmp_path, layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    stored = {"nhwc": x.transpose(0, 2, 3, 1), "nchw": x, "grey": x[:, 0]}[layout]
    np.savez(tmp_path / "mine.npz", x=stored, y=np.arange(50) % 3)
    spec = datasets.DataSpec(name="custom", path=tmp_path / "mine.npz", image_size=16)
    splits = datasets.load(datasets.materialise(spec, tmp_path / "cache"))
    assert {s: len(v) for s, v in splits.x.items()} == {"train": 41, "val": 4, "test": 5}  # 10% of 45: 4.5 -> 4
    assert splits.x["train"].shape[1:] == (3, 16, 16) and splits.classes == 3
    first = splits.x["test"][0]
    source = x[np.where(np.all(x[:, 0] == first[0, ::2, ::2], axis=(1, 2)))[0][0]]
    assert np.array_equal(first[:, ::2, ::2], source if layout != "grey" else np.repeat(source[:1], 3, axis=0))


def test_npz_with_its_own_test_split(tmp_path):
    x = np.zeros((20, 8, 8, 3), np.uint8)
    np.savez(tmp_path / "mine.npz", x=x, y=np.arange(20) % 2, x_test=x[:6], y_test=np.arange(6) % 2)
    splits = datasets.load(datasets.materialise(datasets.DataSpec(name="custom", path=tmp_path / "mine.npz"),
                                                tmp_path / "cache"))
    assert {s: len(v) for s, v in splits.x.items()} == {"train": 18, "val": 2, "test": 6}


@pytest.mark.parametrize("arrays,message", [
    ({"images": np.zeros((4, 8, 8, 3), np.uint8)}, "needs arrays named x"),
    ({"x": np.zeros((4, 8, 8, 3), np.float32), "y": np.arange(4)}, "must be uint8"),
    ({"x": np.zeros((4, 8, 8, 3), np.uint8), "y": np.arange(3)}, "4 non-negative integer labels"),
    ({"x": np.zeros((4, 8, 8, 5), np.uint8), "y": np.arange(4)}, "channels"),
    ({"x": np.zeros((40, 8, 8, 3), np.uint8), "y": np.zeros(40, np.int64)}, "one class"),
])
def test_bad_npz_is_one_line(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UserError, match=message):
        datasets.materialise(datasets.DataSpec(name="custom", path=tmp_path / "bad.npz"), tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))


@pytest.mark.parametrize("name,sizes", [("mnist", (3500, 500, 1000)), ("digits", (1297, 200, 300))])
def test_offline_datasets_are_real_and_3x32x32(tmp_path, name, sizes):
    splits = datasets.load(datasets.materialise(name, tmp_path))
    assert tuple(len(splits.x[s]) for s in datasets.SPLITS) == sizes and splits.x["train"].shape[1:] == (3, 32, 32)
    assert set(np.unique(splits.y["train"])) == set(range(10)) and splits.meta["photos"] is False
    assert splits.x["train"].max() > 200  # real strokes, not blank padding
