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
    """Count one forward pass of `module` on a zero batch of one (the sandbox counts the same way)."""
    import torch

    from training.trainer import count_forward

    flops, params = count_forward(module, input_shape, torch)
    return FlopCount(flops=flops, macs=flops // 2, params=params)


class CountFlops(BaseModel):
    arch: str = Field(description="NB201 arch string, or the Python source of an nn.Module (torch-code)")
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"


def count_flops(arch: str, dataset: str = "cifar10") -> dict:
    """Build the NB201 network for `arch` in PyTorch and count it; source code is counted in
    the sandbox (generated code never runs in this process)."""
    if not arch.lstrip().startswith("|"):
        return _count_code(arch)
    from spaces.nb201_torch import NB201Network

    shape, classes = INPUTS[dataset]
    return measure(NB201Network(arch, num_classes=classes), shape).model_dump()


def _count_code(code: str) -> dict:
    from spaces.torch_code import CodeError, TorchCodeSpace

    report = TorchCodeSpace().measure(code, "mnist")
    if report["failure"]:
        raise CodeError(report["failure"], report["detail"])
    macs = round(report["flops_m"] * 1e6)
    return FlopCount(flops=2 * macs, macs=macs, params=round(report["params_m"] * 1e6)).model_dump()


tool = StructuredTool.from_function(
    count_flops, name="count_flops", args_schema=CountFlops,
    description="Build the network in PyTorch and count FLOPs, multiply-accumulates and parameters.")
