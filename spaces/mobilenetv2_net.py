"""The network of the `mobilenetv2` space (GENIUS, seed 002, section 5 and appendix B.1): its
layout, its FLOPs and parameters counted analytically, and its PyTorch source.

Layout (GENIUS appendix Table 14 and its prompt): a stem `Conv2d(3, 16, 3, stride 2)`; a fixed
first bottleneck (MobileNetV2's expansion-1 block: depthwise 3x3 then pointwise 16 -> 16);
thirty searchable layers in five stages of six, out channels 24, 40, 80, 96, 192, the first
layer of stages 1, 2, 3 and 5 with stride 2 (stage 4 keeps the resolution: 80 -> 96); then
`Conv2d(192, 320, 1)`, global average pooling, `Conv2d(320, 1280, 1)`, a linear classifier.
Each searchable layer is one of seven operations: 0 skip (nothing; a 1x1 convolution with
BatchNorm where the channels or the resolution change), 1-3 an inverted residual block with
a 3/5/7 depthwise kernel and expansion 4, 4-6 the same with expansion 6.  Every convolution
is followed by a BatchNorm.

Squeeze-and-excitation: GENIUS's space "includes mobile inverted bottleneck MBConv and
squeeze-excitation modules" (section 5), and its FLOPs table counts them: with an SE module
in every block (reduction to a quarter of the block's middle width, rounded to a multiple of
8; ReLU inside, hard-sigmoid gate) the 70 per-layer entries of GENIUS's table are reproduced
to its 4 decimals, without them none of the inverted residuals is.  Activations are
hard-swish, as in GENIUS's network; they count no FLOPs.

FLOPs as GENIUS counts them (thop, which its train.py calls): multiply-accumulates of every
convolution and linear layer (biases not counted), 4 operations per output element of every
BatchNorm (thop: normalise and scale, times 2 for the affine parameters), (k + 1) per output
element of the average pooling over k pixels, nothing for activations or the SE's mean.  The
reference is GENIUS's: a 224x224 input and 1,000 classes, so its bounds ([270, 330] MFLOPs and
[370, 430]) mean here what they meant in the paper.  E.g. the stem convolution alone counts
5.419 M; stage 1's skip (a 1x1 convolution 16 -> 24, stride 2, from 112x112) with its
BatchNorm 1.5053 M.  GENIUS's prompt lists the stem and the first bottleneck without one
BatchNorm each (5.419 and 5.8207 M; we count 6.222 and 6.624 M), so every network counts
1.6 M more here; on the 41 (design, MFLOPs) pairs of GENIUS's two published conversations
the counts agree within 0.2% but for two figures GENIUS itself reported inconsistently (one
design reported as 329 and as 326 M; one reported as 317 M that its own table sums to 311 M).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

OPS = ("skip", "ir_k3_e4", "ir_k5_e4", "ir_k7_e4", "ir_k3_e6", "ir_k5_e6", "ir_k7_e6")
BLOCKS = {1: (3, 4), 2: (5, 4), 3: (7, 4), 4: (3, 6), 5: (5, 6), 6: (7, 6)}  # id -> (kernel, expansion)
STEM = 16
STAGES = ((16, 24, 2), (24, 40, 2), (40, 80, 2), (80, 96, 1), (96, 192, 2))  # (in, out, stride of the first layer)
DEPTH = 6  # layers per stage
LAYERS = len(STAGES) * DEPTH
HEAD, FEATURES = 320, 1280
REFERENCE_SIZE, REFERENCE_CLASSES = 224, 1000  # GENIUS's FLOPs: ImageNet at 224x224
SE_RATIO = 0.25


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding (timm's make_divisible, which GENIUS's blocks use): to the
    nearest multiple of `divisor`, never more than 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def width(channels: int, multiplier: float) -> int:
    return channels if multiplier == 1.0 else make_divisible(channels * multiplier)


@dataclass(frozen=True)
class Count:
    """FLOPs (thop's convention, above) and parameters of a part of the network."""

    flops: int = 0
    params: int = 0

    def __add__(self, other: "Count") -> "Count":
        return Count(self.flops + other.flops, self.params + other.params)


def conv(c_in: int, c_out: int, kernel: int, out_side: int, groups: int = 1, bias: bool = False) -> Count:
    macs = c_in // groups * kernel * kernel * c_out * out_side * out_side
    return Count(macs, c_in // groups * kernel * kernel * c_out + (c_out if bias else 0))


def batchnorm(channels: int, side: int) -> Count:
    return Count(4 * channels * side * side, 2 * channels)  # thop: 2 per element, x2 affine


def conv_bn(c_in: int, c_out: int, kernel: int, out_side: int, groups: int = 1) -> Count:
    return conv(c_in, c_out, kernel, out_side, groups) + batchnorm(c_out, out_side)


def squeeze_excite(channels: int, reduced_from: int) -> Count:
    """Two 1x1 convolutions with biases on the pooled vector (the mean is not a module: thop
    counts nothing for it)."""
    reduced = make_divisible(reduced_from * SE_RATIO)
    return conv(channels, reduced, 1, 1, bias=True) + conv(reduced, channels, 1, 1, bias=True)


def layer(op: int, c_in: int, c_out: int, stride: int, in_side: int) -> Count:
    """One searchable layer (op id 0-6) from `in_side` x `in_side` (padding k // 2: a stride-2
    layer's output side is rounded up, as torch computes it)."""
    out = (in_side + stride - 1) // stride
    if op == 0:
        return Count() if (c_in == c_out and stride == 1) else conv_bn(c_in, c_out, 1, out)
    kernel, expansion = BLOCKS[op]
    mid = make_divisible(c_in * expansion)
    return (conv_bn(c_in, mid, 1, in_side) + conv_bn(mid, mid, kernel, out, groups=mid)
            + squeeze_excite(mid, mid) + conv_bn(mid, c_out, 1, out))


@dataclass(frozen=True)
class Shape:
    """A network of the space at one input size, class count and width multiplier."""

    size: int = REFERENCE_SIZE
    classes: int = REFERENCE_CLASSES
    multiplier: float = 1.0

    def channels(self, c: int) -> int:
        return width(c, self.multiplier)

    def slots(self) -> list[tuple[int, int, int, int]]:
        """(in channels, out channels, stride, input side) of the thirty searchable layers."""
        out, side = [], self.stem_side()
        for c_in, c_out, stride in STAGES:
            c_in, c_out = self.channels(c_in), self.channels(c_out)
            out.append((c_in, c_out, stride, side))
            side = (side + stride - 1) // stride
            out += [(c_out, c_out, 1, side)] * (DEPTH - 1)
        return out

    def stem_side(self) -> int:
        return (self.size + 1) // 2  # 3x3, stride 2, padding 1

    def final_side(self) -> int:
        side = self.stem_side()
        for _, _, stride in STAGES:
            side = (side + stride - 1) // stride
        return side


def fixed_parts(shape: Shape) -> dict[str, Count]:
    """The layers no architecture changes, by name, at `shape`."""
    stem, side, last = shape.channels(STEM), shape.stem_side(), shape.final_side()
    head, features = shape.channels(HEAD), max(FEATURES, shape.channels(FEATURES))
    return {"stem": conv_bn(3, stem, 3, side),
            "first bottleneck": conv_bn(stem, stem, 3, side, groups=stem) + squeeze_excite(stem, stem)
            + conv_bn(stem, stem, 1, side),
            "head conv": conv_bn(shape.channels(STAGES[-1][1]), head, 1, last),
            "pooling": Count((last * last + 1) * head, 0),
            "feature conv": conv(head, features, 1, 1, bias=True),
            "classifier": Count(features * shape.classes, features * shape.classes + shape.classes)}


def searched_parts(ids: tuple[int, ...], shape: Shape) -> list[Count]:
    """The thirty searchable layers' counts."""
    return [layer(op, *slot) for op, slot in zip(ids, shape.slots())]


@cache
def total(ids: tuple[int, ...], shape: Shape = Shape()) -> Count:
    whole = Count()
    for part in (*fixed_parts(shape).values(), *searched_parts(ids, shape)):
        whole += part
    return whole


@cache
def layer_table(shape: Shape = Shape()) -> tuple[tuple[float, ...], ...]:
    """MFLOPs of each operation in the first layer and in the other layers of each stage (ten
    rows: stage 1 first, stage 1 rest, ...): GENIUS's FLOPs table, in its order."""
    rows, slots = [], shape.slots()
    for s in range(len(STAGES)):
        for c_in, c_out, stride, side in (slots[s * DEPTH], slots[s * DEPTH + 1]):
            rows.append(tuple(round(layer(op, c_in, c_out, stride, side).flops / 1e6, 4) for op in range(len(OPS))))
    return tuple(rows)


def flops_range(shape: Shape = Shape()) -> tuple[float, float]:
    """The fewest and the most MFLOPs any architecture has (all skips; the largest block everywhere)."""
    low = total(tuple([0] * LAYERS), shape).flops
    high = total(tuple([6] * LAYERS), shape).flops
    return low / 1e6, high / 1e6


# --- the PyTorch source, trained in the sandbox (training/trainer.py builds `Net`) ------------

BLOCKS_SOURCE = '''import torch
import torch.nn as nn
import torch.nn.functional as F


def divisible(value, divisor=8):
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(c_in, c_out, kernel, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return layers + [nn.Hardswish()] if act else layers


class SqueezeExcite(nn.Module):
    def __init__(self, channels):
        super().__init__()
        reduced = divisible(channels * 0.25)
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        scale = self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True))))
        return x * F.hardsigmoid(scale)


class Block(nn.Module):
    """An inverted residual (expansion > 1) or MobileNetV2's first, depthwise-separable block."""

    def __init__(self, c_in, c_out, stride, kernel, expansion):
        super().__init__()
        mid = divisible(c_in * expansion) if expansion > 1 else c_in
        expand = conv_bn(c_in, mid, 1) if expansion > 1 else []
        self.body = nn.Sequential(*expand, *conv_bn(mid, mid, kernel, stride, groups=mid), SqueezeExcite(mid),
                                  *conv_bn(mid, c_out, 1, act=False))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class Subsample(nn.Module):
    """Every stride-th pixel: what a 1x1 convolution with that stride reads."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride]


def skip(c_in, c_out, stride):
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    # The same function as Conv2d(c_in, c_out, 1, stride) and the same multiply-accumulates, written
    # as subsample-then-convolve: torch 2.13's CPU kernel for a strided 1x1 convolution in
    # channels_last corrupted the heap in training ("double free or corruption", 13 of 13 networks
    # whose stage 1 starts with a skip, at width 0.5 on 32x32 digits), the stride-1 one does not.
    return nn.Sequential(*([Subsample(stride)] if stride > 1 else []), *conv_bn(c_in, c_out, 1, act=False))


OPERATIONS = {1: (3, 4), 2: (5, 4), 3: (7, 4), 4: (3, 6), 5: (5, 6), 6: (7, 6)}
'''

NET_SOURCE = '''

class Net(nn.Module):
    """{doc}"""

    STAGES = {stages}

    def __init__(self):
        super().__init__()
        stem, layers = {stem}, []
        c_in = stem
        for (c_out, stride), ops in zip({outs}, self.STAGES):
            for index, op in enumerate(ops):
                step = stride if index == 0 else 1
                if op == 0:
                    if index == 0:
                        layers.append(skip(c_in, c_out, step))
                else:
                    layers.append(Block(c_in, c_out, step, *OPERATIONS[op]))
                c_in = c_out
        self.features = nn.Sequential(*conv_bn(3, stem, 3, 2), Block(stem, stem, 1, 3, 1), *layers,
                                      *conv_bn(c_in, {head}, 1))
        self.feature_conv = nn.Conv2d({head}, {features}, 1)
        self.classifier = nn.Linear({features}, {classes})
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(F.hardswish(self.feature_conv(x)).flatten(1))
'''


def source(ids: tuple[int, ...], classes: int, multiplier: float = 1.0) -> str:
    """The source of `Net` for these thirty operation ids: a skip after a stage's first layer is
    left out (it is no operation), which is also what makes equal networks equal code."""
    shape = Shape(classes=classes, multiplier=multiplier)
    stages = tuple(tuple(ids[s * DEPTH:(s + 1) * DEPTH]) for s in range(len(STAGES)))
    outs = tuple((shape.channels(c_out), stride) for _, c_out, stride in STAGES)
    doc = (f"GENIUS's MobileNetV2 space: operation ids per stage {list(map(list, stages))}, width multiplier "
           f"{multiplier:g}, {classes} classes.")
    return BLOCKS_SOURCE + NET_SOURCE.format(doc=doc, stages=stages, stem=shape.channels(STEM), outs=outs,
                                             head=shape.channels(HEAD), features=max(FEATURES, shape.channels(FEATURES)),
                                             classes=classes)
