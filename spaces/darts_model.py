"""The evaluation networks DARTS builds around a genotype (Liu et al. 2018, section 3.2 and
appendix A.2; quark0/darts cnn/model.py), and the small ones the CPU default trains.

- CIFAR (`Network`, layout "cifar"): a 3x3 stem of 3C channels, `layers` cells (20 in the
  paper, C = 36) with reduction cells at 1/3 and 2/3 of the depth (doubling C), an auxiliary
  head after the second reduction (training only), global pooling, a linear classifier.
- ImageNet (layout "imagenet"): two stride-2 stems (C/2 then C, then C), 14 cells with C = 48,
  an auxiliary head, 7x7 average pooling on 224x224 inputs (global pooling here, which is the
  same at 224 and lets smaller inputs through).

A cell: its two inputs preprocessed to C channels; node n = op_a(state_a) + op_b(state_b);
output the concatenation of nodes 2-5 (4C channels).  Parameters are counted as DARTS counts
them (`utils.count_parameters_in_MB`): every parameter except the auxiliary head's.
Drop-path (DARTS's 0.2 at 600 epochs) is applied in training when `drop_path` > 0.
Imports torch: load it lazily.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

from spaces.darts_genotype import Genotype
from spaces.darts_ops import make_op, preprocess

Layout = Literal["cifar", "imagenet"]


def reduction_cells(layers: int) -> tuple[int, ...]:
    """DARTS halves the resolution at 1/3 and 2/3 of the depth."""
    return tuple(sorted({layers // 3, 2 * layers // 3}))


class Cell(nn.Module):
    def __init__(self, pairs: Sequence[tuple[str, int]], concat: Sequence[int], c_prev_prev: int, c_prev: int, c: int,
                 reduction: bool, reduction_prev: bool):
        super().__init__()
        self.preprocess0, self.preprocess1 = preprocess(c_prev_prev, c_prev, c, reduction_prev)
        self.indices = [index for _, index in pairs]
        self.concat = list(concat)
        self.multiplier = len(self.concat)
        self.reduction = reduction
        self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and index < 2 else 1) for op, index in pairs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(len(self.ops) // 2):
            terms = []
            for k in (2 * i, 2 * i + 1):
                h = self.ops[k](states[self.indices[k]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[k], nn.Identity):
                    h = drop_path(h, drop_prob)
                terms.append(h)
            states.append(terms[0] + terms[1])
        return torch.cat([states[i] for i in self.concat], dim=1)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device).bernoulli_(keep)
    return x.div(keep) * mask


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier (CIFAR: on 8x8 maps; ImageNet: on 14x14, without the second
    BatchNorm, as DARTS's ImageNet code has it)."""

    def __init__(self, c: int, classes: int, layout: Layout):
        super().__init__()
        stride, last_bn = (3, True) if layout == "cifar" else (2, False)
        self.pool = nn.AvgPool2d(5, stride=stride, padding=0, count_include_pad=False)
        self.features = nn.Sequential(
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), *([nn.BatchNorm2d(768)] if last_bn else []), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.relu(x)
        # DARTS's 5x5 pooling at stride 3 turns its 8x8 maps into 2x2; maps of a small CPU input are
        # smaller than the window, so they are averaged to 2x2 directly.
        x = self.pool(x) if x.shape[-1] >= 5 else nn.functional.adaptive_avg_pool2d(x, 2)
        return self.classifier(self.features(x).flatten(1))


class Stem(nn.Module):
    """The states the first cell reads: CIFAR, one 3x3 conv of 3C channels (s0 = s1); ImageNet,
    two stride-2 convs to C (s0, 56x56 at 224) and one more (s1, 28x28)."""

    def __init__(self, layout: Layout, c: int, stem_multiplier: int = 3):
        super().__init__()
        if layout == "cifar":
            self.channels = stem_multiplier * c
            self.stem0 = nn.Sequential(nn.Conv2d(3, self.channels, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(self.channels))
            self.stem1 = None
            return
        self.channels = c
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c))
        self.stem1 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, (s0 if self.stem1 is None else self.stem1(s0))


class Network(nn.Module):
    """A genotype's evaluation network.  `forward` returns the logits; `aux_logits` holds the
    auxiliary head's after a training forward when the network has one."""

    def __init__(self, genotype: Genotype, c: int, classes: int, layers: int, layout: Layout = "cifar",
                 auxiliary: bool = False, stem_multiplier: int = 3):
        super().__init__()
        self.stem = Stem(layout, c, stem_multiplier)
        c_prev_prev, c_prev, c_curr = self.stem.channels, self.stem.channels, c
        reduction_prev = layout == "imagenet"
        self.cells = nn.ModuleList()
        self.aux_at = 2 * layers // 3
        c_aux = c_prev
        for i in range(layers):
            reduction = i in reduction_cells(layers)
            c_curr = 2 * c_curr if reduction else c_curr
            pairs, concat = (genotype.reduce, genotype.reduce_concat) if reduction else \
                (genotype.normal, genotype.normal_concat)
            cell = Cell(pairs, concat, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == self.aux_at:
                c_aux = c_prev
        self.auxiliary_head = AuxiliaryHead(c_aux, classes, layout) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, classes)
        self.drop_path_prob = 0.0
        self.aux_logits: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0, s1 = self.stem(x)
        self.aux_logits = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_at and self.auxiliary_head is not None and self.training:
                self.aux_logits = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1))


def count_parameters(model: nn.Module) -> int:
    """DARTS's count: every parameter outside the auxiliary head."""
    return sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name)
