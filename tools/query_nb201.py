"""`query_nb201`: look a cell up in the NAS-Bench-201 tables (or the official file, --nb201-api).

Returns what a search may see: validation accuracy, FLOPs, params and,
optionally, latency on one of the 27 measured devices.  Test accuracy is
deliberately absent (it is read once, at the end, by `final_report`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from spaces import nb201_api
from spaces.nb201 import NB201Space


class QueryNB201(BaseModel):
    arch: str = Field(description="NB201 arch string, e.g. |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|...|")
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"
    device: str | None = Field(None, description="latency device, e.g. pixel3, fpga, 1080ti_1")


def query_nb201(arch: str, dataset: str = "cifar10", device: str | None = None,
                benchmark: Path | str | None = None) -> dict:
    """`benchmark`: the official NB201 file (settings.nb201_api, `--nb201-api`; for the tool, the
    setting or ARCHAGENTS_NB201_API), read through nas_201_api: then the answer also holds the
    training accuracy, the validation curve over the 200 epochs, the 12-epoch validation accuracy
    and the API's latency (spaces/nb201_api.py has every metric, test ones included)."""
    space = NB201Space()
    if benchmark is not None:
        space.official = nb201_api.load(benchmark)
    result = space.evaluate(arch, dataset).model_dump(exclude_none=True)
    if device:
        result["latency_ms"] = space.latency(arch, device)
    if space.official is not None:
        full = space.official.record(result["arch"], space.resolve_dataset(dataset), 200)
        short = space.official.record(result["arch"], space.resolve_dataset(dataset), 12)
        result.update(train_acc=full.train.accuracy, valid_curve=full.valid.accuracy_curve,
                      val_acc_12=short.valid.accuracy if short.valid else None, latency_s=full.latency_s)
    return result


def _query(arch: str, dataset: str = "cifar10", device: str | None = None) -> dict:
    from settings import load_settings

    return query_nb201(arch, dataset, device, load_settings().nb201_api)


tool = StructuredTool.from_function(
    _query, name="query_nb201", args_schema=QueryNB201,
    description="Validation accuracy (%), MFLOPs and M params of an NB201 cell; latency on a device if asked.")
