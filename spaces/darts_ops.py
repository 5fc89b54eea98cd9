"""DARTS's eight operations and the cell preprocessing, as DARTS defines them (Liu et al. 2018,
section 3.1 and appendix A.1; the layer layout of quark0/darts cnn/operations.py).

- separable convolutions (sep_conv_3x3, sep_conv_5x5) are applied twice: ReLU, depthwise
  conv, pointwise conv, BatchNorm, and again with stride 1;
- dilated convolutions (dil_conv_3x3, dil_conv_5x5) once, with dilation 2: ReLU, depthwise
  dilated conv, pointwise conv, BatchNorm;
- pooling (max_pool_3x3, avg_pool_3x3; the average excludes the padding);
- skip_connect: the identity, or in a reduction cell (stride 2) a factorized reduction: two
  1x1 convolutions of stride 2 on the input and on the input shifted by one pixel, concatenated,
  then BatchNorm;
- none: zeros (of the strided size in a reduction cell).

Every operation keeps the channel count C.  Imports torch: load it lazily.
"""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding,
                                                           bias=False), nn.BatchNorm2d(c_out, affine=affine))


class DilConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c, c, kernel, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine))


class SepConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(DilConv(c, kernel, stride, padding, 1, affine), DilConv(c, kernel, 1, padding, 1, affine))


class Zero(nn.Module):
    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # On an odd-sized input the shifted branch would come out one pixel smaller; pad it back
        # (DARTS's inputs are always even, a small CPU input need not be).
        shifted = x[:, :, 1:, 1:]
        if x.shape[-1] % 2:
            shifted = nn.functional.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def make_op(name: str, c: int, stride: int, affine: bool = True) -> nn.Module:
    """One DARTS operation on C channels (stride 2 on a reduction cell's inputs)."""
    if name == "none":
        return Zero(stride)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name in ("sep_conv_3x3", "sep_conv_5x5"):
        kernel = int(name[-1])
        return SepConv(c, kernel, stride, kernel // 2, affine)
    if name in ("dil_conv_3x3", "dil_conv_5x5"):
        kernel = int(name[-1])
        return DilConv(c, kernel, stride, 2 * (kernel // 2), 2, affine)
    raise ValueError(f"unknown DARTS operation {name!r}")


def preprocess(c_prev_prev: int, c_prev: int, c: int, reduction_prev: bool) -> tuple[nn.Module, nn.Module]:
    """The cell's two input adapters: a 1x1 ReLU-conv-BN each, or a factorized reduction of
    c_{k-2} when the previous cell halved the resolution."""
    first = FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
    return first, ReLUConvBN(c_prev, c, 1, 1, 0)
