"""The source task's prior (no LLM): sample architectures from the per-position operation
frequencies of the source task's `lapt.learn_samples` (50) best architectures, the
statistical core of LAPT (seed 003, section 3) without an LLM.  The source task is
`--transfer-from SPACE/DATASET` or the space's LAPT default (NB201: ImageNet16-120).

Its baseline value is for transfer: it costs no evaluation on the target task beyond the
ones it spends, as LAPT's principles do not."""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

import spaces
from errors import UserError
from graphs import nodes, search
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


def source_task(settings: Settings, space) -> tuple[str, str]:
    """(space, dataset) of the source task."""
    task = settings.lapt.resolved(space, settings.dataset).transfer_from if space.lapt else settings.lapt.transfer_from
    if task is None and len(space.datasets) == 1:
        raise UserError(f"the prior baseline transfers from another task of the same space; {space.name} has only "
                        f"{space.datasets[0]}")
    if task is None:
        raise UserError(f"the prior baseline needs a source task: --transfer-from {space.name}/DATASET")
    name, _, dataset = task.partition("/")
    if name != space.name:
        raise UserError(f"the prior of {name} cannot drive a search of {space.name}: transfer within one space")
    dataset = spaces.get(name).resolve_dataset(dataset)
    if dataset == settings.dataset:
        raise UserError(f"the prior's source task {name}/{dataset} is the target task itself (its best "
                        "architectures are the answer); choose another with --transfer-from")
    return name, dataset


def check(settings: Settings, space) -> None:
    """Before the run folder is made: the source task exists and is not the target."""
    source_task(settings, space)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    ctx, step = runtime.context, state.step + 1
    name, dataset = source_task(ctx.settings, ctx.space)
    top = op_stats.top_of(ctx.space, dataset, ctx.settings.lapt.learn_samples)
    table = op_stats.frequencies(ctx.space, [arch for arch, _ in top])
    return {"step": step, "pool": search.prior(ctx, state, nodes.seeded(ctx, step), table, 1)}
