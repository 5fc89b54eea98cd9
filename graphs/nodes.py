"""Nodes shared by the graph variants, and the one evaluation path every graph uses.

A step graph (GENIUS and the no-LLM baselines) is

    propose -> review -> [approve] -> evaluate -> (budget left? propose : finish)

where only `propose` differs between graphs: it adds candidates to the pool.  `review` is
the Critic (rules, then the evidence ranking, then the critic model if it has one),
`evaluate` spends one evaluation on the chosen candidate, `finish` writes result.json.

`evaluate_arch` is how every graph evaluates (LLMatic and LAPT included): an
architecture already evaluated in this run is read back from the journal instead of
being paid for again, which is what makes every node idempotent when LangGraph re-runs
an interrupted one on resume.
"""

from __future__ import annotations

import random
import time
from typing import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents import critic
from agents.structured import Usage
from graphs import knowledge
from graphs.context import RunContext
from graphs.state import SearchState
from memory.journal import dumps
from settings import Settings
from spaces.base import Evaluation, Trial
from tools import evidence as evidence_tool
from memory.archive import Archive
from tools.archive_insert import archive_insert
from tools.evaluate import evaluator

POOL_LIMIT = 64  # candidates kept between rounds (the best by evidence)


def evaluate_arch(ctx: RunContext, arch: str, step: int, ready: dict | None = None) -> Evaluation:
    """Evaluate `arch` on the run's dataset through the space's tool, journaled as a tool call
    and an evaluation; or reuse this run's journaled evaluation of it.  `ready` is a result
    the caller already has (a training started ahead of time, graphs/llmatic.py)."""
    dataset = ctx.settings.dataset
    done = ctx.journal.evaluation_of(arch, dataset)
    if done is not None:
        return Evaluation.model_validate(done.data)
    called = ctx.journal.tool_result_of(arch, dataset)
    if called is not None and isinstance(called.data.get("result"), dict):  # killed before the evaluation line
        result = called.data["result"]
    else:
        tool = evaluator(ctx.space)
        args = {"arch": arch, "dataset": dataset}
        started = time.perf_counter()
        result = ready if ready is not None else tool.invoke(args)
        ctx.journal.append(step, "tool_call", data={"tool": tool.name, "args": args, "result": result,
                                                    "seconds": round(time.perf_counter() - started, 4)})
    evaluation = Evaluation.model_validate(result)
    ctx.journal.append(step, "evaluation", data={**evaluation.model_dump(), "dataset": dataset})
    return evaluation


# --- module verbs the no-LLM graphs share (graphs/__init__.py lists what a graph module has) ---


def no_model(settings: Settings) -> list[str]:
    """roles(): the baselines call no model."""
    return []


def ten(settings: Settings) -> int:
    """default_budget(): GENIUS's 10, so a baseline compares with it unless told otherwise."""
    return 10


def the_budget(settings: Settings) -> int:
    """planned_evaluations(): the budget."""
    return settings.budget


# --- the Critic -----------------------------------------------------------------------------


def review(state: SearchState, runtime: Runtime[RunContext]) -> Command:
    """Choose the candidate that deserves the next evaluation, or send the designer back."""
    ctx, settings = runtime.context, runtime.context.settings
    passed = "approve" if settings.approve else "evaluate"  # the user has the last word (graphs/approve.py)
    if not state.pool:  # the proposal round produced nothing at all (nothing left to try)
        return Command(goto="finish", update={"done": True, "stop_reason": "no untried architecture is left "
                                              "that satisfies the constraints"})
    if settings.critic == "off":
        chosen, rest = state.pool[0], state.pool[1:]
        ctx.journal.append(state.step, "critic", role="critic", data={"arch": chosen.arch, "accept": True,
                                                                      "kind": "ok", "reason": "critic off"})
        return Command(goto=passed, update={"pending": chosen.model_copy(update={"step": state.step}), "pool": rest})
    evaluated = state.index()
    accepted, rejected = [], []
    for candidate in state.pool:
        verdict = critic.check_rules(ctx.space, settings.dataset, candidate.arch, evaluated,
                                     settings.max_flops_m, settings.max_params_m, settings.min_flops_m)
        if verdict.accept:
            accepted.append(candidate)
        elif candidate.source in ("llm", "edit", "human"):  # the designer hears why (baselines draw valid ones)
            rejected.append(candidate.model_copy(update={"step": state.step, "accepted": False,
                                                         "verdict": verdict.reason}))
            ctx.journal.append(state.step, "critic", role="critic",
                               data={"arch": candidate.arch, "source": candidate.source, **verdict.model_dump()})
    if not accepted:
        return Command(goto="propose", update={"trials": state.trials + rejected, "pool": [],
                                               "rejections_in_row": state.rejections_in_row + 1})
    chosen, rest, update = _choose(state, ctx, accepted)
    ctx.journal.append(state.step, "critic", role="critic", data=chosen.pop("journal"))
    return Command(goto=passed, update={**update, "trials": state.trials + rejected, "pool": rest,
                                        "pending": chosen["trial"].model_copy(update={"step": state.step})})


def _choose(state: SearchState, ctx: RunContext, accepted: list[Trial]) -> tuple[dict, list[Trial], dict]:
    """The chosen candidate (with its journal record), the rest kept for later, a state update."""
    settings = ctx.settings
    if not ranks_by_evidence(ctx) or len(accepted) == 1 and settings.critic != "llm":
        first = accepted[0]
        return ({"trial": first, "journal": {"arch": first.arch, "source": first.source, "accept": True,
                                             "kind": "ok", "reason": "new, and within the constraints."}},
                accepted[1:], {})
    ranked, record, usage = rank_pool(ctx, state, accepted, state.step)
    by_arch = {c.arch: c for c in accepted}
    chosen = by_arch[ranked[0].arch].model_copy(update={"evidence": ranked[0].evidence})
    # The pool carried to the next round: the contained search's candidates as its no-model twin
    # keeps them (its own order, see critic.allocate), beside the model's best by evidence, so the
    # model's candidates never crowd out the contained search's.
    kept = [r for r in ranked[1:] if critic.group_of(r.source) != "model"][:POOL_LIMIT] + \
        sorted((r for r in ranked[1:] if critic.group_of(r.source) == "model"), key=lambda r: -r.score)[:POOL_LIMIT // 4]
    rest = [_with_evidence(by_arch[r.arch], r.evidence) for r in kept]
    update = {"usage": state.add_usage("critic", usage)} if usage is not None else {}
    return {"trial": chosen, "journal": record}, rest, update


def _with_evidence(trial: Trial, evidence: dict[str, float]) -> Trial:
    # a candidate carried over keeps its (cached) evidence: no copy then (60 a step were 1 ms)
    return trial if trial.evidence == evidence else trial.model_copy(update={"evidence": evidence})


def ranks_by_evidence(ctx: RunContext) -> bool:
    return contained(ctx.settings, ctx.space)


def contained(settings: Settings, space) -> bool:
    """The Critic ranks a pool by evidence (critic evidence/llm) on spaces where evidence is cheap,
    and the graph's contained search adds its candidates to it; on torch-code every candidate's
    FLOPs would cost a sandboxed forward pass, so there the rules alone decide and no contained
    search joins the pool (`cheap_evidence`: mobilenetv2 counts its FLOPs analytically)."""
    return settings.critic in ("evidence", "llm") and space.cheap_evidence


def rank_pool(ctx: RunContext, state: SearchState, candidates: list[Trial],
              step: int, batch: int = 1) -> tuple[list[critic.Ranked], dict, Usage | None]:
    """Rank candidates by evidence and their source's credit (agents/critic.py: allocate), and let
    the critic model pick the first when it has one: (ranked, the pick first; the journal record
    of the decision, with every source's credit; the critic model's usage)."""
    settings = ctx.settings
    kinds = knowledge.evidence_kinds(settings, ctx.space)
    prior = knowledge.prior_table(settings, ctx.space) if "prior" in kinds else None
    evidence = [c.evidence if set(c.evidence) == set(kinds) else  # carried over from an earlier round
                evidence_tool.gather(ctx.space, c.arch, settings.dataset, kinds, settings.seed, prior)
                for c in candidates]
    ranked, credits = critic.allocate(candidates, evidence, state.standings(), batch)
    index, reason, usage = 0, _ranking_reason(ranked, credits), None
    if settings.critic == "llm":
        rationales = {c.arch: c.rationale for c in candidates if c.source in ("llm", "edit")}
        index, reason, usage = critic.choose_with_llm(ctx.askers["critic"], ctx.space, settings.dataset, ranked,
                                                      rationales, state.evaluated(), ctx.journal, step)
    pick = ranked[index]
    ranked = [pick] + [r for i, r in enumerate(ranked) if i != index]
    record = {"arch": pick.arch, "source": pick.source, "accept": True, "kind": "ranked", "reason": reason,
              "evidence": pick.evidence, "score": pick.score, "credit": pick.credit, "rank": index + 1,
              "kinds": list(kinds), "credits": {g: c.model_dump() for g, c in credits.items()},
              "ranking": [r.model_dump() for r in ranked[:10]], "pool": len(ranked)}
    return ranked, record, usage


def _ranking_reason(ranked: list[critic.Ranked], credits: dict[str, critic.Credit]) -> str:
    top = ranked[0]
    evidence = ", ".join(f"{k} {v:.4g}" for k, v in sorted(top.evidence.items()))
    return (f"best of {len(ranked)} candidates: evidence score {top.score:.2f} ({evidence}) + credit of its source "
            f"({critic.group_of(top.source)}) {top.credit:.2f}")


# --- evaluation and the end of a run ----------------------------------------------------------


def evaluate(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    """Spend one evaluation on the pending candidate and archive it."""
    ctx, trial = runtime.context, state.pending
    evaluation = evaluate_arch(ctx, trial.arch, trial.step)
    if evaluation.ok:  # a candidate that failed to train (torch-code) has no fitness to archive
        status = archive_insert(archive_of(ctx, state), ctx.space, trial.arch, evaluation.val_acc, trial.step)
        ctx.journal.append(trial.step, "archive", data={"tool": "archive_insert", "arch": trial.arch, **status})
    ctx.archived = state.evaluations + 1
    return {"trials": state.trials + [trial.model_copy(update={"evaluation": evaluation})], "pending": None,
            "evaluations": state.evaluations + 1, "rejections_in_row": 0}


def archive_of(ctx: RunContext, state: SearchState) -> Archive:
    """The run's elite archive as of `state`: kept in the context between steps (it is derived from
    the evaluated trials, so it is not checkpointed), rebuilt from them after a resume or a re-run."""
    if ctx.archive is None or ctx.archived != state.evaluations:
        ctx.archive = Archive()
        for t in state.evaluated():
            ctx.archive.insert(t.evaluation.canonical, t.arch, t.val_acc, t.step)
    return ctx.archive


def after_evaluate(state: SearchState, runtime: Runtime[RunContext]) -> str:
    from graphs import limits

    if state.evaluations >= runtime.context.settings.budget or state.done:
        return "finish"
    return limits.HALT if limits.reached(state, runtime.context) else "propose"


def finish(state, runtime: Runtime[RunContext]) -> dict:
    """Read test accuracy and rank of the best architecture once, write result.json, and keep
    what was evaluated in the persistent memory.  `state` is the graph's own state class (its
    `extra_result` adds the graph's part): unannotated, because LangGraph would otherwise
    narrow a subclass's state to the annotated class and drop its fields."""
    from graphs.remember import remember

    ctx = runtime.context
    stop_reason = state.stop_reason or ("budget reached" if state.evaluations >= ctx.settings.budget
                                        else "stopped before the budget")
    final = state.model_copy(update={"stop_reason": stop_reason})
    result = write_result(final, ctx, stop_reason)
    remember(final, ctx)  # the persistent memory (memory/store.py) keeps what this search evaluated
    ctx.journal.append(state.step, "result", data=result)
    return {"done": True, "stop_reason": stop_reason}


def write_result(state, ctx: RunContext, stop_reason: str, resumable: bool = False) -> dict:
    """result.json from the state: the common summary and the graph's own part, written atomically.
    `resumable`: a run paused at a limit (graphs/limits.py), to be continued."""
    from graphs.result import summarise

    final = state.model_copy(update={"stop_reason": stop_reason})
    result = {**summarise(final, ctx), **final.extra_result(ctx), "resumable": resumable}
    if ctx.result_path is not None:
        tmp = ctx.result_path.with_suffix(".json.partial")
        tmp.write_text(dumps(result))
        tmp.replace(ctx.result_path)
    return result


# --- the step graph ----------------------------------------------------------------------------


def step_graph(state: type[SearchState], propose: Callable, settings: Settings) -> StateGraph:
    """propose -> review -> [approve] -> evaluate -> propose | finish, with the graph's own propose."""
    from graphs import approve, limits

    graph = StateGraph(state, context_schema=RunContext)
    graph.add_node("propose", propose)
    graph.add_node("review", review, destinations=("evaluate", "propose", "finish")
                   + (("approve",) if settings.approve else ()))
    if settings.approve:
        graph.add_node("approve", approve.approve, destinations=("evaluate", "propose"))
    graph.add_node("evaluate", evaluate)
    graph.add_node("halt", limits.halt)
    graph.add_node("finish", finish)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "review")
    graph.add_conditional_edges("evaluate", after_evaluate, ["propose", "halt", "finish"])
    graph.add_edge("halt", "propose")
    graph.add_edge("finish", END)
    return graph


def seeded(ctx: RunContext, step: int, what: str = "") -> random.Random:
    """The rng of a proposal round: seeded by (seed, step), so a resumed round repeats itself."""
    return random.Random(f"{ctx.settings.seed}:{step}:{what}")
