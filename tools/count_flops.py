"""`count_flops`: FLOPs and parameters of a real PyTorch module, measured with
`torch.utils.flop_counter.FlopCounterMode` on one forward pass.

FlopCounterMode counts a multiply-accumulate as 2 FLOPs; NAS papers (and the
NB201 tables) quote multiply-accumulates as "FLOPs", so both are returned.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

INPUTS = {"cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100), "imagenet16": ((3, 16, 16), 120)}


class FlopCount(BaseModel):
    flops: int = Field(description="FLOPs as FlopCounterMode counts them (2 per multiply-accumulate)")
    macs: int = Field(description="multiply-accumulates, the 'FLOPs' of NAS papers")
    params: int


def measure(module, input_shape: tuple[int, ...]) -> FlopCount:
    """Count one forward pass of `module` on a zero batch of one."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(torch.zeros(1, *input_shape))
    flops = counter.get_total_flops()
    return FlopCount(flops=flops, macs=flops // 2, params=sum(p.numel() for p in module.parameters()))


class CountFlops(BaseModel):
    arch: str = Field(description="NB201 arch string")
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"


def count_flops(arch: str, dataset: str = "cifar10") -> dict:
    """Build the NB201 network for `arch` in PyTorch and count it."""
    from spaces.nb201_torch import NB201Network

    shape, classes = INPUTS[dataset]
    return measure(NB201Network(arch, num_classes=classes), shape).model_dump()


tool = StructuredTool.from_function(
    count_flops, name="count_flops", args_schema=CountFlops,
    description="Build the network in PyTorch and count FLOPs, multiply-accumulates and parameters.")
