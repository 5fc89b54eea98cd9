"""Parameters and multiply-accumulates of a DARTS evaluation network, counted by hand (no torch).

The Critic ranks every candidate by FLOPs, so the count must cost microseconds, not the
seconds a 20-cell network takes to build and trace.  Counted as DARTS counts parameters
(every weight outside the auxiliary head: convolutions without bias, affine BatchNorm, the
classifier) and as the NAS papers count FLOPs (multiply-accumulates of the convolutions and
the classifier; pooling, BatchNorm and ReLU are free).  spaces/darts_model.py builds the same
networks; tests/spaces/test_darts.py checks both counts against torch's own
(`torch.utils.flop_counter.FlopCounterMode` counts 2 per multiply-accumulate).
"""

from __future__ import annotations

from typing import NamedTuple

from spaces.darts_genotype import Genotype

__all__ = ["Count", "network_cost"]


class Count(NamedTuple):
    params: int
    macs: int

    def __add__(self, other):  # type: ignore[override]
        return Count(self.params + other.params, self.macs + other.macs)


ZERO = Count(0, 0)


def conv(c_in: int, c_out: int, kernel: int, out_size: int, groups: int = 1) -> Count:
    weights = kernel * kernel * (c_in // groups) * c_out
    return Count(weights, weights * out_size * out_size)


def bn(c: int) -> Count:
    return Count(2 * c, 0)


def halve(size: int) -> int:
    """A stride-2 'same' convolution or a factorized reduction: ceil(size / 2)."""
    return (size + 1) // 2


def relu_conv_bn(c_in: int, c_out: int, size: int) -> Count:
    return conv(c_in, c_out, 1, size) + bn(c_out)


def factorized_reduce(c_in: int, c_out: int, size: int) -> Count:
    out = halve(size)
    return conv(c_in, c_out // 2, 1, out) + conv(c_in, c_out - c_out // 2, 1, out) + bn(c_out)


def op_cost(name: str, c: int, size_in: int, stride: int) -> Count:
    size = halve(size_in) if stride == 2 else size_in
    if name in ("none", "max_pool_3x3", "avg_pool_3x3"):
        return ZERO
    if name == "skip_connect":
        return ZERO if stride == 1 else factorized_reduce(c, c, size_in)
    kernel = int(name[-1])
    one = conv(c, c, kernel, size, groups=c) + conv(c, c, 1, size) + bn(c)
    if name.startswith("dil_conv"):
        return one
    return one + conv(c, c, kernel, size, groups=c) + conv(c, c, 1, size) + bn(c)  # sep_conv: twice


def cell_cost(pairs, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool,
              size: int) -> Count:
    """`size` is the side of the cell's input s1 (s0 is twice that after a reduction)."""
    first = factorized_reduce(c_prev_prev, c, 2 * size) if reduction_prev else relu_conv_bn(c_prev_prev, c, size)
    total = first + relu_conv_bn(c_prev, c, size)
    for op, index in pairs:
        strided = reduction and index < 2  # a reduction cell's nodes are already at the halved size
        total = total + op_cost(op, c, halve(size) if reduction and not strided else size, 2 if strided else 1)
    return total


def network_cost(genotype: Genotype, c: int, classes: int, layers: int, layout: str = "cifar",
                 image_size: int = 32, stem_multiplier: int = 3) -> Count:
    """(parameters without the auxiliary head, multiply-accumulates of one forward pass)."""
    from spaces.darts_model import reduction_cells

    if layout == "cifar":
        c_stem, size = stem_multiplier * c, image_size
        total = conv(3, c_stem, 3, size) + bn(c_stem)
        reduction_prev = False
    else:
        s1, s2, s3 = halve(image_size), halve(halve(image_size)), halve(halve(halve(image_size)))
        total = conv(3, c // 2, 3, s1) + bn(c // 2) + conv(c // 2, c, 3, s2) + bn(c) + conv(c, c, 3, s3) + bn(c)
        c_stem, size, reduction_prev = c, s3, True
    c_prev_prev, c_prev, c_curr = c_stem, c_stem, c
    for i in range(layers):
        reduction = i in reduction_cells(layers)
        c_curr = 2 * c_curr if reduction else c_curr
        pairs, concat = (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal,
                                                                                       genotype.normal_concat)
        total = total + cell_cost(pairs, c_prev_prev, c_prev, c_curr, reduction, reduction_prev, size)
        size = halve(size) if reduction else size
        reduction_prev = reduction
        c_prev_prev, c_prev = c_prev, len(concat) * c_curr
    return total + Count(c_prev * classes + classes, c_prev * classes)
