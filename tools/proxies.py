"""Training-free proxies: scores of an untrained PyTorch network that rank architectures without
spending an evaluation.  Higher is better for every proxy.

- `synflow` (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS; as a NAS proxy: Abdelfattah et al. 2021, "Zero-Cost
  Proxies for Lightweight NAS", ICLR): data-free.  With every parameter replaced by its absolute
  value and an all-ones input, R = sum of the outputs; the score is sum |theta * dR/dtheta| over
  the weights.  Computed in float64: the product of |weights| over ~20 layers overflows float32.
- `naswot` (Mellor et al. 2021, "Neural Architecture Search without Training", ICML, section 3):
  log|K_H| where K_H[i, j] = N_A - Hamming(c_i, c_j) counts the ReLUs on which inputs i and j of
  one batch agree (c_i: the binary code of which ReLU inputs are positive).
- `jacob_cov` (Mellor et al. 2020, arXiv:2006.04647 v1, section 3): the eigenvalues s of the
  correlation matrix of the input Jacobians (of the summed outputs) on one batch score
  -sum(log(s + k) + 1 / (s + k)), k = 1e-5.
- `grad_norm` (Abdelfattah et al. 2021, section 3): sum over weights of the Euclidean norms of
  the cross-entropy gradients on one batch.
- `snip` (Lee et al. 2019, "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
  ICLR; as a NAS proxy: Abdelfattah et al. 2021): sum |theta * dL/dtheta| over the weights.

"Weights" are the parameters with two or more dimensions: the kernels of convolutions and
linear layers, which is what the pruning papers score; biases and BatchNorm's affine
parameters take part in the forward pass but are not summed.

Standalone on purpose: it imports only the standard library and torch, so the sandboxed
training child (`python -I`, without the project on its path) can load it by file path and score
an LLM-written module.  `score` is the entry point; every proxy is a small function of a built
module and tensors, deterministic for a seed (weights and batch both come from it).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Callable, Sequence, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

# Bump a proxy's number when its definition changes: caches key their values on it.
VERSIONS = {"synflow": 1, "naswot": 1, "jacob_cov": 1, "grad_norm": 1, "snip": 1}
PROXIES: tuple[str, ...] = tuple(VERSIONS)
DEFAULT_PROXIES: tuple[str, ...] = ("synflow", "naswot", "jacob_cov")
JACOB_COV_K = 1e-5  # Mellor et al. 2020 v1, section 3

ModuleSource = Union[Callable[[], nn.Module], nn.Module]


# --- the proxies: each takes a freshly built module and returns one float ---

def synflow(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Synaptic flow of the data-free linearised network (Tanaka et al. 2020, section 6).

    BatchNorm: evaluated in eval mode with its initial running statistics (mean 0, variance 1),
    so each BN layer is |gamma| x / sqrt(1 + eps) + |beta|, i.e. the identity at initialisation.
    That is what Tanaka et al.'s code does (the pruner runs the model in eval mode) and, up to the
    constant 1/sqrt(1 + eps) per layer, what Abdelfattah et al. 2021 do by removing BN; batch
    statistics of an all-ones batch of one would instead zero every activation.  Normalisations
    without running statistics (LayerNorm, GroupNorm, InstanceNorm) map the constant input to
    |beta| = 0 at initialisation, so the layers before them score 0: a limit of the data-free proxy."""
    model = model.double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
                module.reset_running_stats()
        for param in model.parameters():
            param.abs_()
    model.zero_grad(set_to_none=True)
    model(torch.ones(1, *input_shape, dtype=torch.float64)).sum().backward()
    return _saliency(_weights(model))


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log|K_H| of the binary ReLU codes on the batch `x` (Mellor et al. 2021, eq. 2).

    Every ReLU counts, whether it is an `nn.ReLU` module or a call to `F.relu`/`torch.relu`/
    `Tensor.relu` in a forward method (written code often uses the functional form).  The
    model runs in train mode, as in the paper's code (BN normalises with batch statistics).
    A singular kernel (two inputs with the same code, or no ReLU at all) scores -inf."""
    model.train()
    with torch.no_grad(), _ReluAgreement(len(x)) as agreement:
        model(x)
    sign, logdet = torch.linalg.slogdet(agreement.kernel)
    return float(logdet) if sign > 0 else -math.inf


def jacob_cov(model: nn.Module, x: torch.Tensor) -> float:
    """Score of the Jacobian correlations (Mellor et al. 2020 v1, section 3): the input gradient
    of the summed outputs per image, as the paper's code takes it (one backward pass of ones,
    model in train mode).  An image whose Jacobian is constant (e.g. the output does not depend
    on the input) gets zero correlation with everything, which is the lowest score possible."""
    model.train()
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    out.backward(torch.ones_like(out))
    return jacobian_correlation_score(x.grad.flatten(1))


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum of the per-weight Euclidean norms of the cross-entropy gradient (Abdelfattah et al. 2021)."""
    weights = _loss_gradients(model, x, y)
    with torch.no_grad():
        return float(sum(w.grad.norm() for w in weights if w.grad is not None))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Connection sensitivity sum |theta * dL/dtheta| over the weights (Lee et al. 2019, eq. 6)."""
    return _saliency(_loss_gradients(model, x, y))


# --- helpers ---

def jacobian_correlation_score(jacobians: torch.Tensor, k: float = JACOB_COV_K) -> float:
    """-sum(log(s + k) + 1/(s + k)) over the eigenvalues s of the rows' correlation matrix."""
    j = jacobians.double()
    centred = j - j.mean(dim=1, keepdim=True)
    norms = centred.norm(dim=1, keepdim=True)
    unit = centred / torch.where(norms > 0, norms, torch.ones_like(norms))  # constant rows stay 0
    eig = torch.linalg.eigvalsh(unit @ unit.T).clamp_min(0.0)
    return -float((torch.log(eig + k) + 1.0 / (eig + k)).sum())


class _ReluAgreement(TorchFunctionMode):
    """Accumulates K_H[i, j] = number of ReLU inputs on which batch items i and j agree
    (both positive or both not), layer by layer, without keeping the codes."""

    RELUS = frozenset({torch.nn.functional.relu, torch.nn.functional.relu_, torch.relu, torch.relu_,
                       torch.Tensor.relu, torch.Tensor.relu_})

    def __init__(self, batch: int):
        super().__init__()
        self.batch = batch
        self.kernel = torch.zeros(batch, batch, dtype=torch.float64)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.RELUS:
            x = args[0] if args else kwargs.get("input")
            if isinstance(x, torch.Tensor) and x.dim() > 0 and x.shape[0] == self.batch:
                self._add((x.detach() > 0).flatten(1))  # the code is read before an in-place ReLU
        return func(*args, **kwargs)

    def _add(self, codes: torch.Tensor) -> None:
        # agree(i, j) = units - |c_i| - |c_j| + 2 c_i.c_j: one product instead of two.
        c = codes.to(torch.float64)
        ones = c.sum(dim=1)
        self.kernel += c.shape[1] - ones[:, None] - ones[None, :] + 2.0 * (c @ c.T)


def _saliency(weights: list[torch.Tensor]) -> float:
    """sum |theta * gradient| over the weights that received a gradient."""
    with torch.no_grad():
        return float(sum((w * w.grad).abs().sum() for w in weights if w.grad is not None))


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() >= 2]


def _loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    model.train()
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    return _weights(model)


def noise_batch(input_shape: Sequence[int], batch_size: int, seed: int) -> torch.Tensor:
    """Standard Gaussian images (the inputs when no real batch is given)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, *input_shape, generator=generator)


def random_labels(batch_size: int, classes: int, seed: int) -> torch.Tensor:
    """Uniform labels for the loss-based proxies (grad_norm, snip)."""
    generator = torch.Generator().manual_seed(seed + 1)
    return torch.randint(classes, (batch_size,), generator=generator)


def _fresh(source: ModuleSource) -> nn.Module:
    """A new module per proxy (synflow rewrites the weights, train-mode passes move BN's
    statistics): built by the factory under the seeded RNG, or a copy of the given instance."""
    module = copy.deepcopy(source) if isinstance(source, nn.Module) else source()
    return module.float().cpu()


def _run(name: str, model: nn.Module, input_shape: Sequence[int], x: torch.Tensor, y: torch.Tensor) -> float:
    if name == "synflow":
        return synflow(model, input_shape)
    if name == "naswot":
        return naswot(model, x)
    if name == "jacob_cov":
        return jacob_cov(model, x)
    if name == "grad_norm":
        return grad_norm(model, x, y)
    if name == "snip":
        return snip(model, x, y)
    raise ValueError(f"unknown proxy {name!r}; choose from {', '.join(PROXIES)}")


def measure(module_factory: ModuleSource, input_shape: Sequence[int], classes: int, seed: int,
            proxies: Sequence[str] = DEFAULT_PROXIES, batch_size: int = 32,
            inputs: torch.Tensor | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """(score per proxy, CPU seconds per proxy).  See `score`."""
    unknown = [p for p in proxies if p not in VERSIONS]
    if unknown:
        raise ValueError(f"unknown proxies {unknown}; choose from {', '.join(PROXIES)}")
    x = (inputs[:batch_size] if inputs is not None else noise_batch(input_shape, batch_size, seed)).float()
    y = random_labels(len(x), classes, seed)
    values, seconds = {}, {}
    for name in proxies:
        started = time.process_time()
        with torch.random.fork_rng(devices=[]):  # the caller's RNG state is left as it was
            torch.manual_seed(seed)
            values[name] = _run(name, _fresh(module_factory), input_shape, x, y)
        seconds[name] = time.process_time() - started
    return values, seconds


def score(module_factory: ModuleSource, input_shape: Sequence[int], classes: int, seed: int,
          proxies: Sequence[str] = DEFAULT_PROXIES, batch_size: int = 32,
          inputs: torch.Tensor | None = None) -> dict[str, float]:
    """Score a network with each of `proxies` (higher is better).

    `module_factory` builds the network (called once per proxy after `torch.manual_seed(seed)`,
    so the initial weights come from the seed), or is an nn.Module that is copied as it is.
    `input_shape` is one image's shape (C, H, W); `classes` sets the random labels of the loss
    proxies.  The batch is `inputs[:batch_size]` (already normalised real images) when given,
    else `batch_size` Gaussian-noise images drawn from the seed.  Runs on the CPU in float32
    (synflow in float64) with the threads the caller set (torch.set_num_threads)."""
    return measure(module_factory, input_shape, classes, seed, proxies, batch_size, inputs)[0]
