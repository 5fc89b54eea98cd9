"""Random + FLOPs (no LLM, no evaluation spent on the choice): sample a pool of P
architectures, then spend the evaluations on the largest by FLOPs, in that order.

FLOPs cost nothing to know (a table lookup, or a forward pass), and on the benchmarks here
bigger cells are better on average: a fair harness must show what that evidence alone
buys before crediting an agent with it.  P is `flops_pool` (default ten times the budget,
at least 100).  The pool is drawn from the seed alone, so a resumed run sees the same one."""

from __future__ import annotations

import random

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from agents import critic
from graphs import nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

NAME = "random+flops"
STATE = SearchState
REQUIRES: tuple[type, ...] = ()


roles, default_budget, planned_evaluations = nodes.no_model, nodes.ten, nodes.the_budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def pool_size(settings: Settings) -> int:
    return settings.flops_pool or max(100, 10 * settings.budget)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    blank = state.model_copy(update={"trials": [], "pool": []})  # the pool does not depend on the history
    drawn = search.random_new(ctx, blank, random.Random(f"{ctx.settings.seed}:flops-pool"), pool_size(ctx.settings),
                              "flops")
    by_flops = sorted(drawn, key=lambda t: -ctx.space.cost(t.arch, ctx.settings.dataset)[0])
    evaluated = critic.index(state.evaluated())
    # The pool is the same every round: a candidate the user refused (--approve) would come back forever.
    refused = {t.arch for t in state.trials if not t.accepted}
    for trial in by_flops:
        # not refused, not evaluated, nor isomorphic to one evaluated
        if trial.arch not in refused and search.acceptable(ctx, state, trial.arch, evaluated):
            flops = ctx.space.cost(trial.arch, ctx.settings.dataset)[0]
            return {"step": step, "pool": [trial.model_copy(update={
                "rationale": f"largest FLOPs ({flops:.1f} M) left in a random pool of {len(drawn)}"})]}
    return {"step": step, "pool": search.random_new(ctx, state, random.Random(f"{ctx.settings.seed}:{step}"), 1,
                                                   "flops")}
