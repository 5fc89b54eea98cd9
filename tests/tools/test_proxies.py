"""Training-free proxies (tools/proxies.py) checked against values computed by hand on small
networks, and the NB201 wrapper with its cache (tools/cell_proxies.py)."""

import ast
import importlib.util
import math
import sqlite3
import threading
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn
from torch.nn import functional as F

from tools import cell_proxies, proxies
from tools.proxies import PROXIES, score

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache_in_tmp_and_one_thread(monkeypatch, tmp_path):
    """Never the user's cache; one torch thread (on the shared 2-core machines, two spinning
    OpenMP threads made these networks several times slower)."""
    monkeypatch.setenv("ARCHAGENTS_CACHE_DIR", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_conv_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))


def built(factory, seed: int) -> nn.Module:
    """The module `score` builds for this seed (the factory under torch.manual_seed)."""
    torch.manual_seed(seed)
    return factory()


# --- determinism and isolation ---

def test_every_proxy_is_deterministic_for_a_seed_and_differs_between_seeds():
    first = score(small_conv_net, (3, 8, 8), 5, seed=0, proxies=PROXIES, batch_size=16)
    again = score(small_conv_net, (3, 8, 8), 5, seed=0, proxies=PROXIES, batch_size=16)
    other = score(small_conv_net, (3, 8, 8), 5, seed=1, proxies=PROXIES, batch_size=16)
    assert first == again
    assert set(first) == set(PROXIES)
    for name in PROXIES:
        assert math.isfinite(first[name]), name
        assert first[name] != other[name], name


def test_the_callers_rng_state_and_a_given_instance_are_left_alone():
    instance = built(small_conv_net, 3)
    before = [p.detach().clone() for p in instance.parameters()]
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    by_instance = score(instance, (3, 8, 8), 5, seed=3, proxies=PROXIES, batch_size=8)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(a, b) for a, b in zip(before, instance.parameters()))
    # an instance built with the seed scores as its factory does
    assert by_instance == score(small_conv_net, (3, 8, 8), 5, seed=3, proxies=PROXIES, batch_size=8)


def test_an_unknown_proxy_is_refused():
    with pytest.raises(ValueError, match="unknown proxies"):
        score(small_conv_net, (3, 8, 8), 5, seed=0, proxies=("zen",))


def test_the_module_imports_nothing_from_the_project_and_loads_by_path():
    """The sandboxed child (python -I) loads tools/proxies.py by file path."""
    path = ROOT / "tools" / "proxies.py"
    tree = ast.parse(path.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "copy", "math", "time", "typing", "torch"}
    spec = importlib.util.spec_from_file_location("standalone_proxies", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.score(small_conv_net, (3, 8, 8), 5, seed=0, batch_size=8) == \
        score(small_conv_net, (3, 8, 8), 5, seed=0, batch_size=8)


# --- synflow by hand ---

def mlp_with_bn() -> nn.Module:
    net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
    with torch.no_grad():  # signs for the absolute values to undo, and stale statistics to ignore
        net[1].weight.uniform_(-2.0, -0.5)
        net[1].bias.uniform_(-1.0, 1.0)
        net[1].running_mean.fill_(3.0)
        net[1].running_var.fill_(4.0)
    return net


def test_synflow_of_a_linear_bn_relu_linear_net_by_hand():
    net = built(mlp_with_bn, 0)
    w1, b1, w2, b2 = (t.detach().double().abs() for t in (net[0].weight, net[0].bias, net[3].weight, net[3].bias))
    gamma, beta = net[1].weight.detach().double().abs(), net[1].bias.detach().double().abs()
    scale = gamma / math.sqrt(1 + net[1].eps)  # eval-mode BN at its initial statistics
    a = w1 @ torch.ones(6, dtype=torch.float64) + b1
    h = scale * a + beta  # positive, so the ReLU passes it
    # R = 1'(W2 h + b2): dR/dW2[k, i] = h_i and dR/dW1[i, j] = (sum_k W2[k, i]) scale_i
    by_hand = (w2 * h[None, :]).sum() + (w1 * (w2.sum(0) * scale)[:, None]).sum()
    assert by_hand.item() != (w2 @ h + b2).sum().item()  # the bias makes R inhomogeneous
    assert proxies.synflow(built(mlp_with_bn, 0), (6,)) == pytest.approx(by_hand.item(), rel=1e-12)


def bias_free_conv_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 5 * 5, 3, bias=False))


def test_synflow_of_a_bias_free_conv_linear_net_is_twice_the_synaptic_flow():
    """Without biases R is linear in each layer's |weights|, so each layer's sum of
    |theta dR/dtheta| equals R (Euler): synflow = 2 R, R by explicit tensor products."""
    net = built(bias_free_conv_net, 1)
    conv, linear = net[0].weight.detach().double().abs(), net[2].weight.detach().double().abs()
    patches = F.unfold(torch.ones(1, 3, 5, 5, dtype=torch.float64), 3, padding=1)[0]  # (27, 25)
    feature_map = conv.reshape(4, 27) @ patches  # (4, 25): channel-major like Flatten
    flow = (linear @ feature_map.reshape(-1)).sum().item()
    assert proxies.synflow(built(bias_free_conv_net, 1), (3, 5, 5)) == pytest.approx(2 * flow, rel=1e-12)


# --- NASWOT by hand ---

class TwoReLUNet(nn.Module):
    """One ReLU called as a function, one as a module (in place)."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(6, 16), nn.Linear(16, 16), nn.Linear(16, 3)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.l3(self.act(self.l2(F.relu(self.l1(x)))))


def test_naswot_is_the_log_determinant_of_the_binary_code_kernel():
    net = built(TwoReLUNet, 0)
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        h1 = x @ net.l1.weight.T + net.l1.bias
        h2 = h1.clamp_min(0) @ net.l2.weight.T + net.l2.bias
    codes = torch.cat([h1 > 0, h2 > 0], dim=1).numpy()  # (10, 32) binary codes
    kernel = np.array([[np.sum(ci == cj) for cj in codes] for ci in codes], dtype=np.float64)  # N_A - Hamming
    sign, logdet = np.linalg.slogdet(kernel)
    assert sign > 0
    assert proxies.naswot(built(TwoReLUNet, 0), x) == pytest.approx(logdet, rel=1e-10)
    assert score(TwoReLUNet, (6,), 3, seed=0, proxies=("naswot",), inputs=x)["naswot"] == pytest.approx(logdet, rel=1e-10)


def test_naswot_of_a_singular_kernel_is_minus_infinity():
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    assert proxies.naswot(built(TwoReLUNet, 0), torch.cat([x, x[:1]])) == -math.inf  # two equal codes
    assert proxies.naswot(nn.Sequential(nn.Linear(6, 3), nn.Tanh()), x) == -math.inf  # no ReLU at all


# --- jacob_cov by hand ---

def tanh_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3))


def test_jacob_cov_from_explicit_jacobians():
    x = torch.randn(5, 10, generator=torch.Generator().manual_seed(2))
    net = built(tanh_mlp, 0)
    jacobians = np.stack([torch.autograd.functional.jacobian(lambda v: net(v[None]).sum(), x[i]).numpy()
                          for i in range(len(x))]).astype(np.float64)
    eig = np.linalg.eigvalsh(np.corrcoef(jacobians))
    k = 1e-5
    by_hand = -np.sum(np.log(eig + k) + 1.0 / (eig + k))
    assert proxies.jacob_cov(built(tanh_mlp, 0), x) == pytest.approx(by_hand, rel=1e-4)


def test_jacob_cov_of_an_input_blind_network_is_the_lowest_possible():
    x = torch.randn(6, 10, generator=torch.Generator().manual_seed(2))
    blind = nn.Sequential(nn.Linear(10, 3), nn.Linear(3, 3))
    with torch.no_grad():
        blind[0].weight.zero_()
    k = proxies.JACOB_COV_K
    lowest = -len(x) * (math.log(k) + 1 / k)  # every eigenvalue 0
    assert proxies.jacob_cov(blind, x) == pytest.approx(lowest)
    assert proxies.jacob_cov(built(tanh_mlp, 0), x) > lowest


# --- grad_norm and snip by hand (softmax regression: dL/dW = (softmax(Wx+b) - onehot)' x / N) ---

def test_grad_norm_and_snip_of_a_linear_classifier_by_hand():
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(3))
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    net = built(lambda: nn.Linear(6, 4), 0)
    with torch.no_grad():
        gradient = (torch.softmax(x @ net.weight.T + net.bias, dim=1) - F.one_hot(y, 4)).T @ x / len(x)
    assert proxies.grad_norm(built(lambda: nn.Linear(6, 4), 0), x, y) == pytest.approx(gradient.norm().item(), rel=1e-5)
    assert proxies.snip(built(lambda: nn.Linear(6, 4), 0), x, y) == \
        pytest.approx((net.weight.detach() * gradient).abs().sum().item(), rel=1e-5)


# --- the cache ---

@pytest.fixture
def counted_compute(monkeypatch):
    """Replace the network by a counter: the cache is tested without building anything."""
    calls: list[tuple] = []

    def fake(space, arch, dataset, seed, names, batch_size, inputs):
        calls.append((arch, dataset, seed, tuple(names)))
        return {n: float(len(n) + seed) for n in names}, {n: 0.5 for n in names}

    monkeypatch.setattr(cell_proxies, "_compute", fake)
    return calls


ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_the_cache_returns_stored_scores_without_recomputing(counted_compute, tmp_path):
    first = cell_proxies.cell_scores(ARCH, "cifar10")
    assert cell_proxies.cell_scores(ARCH, "cifar10") == first
    assert len(counted_compute) == 1
    assert (tmp_path / "cache" / "proxies.sqlite").exists()
    # only what is missing is computed; another seed, dataset or batch is another key
    cell_proxies.cell_scores(ARCH, "cifar10", proxies=("synflow", "snip"))
    assert counted_compute[-1][3] == ("snip",)
    for kwargs in ({"seed": 1}, {"dataset": "cifar100"}, {"batch_size": 64}, {"inputs": "noise"}):
        cell_proxies.cell_scores(**{"arch": ARCH, "dataset": "cifar10", **kwargs})
    assert len(counted_compute) == 6
    assert cell_proxies.cell_measurements(ARCH, "cifar10")["naswot"] == (6.0, 0.5)


def test_a_new_proxy_version_is_recomputed(counted_compute, monkeypatch):
    cell_proxies.cell_scores(ARCH, "cifar10")
    monkeypatch.setitem(proxies.VERSIONS, "naswot", proxies.VERSIONS["naswot"] + 1)
    cell_proxies.cell_scores(ARCH, "cifar10")
    assert [c[3] for c in counted_compute] == [proxies.DEFAULT_PROXIES, ("naswot",)]


def test_concurrent_writers_all_land(counted_compute):
    archs = [ARCH.replace("avg_pool_3x3~2", f"{op}~2") for op in ("none", "skip_connect", "nor_conv_1x1",
                                                                  "nor_conv_3x3", "avg_pool_3x3")]
    threads = [threading.Thread(target=lambda s=s: [cell_proxies.cell_scores(a, "cifar10", seed=s) for a in archs])
               for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sqlite3.connect(cell_proxies.cache_path()) as db:
        assert db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 4 * 5 * len(proxies.DEFAULT_PROXIES)


def test_the_default_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("ARCHAGENTS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cell_proxies.cache_path() == tmp_path / "xdg" / "archagents" / "proxies.sqlite"


def test_the_tool_has_a_typed_schema(counted_compute):
    assert set(get_args(cell_proxies.Proxy)) == set(PROXIES)  # spelled twice: the tool module does not load torch
    tool = cell_proxies.tool
    assert tool.name == "proxy_scores"
    assert set(tool.args) == {"arch", "dataset", "seed", "proxies"}
    assert tool.invoke({"arch": ARCH, "dataset": "imagenet16", "proxies": ["synflow"]}) == {"synflow": 7.0}
    with pytest.raises(ValidationError):
        tool.invoke({"arch": ARCH, "proxies": ["zen"]})


# --- NB201 networks ---

@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16"])
def test_an_nb201_cell_scores_finitely_on_every_dataset(dataset):
    cheap = "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|skip_connect~1|nor_conv_1x1~2|"
    scores = cell_proxies.cell_scores(cheap, dataset, proxies=PROXIES, batch_size=8)
    assert set(scores) == set(PROXIES)
    assert all(math.isfinite(v) for v in scores.values()), scores


def test_the_all_none_cell_scores_lowest():
    """A cell whose output ignores its input (chance-level accuracy) must be recognisable."""
    others = [ARCH, "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
              "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
              "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    none = cell_proxies.cell_scores(NONE, "imagenet16", proxies=PROXIES, batch_size=16)
    for arch in others:
        scores = cell_proxies.cell_scores(arch, "imagenet16", proxies=PROXIES, batch_size=16)
        for name in PROXIES:
            assert none[name] < scores[name], (name, arch)
