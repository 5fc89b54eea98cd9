import pytest

from spaces.torch_code import SEED_NETWORK
from tools import count_flops
from tools.train_on_gpu import tool, train_on_gpu

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
