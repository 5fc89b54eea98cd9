"""GENIUS (seed 002, section 3, Algorithm 1): the LLM as a black-box optimiser.

    propose -> review -> evaluate -> (budget left? propose : finish)

The designer sees its whole history (proposal, rationale, measured validation
accuracy) and is asked to beat it; paper defaults are 10 iterations at
temperature 0 (`--budget`, `--temperature`).  The critic's rejections go back
to the designer as feedback without costing an evaluation.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graphs import approve, nodes
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

NAME = "genius"
STATE = SearchState


def roles(settings: Settings) -> list[str]:
    """The agent roles this graph calls a model for."""
    return ["designer"] + (["critic"] if settings.critic == "llm" else [])


def planned_evaluations(settings: Settings) -> int:
    return settings.budget


def build(settings: Settings) -> StateGraph:
    graph = StateGraph(SearchState, context_schema=RunContext)
    graph.add_node("propose", nodes.propose)
    graph.add_node("review", nodes.review, destinations=("evaluate", "propose", "finish")
                   + (("approve",) if settings.approve else ()))
    if settings.approve:
        graph.add_node("approve", approve.approve, destinations=("evaluate", "propose"))
    graph.add_node("evaluate", nodes.evaluate)
    graph.add_node("finish", nodes.finish)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "review")
    graph.add_conditional_edges("evaluate", nodes.after_evaluate, ["propose", "finish"])
    graph.add_edge("finish", END)
    return graph
