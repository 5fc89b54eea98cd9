import json
import pickle
import tarfile

import numpy as np
import pytest

from spaces.torch_code import SEED_NETWORK
from tools import count_flops
from tools.train_on_gpu import tool, train_on_gpu
from training import datasets

TINY = {"epochs": 1, "train_subset": 256, "eval_subset": 128}


@pytest.mark.slow
def test_tiny_real_training_of_the_seed_network(tmp_path):
    """A real (few batches) training on the offline MNIST digits, through the registered tool."""
    args = {"arch": SEED_NETWORK, "dataset": "mnist", "workdir": str(tmp_path / "sandbox"),
            "data_dir": str(tmp_path / "data"), "training": TINY}
    report = tool.invoke(args)
    assert report["failure"] is None, report["detail"]
    assert 0 <= report["val_acc"] <= 100 and 0 <= report["test_acc"] <= 100
    # hand count: 1x1 conv 3->1 on 32x32 = 3,072 MACs; linear 1024->10 = 10,240 MACs (biases not counted)
    assert report["flops_m"] == pytest.approx((3 * 1024 + 1024 * 10) / 1e6)
    assert report["params_m"] == pytest.approx((3 + 1 + 1024 * 10 + 10) / 1e6)
    assert report["descriptors"] == [pytest.approx(report["flops_m"]), 10 / 2]  # width 10, depth 2 layers
    assert report["images_per_second"] > 0 and report["device"] == "cpu"
    # a second call (a resumed run, a duplicate) reuses the saved report: same numbers, no training
    again = train_on_gpu(**args)
    assert again == report


def test_refused_code_is_a_typed_result_without_a_child(tmp_path):
    report = train_on_gpu("import os\n" + SEED_NETWORK, "mnist", workdir=str(tmp_path))
    assert report["failure"] == "import_refused" and "os" in report["detail"]
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_count_flops_accepts_code():
    counted = count_flops.tool.invoke({"arch": SEED_NETWORK})
    assert counted["macs"] == 3 * 1024 + 1024 * 10 and counted["flops"] == 2 * counted["macs"]


def fabricated_cifar(folder, per_batch=20):
    """Files in the CIFAR-10 python format: pickled dicts with b'data' (N x 3072 uint8, CHW
    order) and b'labels'."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)], b"batch_label": name.encode()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"cat"] * 10}))
    return names


def test_cifar10_reader_on_a_fabricated_archive(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    names = fabricated_cifar(folder)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in names:
            tar.add(folder / name, arcname=f"cifar-10-batches-py/{name}")
    first = pickle.loads((folder / "data_batch_1").read_bytes())
    for source in (archive, folder, tmp_path):
        (x, y), (x_test, y_test) = datasets.read_cifar10(source)
        assert x.shape == (100, 3, 32, 32) and x.dtype == np.uint8 and x_test.shape == (20, 3, 32, 32)
        assert np.array_equal(x[0].reshape(-1), first[b"data"][0]) and y[0] == first[b"labels"][0]


def test_cifar10_from_the_environment_variable(tmp_path, monkeypatch):
    fabricated_cifar(tmp_path / "cifar" / "cifar-10-batches-py", per_batch=1100)
    monkeypatch.setenv(datasets.ENV, str(tmp_path / "cifar"))
    assert datasets.default(None) == "cifar10"
    with np.load(datasets.materialise("cifar10", tmp_path / "cache")) as arrays:
        assert arrays["x_train"].shape == (500, 3, 32, 32) and arrays["x_val"].shape == (5000, 3, 32, 32)
        assert arrays["x_test"].shape == (1100, 3, 32, 32) and arrays["mean"].shape == (3,)


def test_missing_cifar10_is_one_user_error(tmp_path):
    from errors import UserError

    with pytest.raises(UserError, match="ARCHAGENTS_CIFAR10"):
        datasets.materialise("cifar10", tmp_path)


@pytest.mark.parametrize("name,sizes", [("mnist", (3500, 500, 1000)), ("digits", (1297, 200, 300))])
def test_offline_datasets_are_real_and_3x32x32(tmp_path, name, sizes):
    with np.load(datasets.materialise(name, tmp_path)) as arrays:
        got = tuple(len(arrays[f"x_{s}"]) for s in ("train", "val", "test"))
        assert got == sizes and arrays["x_train"].shape[1:] == (3, 32, 32)
        assert set(np.unique(arrays["y_train"])) == set(range(10))
        assert arrays["x_train"].max() > 200  # real strokes, not blank padding
    assert json.dumps(datasets.CLASSES)
