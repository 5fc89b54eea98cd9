"""`query_transnas101`: look a cell up in the TransNAS-Bench-101 micro table (711 cells, 7 tasks).

Returns the task's validation metric (higher is better; see spaces/transnas101.py), FLOPs and
params, or an `out_of_space` failure for a cell the table does not have.
"""

from __future__ import annotations

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from spaces.transnas101 import TASKS, TransNAS101Space


class QueryTransNAS101(BaseModel):
    arch: str = Field(description="cell string 64-41414-a_bc_def (digits 0 none, 1 skip, 2 conv1x1, 3 conv3x3)")
    dataset: str = Field("class_object", description=f"task, one of {', '.join(TASKS)}")


def query_transnas101(arch: str, dataset: str = "class_object") -> dict:
    return TransNAS101Space().evaluate(arch, dataset).model_dump(exclude_none=True)


tool = StructuredTool.from_function(
    query_transnas101, name="query_transnas101", args_schema=QueryTransNAS101,
    description="Validation metric (higher is better), MFLOPs and M params of a TransNAS-Bench-101 micro cell.")
