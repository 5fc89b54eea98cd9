"""Regularised evolution (Real et al. 2019; no LLM).  The first `population` rounds sample the
space at random; then a tournament of `tournament` among the last `population` evaluated
architectures picks a parent and one position is mutated; the oldest leaves the population.
Population and tournament default to the space's paper baseline (`space.rea`; NB201: 5 and 2
as LAPT Table 1 runs it) and are set with `rea.population` / `rea.tournament`."""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from graphs import nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

NAME = "rea"
STATE = SearchState
REQUIRES: tuple[type, ...] = ()


roles, default_budget, planned_evaluations = nodes.no_model, nodes.ten, nodes.the_budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    size, tournament = ctx.settings.rea.population or ctx.space.rea[0], ctx.settings.rea.tournament or ctx.space.rea[1]
    rng = nodes.seeded(ctx, step)
    if len(state.evaluated()) < size:  # the initial population is random
        return {"step": step, "pool": search.random_new(ctx, state, rng, 1, "rea")}
    return {"step": step, "pool": search.rea_child(ctx, state, rng, 1, "rea", size, tournament)}
