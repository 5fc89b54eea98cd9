"""A weight-sharing supernet over the DARTS space (or a refined one), and how an architecture
inherits its weights.

One module per cell, node, input and operation (DARTS's 14 edges x 8 operations per cell),
shared by every architecture that uses it; the stem, the cells' preprocessing and the
classifier are shared by all.  Training samples one path per step, uniformly over the
allowed operations and inputs of every node (single-path one-shot, Guo et al. 2020), so each
step trains one architecture's weights.  LAPT (seed 003, section 4.1) evaluates DARTS
architectures "by inheriting weights" from such a supernet, trained 30 epochs (Table 1).

An architecture is evaluated by `inherit`: its stand-alone network (spaces/darts_model.py,
the same layout at the supernet's width and depth) given the supernet's weights, its
BatchNorm statistics recomputed on a few training batches (the running statistics a
supernet accumulates mix every path it trained), then scored on the validation split.
The forward of a path through the supernet equals the inherited network's forward
(tests/spaces/test_darts_supernet.py), so the estimate is the supernet's.
Imports torch: load it lazily.
"""

from __future__ import annotations

from typing import Iterable, Literal

import torch
from torch import nn

from spaces.darts_genotype import NODES, OPS, Genotype
from spaces.darts_model import Network, Stem, reduction_cells
from spaces.darts_ops import make_op, preprocess


Sharing = Literal["edge", "node", "cell"]


class SuperCell(nn.Module):
    """Every operation on every edge j -> n.  `sharing` says which edges hold the same weights:
    `edge`, none (DARTS's supernet, one module per edge and operation); `node`, a node's edges
    from inputs of one stride (in a reduction cell the cell inputs are read with stride 2);
    `cell`, every edge of the cell of one stride.  Coarser sharing trains each module more often
    in a short training (per-edge modules of node 5 are used in 1 step of 20)."""

    def __init__(self, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool,
                 sharing: Sharing = "edge"):
        super().__init__()
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = preprocess(c_prev_prev, c_prev, c, reduction_prev)
        shared: dict[tuple, nn.ModuleDict] = {}
        edges = {}
        for node in NODES:
            for index in range(node):
                stride = 2 if reduction and index < 2 else 1
                key = {"edge": (node, index), "node": (node, stride), "cell": (stride,)}[sharing]
                if key not in shared:
                    shared[key] = nn.ModuleDict({op: make_op(op, c, stride) for op in OPS})
                edges[edge(node, index)] = shared[key]
        self.edges = nn.ModuleDict(edges)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, pairs) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k, node in enumerate(NODES):
            (op_a, a), (op_b, b) = pairs[2 * k], pairs[2 * k + 1]
            states.append(self.edges[edge(node, a)][op_a](states[a]) + self.edges[edge(node, b)][op_b](states[b]))
        return torch.cat(states[2:], dim=1)


def edge(node: int, index: int) -> str:
    return f"{node}_from_{index}"


class Supernet(nn.Module):
    """The CIFAR layout of DARTS (stem of 3C channels, reductions at 1/3 and 2/3), every
    operation on every edge."""

    def __init__(self, c: int, classes: int, layers: int, stem_multiplier: int = 3, sharing: Sharing = "edge"):
        super().__init__()
        self.c, self.classes, self.layers, self.stem_multiplier = c, classes, layers, stem_multiplier
        self.stem = Stem("cifar", c, stem_multiplier)
        c_prev_prev, c_prev, c_curr, reduction_prev = self.stem.channels, self.stem.channels, c, False
        self.cells = nn.ModuleList()
        for i in range(layers):
            reduction = i in reduction_cells(layers)
            c_curr = 2 * c_curr if reduction else c_curr
            self.cells.append(SuperCell(c_prev_prev, c_prev, c_curr, reduction, reduction_prev, sharing))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, len(NODES) * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, classes)

    def forward(self, x: torch.Tensor, genotype: Genotype) -> torch.Tensor:
        s0, s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, genotype.reduce if cell.reduction else genotype.normal)
        return self.classifier(self.global_pooling(s1).flatten(1))


def inherit(supernet: Supernet, genotype: Genotype) -> Network:
    """The architecture's stand-alone network carrying the supernet's weights (and buffers)."""
    net = Network(genotype, supernet.c, supernet.classes, supernet.layers, "cifar", auxiliary=False,
                  stem_multiplier=supernet.stem_multiplier)
    net.stem.load_state_dict(supernet.stem.state_dict())
    net.classifier.load_state_dict(supernet.classifier.state_dict())
    for cell, super_cell in zip(net.cells, supernet.cells):
        cell.preprocess0.load_state_dict(super_cell.preprocess0.state_dict())
        cell.preprocess1.load_state_dict(super_cell.preprocess1.state_dict())
        pairs = genotype.reduce if super_cell.reduction else genotype.normal
        for k, (op, index) in enumerate(pairs):
            cell.ops[k].load_state_dict(super_cell.edges[edge(NODES[k // 2], index)][op].state_dict())
    return net


@torch.no_grad()
def recalibrate(net: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """BatchNorm running statistics recomputed from these batches alone (cumulative average)."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    for x in batches:
        net(x)
    net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    """Top-1 accuracy in percent."""
    net.eval()
    correct = sum(int((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return 100.0 * correct / max(len(x), 1)
