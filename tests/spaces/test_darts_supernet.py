"""The DARTS supernet: an architecture inherits exactly its path's weights; training resumes from
its last epoch after a crash and is never repeated; stand-alone training reports once.
Networks here are tiny (C 4, 3-4 cells, 8x8 images), so the whole file takes seconds."""

import json
import random

import pytest
import torch

from spaces import darts_genotype as G
from spaces import darts_train
from spaces.darts_model import Network, count_parameters
from spaces.darts_supernet import Supernet, inherit


def tiny_data(n: int = 48, size: int = 8, seed: int = 0) -> darts_train.Data:
    """Ten classes told apart by which pixel is bright: learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (3 * n,), generator=g)
    x = 0.1 * torch.randn(3 * n, 3, size, size, generator=g)
    x[torch.arange(3 * n), :, y % size, y // size] += 3.0
    return darts_train.Data(x[:n], y[:n], x[n:2 * n], y[n:2 * n], x[2 * n:], y[2 * n:], 10)


def spec(**overrides) -> darts_train.SupernetSpec:
    values = dict(dataset="tiny", image_size=8, channels=4, cells=3, epochs=2, batch_size=16, lr=0.05, momentum=0.9,
                  weight_decay=3e-4, train_subset=None, seed=0)
    return darts_train.SupernetSpec(**{**values, **overrides})


def randomised_norms(model: torch.nn.Module) -> None:
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("size", [8, 9])
def test_an_architecture_forward_through_the_supernet_equals_its_inherited_network(size):
    torch.manual_seed(0)
    supernet = Supernet(4, 10, 4)  # reductions at cells 1 and 2: both cells' kinds, factorized reductions
    randomised_norms(supernet)
    supernet.eval()
    rng, x = random.Random(0), torch.randn(3, 3, size, size)
    for _ in range(5):
        genotype = G.sample(G.full(), rng)
        net = inherit(supernet, genotype).eval()
        assert torch.equal(supernet(x, genotype), net(x))
        # the inherited network has the path's weights only: as many as a fresh network of it
        assert count_parameters(net) == count_parameters(Network(genotype, 4, 10, 4))
    other = G.sample(G.full(), rng)
    assert not torch.equal(supernet(x, other), inherit(supernet, genotype).eval()(x))


def test_training_resumes_after_a_crash_and_is_never_repeated(tmp_path, monkeypatch):
    data, folder = tiny_data(), tmp_path / "supernet"

    def crash_after_first_epoch(epoch, epochs, loss):
        if epoch == 1:
            raise KeyboardInterrupt  # the checkpoint of epoch 1 is on disk: progress runs after it

    with pytest.raises(KeyboardInterrupt):
        darts_train.supernet(spec(), folder, data, crash_after_first_epoch)
    trained = []
    resumed = darts_train.supernet(spec(), folder, data, lambda epoch, epochs, loss: trained.append(epoch))
    assert trained == [2]  # epoch 1 was not trained again
    epochs = [json.loads(line)["epoch"] for line in (folder / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    straight = darts_train.supernet(spec(), tmp_path / "straight", data)
    for (name, a), (_, b) in zip(resumed.state_dict().items(), straight.state_dict().items()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name  # as if never interrupted

    monkeypatch.setattr(darts_train, "_train_supernet", lambda *args: pytest.fail("trained again"))
    again = darts_train.supernet(spec(), folder, data)
    genotype = G.sample(G.full(), random.Random(1))
    assert darts_train.estimate(again, genotype, data, 2, 16) == darts_train.estimate(resumed, genotype, data, 2, 16)


def test_a_refined_supernet_trains_the_allowed_paths(tmp_path):
    allowed = {p: (["sep_conv_3x3"] if p.endswith("_op") else list(c)) for p, c in G.POSITIONS.items()}
    model = darts_train.supernet(spec(epochs=1, allowed=allowed), tmp_path / "refined", tiny_data())
    torch.manual_seed(0)
    before = Supernet(4, 10, 3)  # the same initial weights (the spec's seed)
    trained = model.cells[0].edges["2_from_0"]
    untouched = before.cells[0].edges["2_from_0"]
    assert not torch.equal(trained["sep_conv_3x3"][0][1].weight, untouched["sep_conv_3x3"][0][1].weight)
    assert torch.equal(trained["sep_conv_5x5"][0][1].weight, untouched["sep_conv_5x5"][0][1].weight)
    assert spec(allowed=allowed).key() != spec().key()


def test_estimates_are_deterministic_and_learn_something(tmp_path):
    data = tiny_data()
    model = darts_train.supernet(spec(epochs=6, lr=0.1), tmp_path / "s", data)
    genotype = G.sample(G.full(), random.Random(2))
    first = darts_train.estimate(model, genotype, data, 2, 16)
    assert first == darts_train.estimate(model, genotype, data, 2, 16)
    best = max(darts_train.estimate(model, G.sample(G.full(), random.Random(k)), data, 2, 16) for k in range(6))
    assert best > 30.0  # chance is 10%


def test_standalone_training_reports_once(tmp_path, monkeypatch):
    data = tiny_data()
    standalone = darts_train.StandaloneSpec(dataset="tiny", image_size=8, channels=4, cells=3, epochs=2,
                                            batch_size=16, lr=0.05, momentum=0.9, weight_decay=3e-4,
                                            auxiliary_weight=0.4, drop_path=0.2, train_subset=None, seed=0)
    genotype = G.sample(G.full(), random.Random(3))
    report = darts_train.standalone(genotype, standalone, tmp_path / "a", data)
    assert report["epochs"] == 2 and 0 <= report["test_acc"] <= 100 and report["params_m"] > 0
    monkeypatch.setattr(darts_train, "Network", lambda *a, **k: pytest.fail("trained again"))
    assert darts_train.standalone(genotype, standalone, tmp_path / "a", data) == report
