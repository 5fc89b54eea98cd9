"""`query_nb201`: look a cell up in the NAS-Bench-201 tables.

Returns what a search may see: validation accuracy, FLOPs, params and,
optionally, latency on one of the 27 measured devices.  Test accuracy is
deliberately absent (it is read once, at the end, by `final_report`).
"""

from __future__ import annotations

from typing import Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from spaces.nb201 import NB201Space


class QueryNB201(BaseModel):
    arch: str = Field(description="NB201 arch string, e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|")
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"
    device: str | None = Field(None, description="latency device, e.g. pixel3, fpga, 1080ti_1")


def query_nb201(arch: str, dataset: str = "cifar10", device: str | None = None) -> dict:
    space = NB201Space()
    result = space.evaluate(arch, dataset).model_dump(exclude_none=True)
    if device:
        result["latency_ms"] = space.latency(arch, device)
    return result


tool = StructuredTool.from_function(
    query_nb201, name="query_nb201", args_schema=QueryNB201,
    description="Validation accuracy (%), MFLOPs and M params of an NB201 cell; latency on a device if asked.")
