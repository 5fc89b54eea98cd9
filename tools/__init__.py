"""Typed functions the agents call, each wrapped as a LangChain tool."""

from langchain_core.tools import BaseTool

from errors import UserError
from tools import archive_insert, count_flops, query_nb201, query_transnas101, train_on_gpu

__all__ = ["archive_insert", "count_flops", "query_nb201", "query_transnas101", "train_on_gpu", "evaluator"]

EVALUATORS: dict[str, BaseTool] = {"nb201": query_nb201.tool, "transnas101": query_transnas101.tool,
                                   "torch-code": train_on_gpu.tool}


def evaluator(space: str) -> BaseTool:
    """The tool that evaluates an architecture of `space` (a benchmark query or a training run)."""
    try:
        return EVALUATORS[space]
    except KeyError:
        raise UserError(f"no evaluation tool for space {space!r}") from None
