import pytest
import torch
from torch import nn

from spaces import get
from tools import count_flops
from tools.count_flops import measure


def test_hand_counted_conv_and_linear():
    # conv 3->4, 3x3, padding 1 on 8x8: 8*8*4*3*9 MACs; linear 256->10: 2560 MACs (bias not counted)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    count = measure(net, (3, 8, 8))
    assert count.macs == 8 * 8 * 4 * 3 * 9 + 256 * 10
    assert count.flops == 2 * count.macs
    assert count.params == 3 * 4 * 9 + 256 * 10 + 10


@pytest.mark.parametrize("index", [0, 1, 6111, 9930, 15624])
@pytest.mark.parametrize("dataset,classes", [("cifar10", 10), ("imagenet16", 120)])
def test_nb201_network_matches_the_benchmark_table(index, dataset, classes):
    """The PyTorch NB201 network, counted by FlopCounterMode, gives the table's FLOPs
    (conv + linear MACs, linear bias included) and params exactly."""
    space = get("nb201")
    arch = space.arch_at(index)
    counted = count_flops.tool.invoke({"arch": arch, "dataset": dataset})
    table_flops_m, table_params_m = space.cost(arch, dataset)
    assert counted["macs"] + classes == pytest.approx(table_flops_m * 1e6, abs=1)
    assert counted["params"] == pytest.approx(table_params_m * 1e6, abs=1)


def test_network_runs_forward():
    from spaces.nb201_torch import NB201Network

    out = NB201Network(get("nb201").arch_at(6111), num_classes=10)(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10)
