"""Random search (no LLM): each round evaluates a uniform sample of the space that was not
evaluated before (Li & Talwalkar 2019; NB201's and LLMatic Table 1's "Random Search")."""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from graphs import nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

NAME = "random"
STATE = SearchState
REQUIRES: tuple[type, ...] = ()


roles, default_budget, planned_evaluations = nodes.no_model, nodes.ten, nodes.the_budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    return {"step": step, "pool": search.random_new(ctx, state, nodes.seeded(ctx, step), 1)}
