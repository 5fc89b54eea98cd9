"""Local search (no LLM): each round evaluates a mutation of the best architecture so far (the
first round a random sample).  This is what the LLM graphs' fallback used to be; as a
baseline it shows what greedy hill-climbing from a random start reaches."""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from graphs import nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

NAME = "local"
STATE = SearchState
REQUIRES: tuple[type, ...] = ()


roles, default_budget, planned_evaluations = nodes.no_model, nodes.ten, nodes.the_budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    return {"step": step, "pool": search.local(ctx, state, nodes.seeded(ctx, step), 1)}
