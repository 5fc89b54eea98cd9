"""The source task's prior (no LLM): sample architectures from the per-position operation
frequencies of the source task's `lapt.learn_samples` (50) best architectures, the
statistical core of LAPT (seed 003, section 3) without an LLM.  The source task is
`--transfer-from SPACE/DATASET` or the space's LAPT default (NB201: ImageNet16-120), stated
in the run's knowledge (graphs/knowledge.py).

Its baseline value is for transfer: it costs no evaluation on the target task beyond the
ones it spends, as LAPT's principles do not."""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from errors import UserError
from graphs import knowledge, nodes, search
from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings
from spaces.base import Positional, Tabular
from tools import op_stats

NAME = "prior"
STATE = SearchState
REQUIRES: tuple[type, ...] = (Positional, Tabular)


roles, default_budget, planned_evaluations = nodes.no_model, nodes.ten, nodes.the_budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def check(settings: Settings, space) -> None:
    """Before the run folder is made: a source task that exists and is not the target."""
    if knowledge.source_task(settings, space) is None:
        raise UserError(f"the prior baseline transfers from another task of the same space; {space.name} has only "
                        f"{space.datasets[0]}: nothing to transfer from" if len(space.datasets) == 1 else
                        f"the prior baseline needs a source task: --transfer-from {space.name}/DATASET")


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    top, _ = knowledge.source_top(ctx.settings, ctx.space, ctx.settings.lapt.samples(ctx.space))
    table = op_stats.frequencies(ctx.space, [arch for arch, _ in top])
    return {"step": step, "pool": search.prior(ctx, state, nodes.seeded(ctx, step), table, 1)}
