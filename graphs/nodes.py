"""Nodes shared by the graph variants: propose, review, evaluate, finish.

Each node reads the typed state, does one thing, journals it, and returns an
update.  LangGraph re-runs an interrupted node on resume, so `evaluate`
first looks in the journal for an evaluation already made at this step and
reuses it instead of paying for it twice.
"""

from __future__ import annotations

import random
import time

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents import critic, designer
from graphs.context import RunContext
from graphs.remember import designer_notes
from graphs.state import SearchState
from memory.journal import dumps
from spaces.base import Evaluation, Trial
from tools import archive_insert, evaluator

FALLBACK_TRIES = 200


def propose(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    """Designer proposes; after too many rejections in a row, or an unparseable
    answer, a seeded mutation of the best cell stands in (and is counted)."""
    ctx, step = runtime.context, state.step + 1
    if state.rejections_in_row >= ctx.settings.max_rejections:
        return _fallback(state, ctx, step, f"{state.rejections_in_row} proposals in a row were rejected")
    temperature = designer.retry_temperature(ctx.settings.temperature, state.rejections_in_row)
    arch, rationale, usage = designer.propose(ctx.askers["designer"], ctx.space, ctx.settings.dataset,
                                              state.trials, ctx.journal, step, temperature,
                                              seed=ctx.settings.seed * 100_003 + step, notes=designer_notes(ctx))
    update = {"usage": state.add_usage("designer", usage)}
    if arch is None:
        return {**update, **_fallback(state, ctx, step, "the designer's answer did not parse"),
                "parse_failures": state.parse_failures + 1}
    return {**update, "step": step, "pending": Trial(step=step, arch=arch, source="llm", rationale=rationale)}


def _fallback(state: SearchState, ctx: RunContext, step: int, why: str) -> dict:
    arch = fallback_arch(state, ctx, step)
    if arch is None:
        return {"step": step, "pending": None, "done": True,
                "stop_reason": "no untried architecture satisfies the constraints"}
    base = state.best()
    ctx.journal.append(step, "fallback", data={"reason": why, "arch": arch, "mutated_from": base.arch if base else None})
    return {"step": step, "pending": Trial(step=step, arch=arch, source="fallback",
                                           rationale=f"seeded mutation of the best cell ({why})"),
            "fallbacks": state.fallbacks + 1}


def fallback_arch(state: SearchState, ctx: RunContext, step: int) -> str | None:
    """A mutation of the best cell that the rule critic would accept; random cells if
    the neighbourhood is exhausted.  Seeded by (seed, step) so a resume repeats it."""
    rng = random.Random(f"{ctx.settings.seed}:{step}")
    best = state.best()
    evaluated = state.evaluated()
    for attempt in range(FALLBACK_TRIES):
        if best is not None and attempt < FALLBACK_TRIES // 2:
            arch = ctx.space.mutate(best.arch, rng)
        else:
            arch = ctx.space.sample_random(rng)
        if critic.check_rules(ctx.space, ctx.settings.dataset, arch, evaluated,
                              ctx.settings.max_flops_m, ctx.settings.max_params_m).accept:
            return arch
    return None


def review(state: SearchState, runtime: Runtime[RunContext]) -> Command:
    """The Critic decides whether the pending proposal is worth an evaluation."""
    ctx, trial = runtime.context, state.pending
    if trial is None:  # the fallback found nothing left to try
        return Command(goto="finish")
    settings = ctx.settings
    passed = "approve" if settings.approve else "evaluate"  # the user has the last word (graphs/approve.py)
    if settings.critic == "off":
        return Command(goto=passed)
    verdict = critic.check_rules(ctx.space, settings.dataset, trial.arch, state.evaluated(),
                                 settings.max_flops_m, settings.max_params_m)
    update: dict = {}
    if verdict.accept and settings.critic == "llm" and trial.source == "llm":
        verdict, usage = critic.review_with_llm(ctx.askers["critic"], ctx.space, settings.dataset, trial.arch,
                                                trial.rationale, state.evaluated(), ctx.journal, trial.step)
        update["usage"] = state.add_usage("critic", usage)
    ctx.journal.append(trial.step, "critic", role="critic", data={"arch": trial.arch, **verdict.model_dump()})
    if verdict.accept:
        return Command(goto=passed, update=update)
    rejected = trial.model_copy(update={"accepted": False, "verdict": verdict.reason})
    return Command(goto="propose", update={**update, "trials": state.trials + [rejected], "pending": None,
                                           "rejections_in_row": state.rejections_in_row + 1})


def evaluate(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    """Query the benchmark (or reuse the journaled result of this step) and archive it."""
    ctx, trial = runtime.context, state.pending
    done = ctx.journal.find("evaluation", trial.step)
    if done is not None and done.data.get("arch") == trial.arch:
        evaluation = Evaluation.model_validate(done.data)
    else:
        args = {"arch": trial.arch, "dataset": ctx.settings.dataset, **ctx.tool_args}
        started = time.perf_counter()
        tool = evaluator(ctx.space.name)
        result = tool.invoke(args)
        ctx.journal.append(trial.step, "tool_call", data={"tool": tool.name, "args": args, "result": result,
                                                          "seconds": round(time.perf_counter() - started, 4)})
        evaluation = Evaluation.model_validate(result)
        ctx.journal.append(trial.step, "evaluation", data=evaluation.model_dump())
    archive = state.archive.model_copy(deep=True)
    if evaluation.ok:  # a candidate that failed to train (torch-code) has no fitness to archive
        status = archive_insert.archive_insert(archive, ctx.space, trial.arch, evaluation.val_acc, trial.step)
        ctx.journal.append(trial.step, "archive", data={"tool": "archive_insert", "arch": trial.arch, **status})
    return {"trials": state.trials + [trial.model_copy(update={"evaluation": evaluation})], "pending": None,
            "evaluations": state.evaluations + 1, "rejections_in_row": 0, "archive": archive}


def after_evaluate(state: SearchState, runtime: Runtime[RunContext]) -> str:
    return "finish" if state.evaluations >= runtime.context.settings.budget or state.done else "propose"


def finish(state: SearchState, runtime: Runtime[RunContext]) -> dict:
    """Read test accuracy and rank of the best cell once, and write result.json."""
    from graphs.result import summarise

    from graphs.remember import remember

    ctx = runtime.context
    result = summarise(state, ctx)
    remember(state, ctx)  # the persistent memory (memory/store.py) keeps what this search evaluated
    ctx.journal.append(state.step, "result", data=result)
    if ctx.result_path is not None:
        ctx.result_path.write_text(dumps(result))
    return {"done": True, "stop_reason": state.stop_reason or "budget reached"}
