"""GENIUS (seed 002, section 3, Algorithm 1): the LLM as a black-box optimiser, grounded in evidence.

    propose -> review -> evaluate -> (budget left? propose : finish)

Each round the Designer proposes: in `edits` mode (default) several edits of evaluated
architectures and one new one per call; in `genius` mode one whole architecture, the
paper's dialogue (history of proposals, rationales and measured validation accuracy;
10 iterations at temperature 0 are the paper's defaults).

With the evidence Critic (default) the pool also holds the candidates of the search the
graph contains: children of REA tournament winners and random samples of the space.  The
Critic ranks everything by evidence that costs no evaluation plus the credit each source
has earned with its evaluations (agents/critic.py: allocate), so a weak designer loses its
evaluations to the contained search after one or two, and a good one earns most of them.
With `--critic rules` (the paper's setting) only the designer's proposal is considered;
after `max_rejections` rejected rounds a REA step stands in.  `--designer none` never asks
the model: the same Critic and contained search alone, the twin that measures what the
model adds.
"""

from __future__ import annotations

from langgraph.graph import StateGraph
from langgraph.runtime import Runtime

from agents import critic, designer
from graphs import nodes, search
from graphs.context import RunContext
from graphs.remember import designer_notes
from graphs.state import SearchState
from settings import Settings
from spaces.base import Positional, Trial

NAME = "genius"
STATE = SearchState
REQUIRES: tuple[type, ...] = ()


def roles(settings: Settings) -> list[str]:
    """The agent roles this graph calls a model for (`--designer none`: its no-model twin)."""
    return (["designer"] if settings.designer != "none" else []) + (["critic"] if settings.critic == "llm" else [])


def default_budget(settings: Settings) -> int:
    return 10  # the paper's iterations (seed 002, section 4)


def planned_evaluations(settings: Settings) -> int:
    return settings.budget


def build(settings: Settings) -> StateGraph:
    return nodes.step_graph(SearchState, propose, settings)


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    """The designer's candidates, the contained baseline's, or (after repeated rejections or an
    unusable answer) a REA step counted as a fallback."""
    ctx, settings = runtime.context, runtime.context.settings
    step = state.step + 1
    rng = nodes.seeded(ctx, step)
    update: dict = {"step": step}
    contained = nodes.ranks_by_evidence(ctx)
    if settings.designer == "none":  # the no-model twin: the Critic and the contained search alone
        llm, why = [], "" if contained else "the designer is off (--designer none)"
    elif state.rejections_in_row >= settings.max_rejections:
        llm = []
        why = f"{state.rejections_in_row} rounds in a row were rejected"
    elif contained and settings.designer == "edits" and (step - 1) % designer_every(settings) != 0:
        llm, why = [], ""  # between designer calls: its earlier candidates are still in the pool
    else:
        llm, usage = _ask_designer(state, ctx, step)
        update["usage"] = state.add_usage("designer", usage)
        why = "" if llm else "the designer's answer gave no usable candidate"
        if not llm:
            update["parse_failures"] = state.parse_failures + 1
    pool = state.pool + llm
    if contained:
        pool += search.rea_child(ctx, state.model_copy(update={"pool": pool}), rng, settings.pool_rea, "rea")
        pool += search.random_new(ctx, state.model_copy(update={"pool": pool}), rng, settings.pool_random, "random")
    if why:  # a search step stands in for the designer, and is counted
        fallback = search.rea_child(ctx, state.model_copy(update={"pool": pool}), rng, 1, "fallback")
        ctx.journal.append(step, "fallback", data={"reason": why, "arch": fallback[0].arch if fallback else None,
                                                   "how": "REA: mutation of a tournament winner"})
        pool += fallback
        update["fallbacks"] = state.fallbacks + 1
    return {**update, "pool": pool}


def designer_every(settings: Settings) -> int:
    """Rounds per designer call: every round up to a budget of 20, then about 20 calls a run (a
    call of a 0.5B model on two cores takes ~30 s; the contained search fills the rounds between,
    and the designer's candidates not evaluated yet stay in the pool)."""
    return settings.designer_every or max(1, settings.budget // 20)


def _ask_designer(state: SearchState, ctx: RunContext, step: int) -> tuple[list[Trial], object]:
    settings = ctx.settings
    temperature = designer.retry_temperature(settings.temperature, state.rejections_in_row)
    seed, notes = settings.seed * 100_003 + step, designer_notes(ctx)
    if settings.designer == "edits" and isinstance(ctx.space, Positional):
        evaluated = state.evaluated()
        mean = critic.credits(evaluated, {"model"})["model"].mean
        record = designer.standing(ctx.space, evaluated, state.pool, mean) if nodes.ranks_by_evidence(ctx) else ""
        found, usage = designer.candidates(ctx.askers["designer"], ctx.space, settings.dataset, state.trials,
                                           ctx.journal, step, settings.candidates, temperature, seed, notes, record)
        return [Trial(step=0, arch=c.arch, source=c.source, rationale=c.rationale) for c in found], usage
    arch, rationale, usage = designer.propose(ctx.askers["designer"], ctx.space, settings.dataset, state.trials,
                                              ctx.journal, step, temperature, seed=seed, notes=notes)
    return ([Trial(step=0, arch=arch, source="llm", rationale=rationale)] if arch else []), usage
