"""The evaluation tool of any space: `evaluator(space)` wraps `space.evaluate` as a LangChain
tool named as the space declares (`query_nb201`, `query_nas_bench_macro`, `train_on_gpu`...).

One generic wrapper instead of one module per space: a space is one file (spaces/), and its
evaluator comes with it.  The graphs evaluate through this (graphs/nodes.py: evaluate_arch),
so every evaluation is a tool call in the journal with the tool's name.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from spaces.base import Space


class EvaluateArgs(BaseModel):
    arch: str = Field(description="the architecture in the space's notation")
    dataset: str = Field(description="the dataset or task")


def evaluator(space: Space) -> BaseTool:
    """The space's tool, built once per space instance (a trained space's instance is bound to
    its run, so the tool is too)."""
    tool = space.__dict__.get("_evaluator")
    if tool is None:
        tool = space.__dict__["_evaluator"] = _tool(space)
    return tool


def _tool(space: Space) -> BaseTool:
    def evaluate(arch: str, dataset: str) -> dict:
        return space.evaluate(arch, dataset).model_dump(exclude_none=True)

    return StructuredTool.from_function(
        evaluate, name=space.evaluator_name, args_schema=EvaluateArgs,
        description=f"Evaluate an architecture of the {space.name} space: its {space.metric}, MFLOPs and M params.")
