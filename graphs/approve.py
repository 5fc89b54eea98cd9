"""Human in the loop (`search --approve`): the user accepts, edits or rejects what the agents
propose before it costs evaluations.  Every graph pauses with a LangGraph `interrupt()`; the CLI
shows the payload (render.py) and resumes with `Command(resume=decision)`, LangGraph Studio with
the same decision as the thread's resume value.  On resume LangGraph runs the node again from the
top and `interrupt()` returns the decision, so a node has no side effect before it.

- `approve` (GENIUS and the baselines, between `review` and `evaluate`): one candidate
  (Decision: accept, edit with `arch`, reject).
- `approve_batch` (LLMatic, between `generation` and `evaluate`): the generation's batch of
  offspring as the Critic chose it (BatchDecision: accept, edit with the `batch` of
  architectures to evaluate, kept or new, reject: none of them).
- `approve_space` (LAPT, after `transfer` and `adapt`): the principles and the refined space
  the next round searches (SpaceDecision: accept, edit with `principles` and/or `refined`,
  reject: the previous round's, the whole space at the start).

Decisions are journaled as `critic` events with role `human`, one per architecture (the user
acts as a critic); an edit that is not valid counts as a rejection, with the reason.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import BaseModel, ValidationError

from agents import critic
from errors import UserError
from graphs.context import RunContext
from graphs.state import SearchState


class Decision(BaseModel):
    action: Literal["accept", "edit", "reject"]
    arch: str | None = None  # the replacement architecture, for `edit`


def approve(state: SearchState, runtime: Runtime[RunContext]) -> Command:
    ctx, trial = runtime.context, state.pending
    decision = Decision.model_validate(interrupt({
        "step": trial.step, "arch": trial.arch, "source": trial.source, "rationale": trial.rationale,
        "proposal": ctx.space.to_proposal(trial.arch), "evaluations": state.evaluations,
        "best": state.best().model_dump(include={"step", "arch"}) | {"val_acc": state.best().val_acc}
        if state.best() else None}))
    arch, reason = trial.arch, "accepted by the user"
    if decision.action == "edit":
        arch, reason = _edited(ctx, state, decision.arch or "")
    accept = decision.action != "reject" and arch is not None
    if decision.action == "reject":
        reason = "rejected by the user"
    ctx.journal.append(trial.step, "critic", role="human",
                       data={"arch": arch or decision.arch, "accept": accept, "kind": decision.action,
                             "reason": reason, "proposed": trial.arch})
    if accept:
        edited = {"arch": arch, "source": "human", "rationale": f"edited by the user (proposed {trial.arch})"}
        pending = trial.model_copy(update=edited) if arch != trial.arch else trial
        return Command(goto="evaluate", update={"pending": pending})
    rejected = trial.model_copy(update={"accepted": False, "verdict": reason})
    return Command(goto="propose", update={"trials": state.trials + [rejected], "pending": None,
                                           "rejections_in_row": state.rejections_in_row + 1})


def _edited(ctx: RunContext, state: SearchState, text: str) -> tuple[str | None, str]:
    """The user's architecture if it is valid and the rules critic accepts it."""
    try:
        arch = ctx.space.validate(text.strip())
    except UserError as err:
        return None, f"the user's edit is not a valid architecture: {err}"
    verdict = critic.check_rules(ctx.space, ctx.settings.dataset, arch, state.evaluated(),
                                 ctx.settings.max_flops_m, ctx.settings.max_params_m)
    return (arch, "edited by the user") if verdict.accept else (None, f"the user's edit was rejected: {verdict.reason}")


def _best(state: SearchState) -> dict | None:
    best = state.best()
    return {"step": best.step, "arch": best.arch, "val_acc": best.val_acc} if best else None


# --- LLMatic: a generation's batch ---------------------------------------------------------------


class BatchDecision(BaseModel):
    action: Literal["accept", "edit", "reject"]
    batch: list[str] | None = None  # for `edit`: the architectures to evaluate (kept ones and new ones)


def approve_batch(state, runtime: Runtime[RunContext]) -> Command:
    """LLMatic's batch (state.held, graphs/llmatic.py) before its evaluations.  Unannotated state:
    the node sees the graph's own state class (see nodes.finish)."""
    from graphs.llmatic import Offspring, Plan, ranked_out_child

    ctx, held = runtime.context, state.held
    decision = BatchDecision.model_validate(interrupt({
        "kind": "batch", "generation": held.generation, "evaluations": state.evaluations,
        "budget": ctx.settings.budget, "best": _best(state),
        "batch": [{"index": c.index, "arch": c.arch, "operator": c.operator} for c in held.chosen]}))
    wanted = [c.arch for c in held.chosen] if decision.action == "accept" else [] if decision.action == "reject" \
        else list(dict.fromkeys(decision.batch or []))
    chosen, children = [], list(held.children)
    for child in held.chosen:  # by offspring, not by architecture: two offspring may be the same cell
        kept = child.arch in wanted
        _journal(ctx, held.generation, child.arch, kept, decision.action if kept else "reject",
                 "accepted by the user" if kept else "rejected by the user", proposed=child.arch)
        if kept:
            chosen.append(child)
        else:
            children.append(ranked_out_child(ctx, state, Plan(**child.model_dump(include=set(Plan.model_fields))),
                                             child.arch, "rejected by the user"))
    index = max((c.index for c in held.chosen + held.children), default=-1)
    for text in (arch for arch in wanted if arch not in {c.arch for c in held.chosen}):
        arch, reason = _edited(ctx, state, text)
        if arch is not None and arch not in {c.arch for c in chosen}:
            index += 1
            chosen.append(Offspring(generation=held.generation, index=index, operator="human", arch=arch))
        _journal(ctx, held.generation, arch or text, arch is not None, "edit",
                 "added by the user" if arch is not None else reason, proposed=None)
    return Command(goto="evaluate", update={"held": held.model_copy(update={"chosen": chosen, "children": children})})


def _journal(ctx: RunContext, step: int, arch: str, accept: bool, kind: str, reason: str, **data) -> None:
    ctx.journal.append(step, "critic", role="human", data={"arch": arch, "accept": accept, "kind": kind,
                                                           "reason": reason, **data})


# --- LAPT: the principles and the refined space of the next round ----------------------------------


class SpaceDecision(BaseModel):
    action: Literal["accept", "edit", "reject"]
    principles: list[str] | None = None         # for `edit`: the principles as the user words them (None: kept)
    refined: dict[str, list[str]] | None = None  # for `edit`: operations per position (positions left out: kept)


def approve_space(state, runtime: Runtime[RunContext]) -> dict:
    """LAPT's principles and refined space before the round that searches it.  The node is on the
    graph's path whenever it was built with approval (the LangGraph server builds every graph so);
    a run without `approve` passes through."""
    from spaces.refined import RefinedSpace, full_space

    ctx = runtime.context
    if not ctx.settings.approve:
        return {}
    proposed = state.refined or full_space(ctx.space)
    decision = SpaceDecision.model_validate(interrupt({
        "kind": "space", "round": len(state.rounds) + 1, "evaluations": state.evaluations, "best": _best(state),
        "principles": [p.text for p in state.principles], "origins": [p.origin for p in state.principles],
        "refined": proposed.allowed, "cells": proposed.size(),
        "positions": {p: list(ops) for p, ops in ctx.space.positions().items()}}))
    update, accept, reason = {}, decision.action == "accept", "accepted by the user"
    if decision.action == "edit":
        update, accept, reason = _edited_space(ctx, proposed, decision)
    elif decision.action == "reject":
        reason = "rejected by the user"
    if not accept:  # the round before's principles and space (at the start: no transfer, the whole space)
        previous = state.rounds[-1] if state.rounds else None
        update = {"principles": previous.principles if previous else [],
                  "refined": previous.refined if previous else full_space(ctx.space)}
    refined: RefinedSpace = update.get("refined", proposed)
    _journal(ctx, len(state.rounds), f"the refined space of {refined.size()} cells", accept,
             decision.action if accept else "reject", reason,
             principles=[p.text for p in update.get("principles", state.principles)], refined=refined.allowed,
             proposed={"principles": [p.text for p in state.principles], "refined": proposed.allowed})
    return update


def _edited_space(ctx: RunContext, proposed, decision: SpaceDecision) -> tuple[dict, bool, str]:
    """The user's principles and space if they are valid: sentences a principle can be (memory/store.py),
    operations each position has, none left empty."""
    from memory.store import Principle
    from spaces.refined import RefinedSpace

    update: dict = {}
    if decision.principles is not None:
        try:
            update["principles"] = [Principle(text=text, origin="human") for text in decision.principles]
        except ValidationError as err:
            return {}, False, f"the user's edit was rejected: {err.errors()[0]['msg']}"
    if decision.refined is not None:
        choices = ctx.space.positions()
        for position, ops in decision.refined.items():
            if position not in choices or not ops or set(ops) - set(choices[position]):
                return {}, False, (f"the user's edit was rejected: {position} takes one or more of "
                            f"{', '.join(choices.get(position, ()))}" if position in choices else
                            f"the user's edit was rejected: no position {position!r}")
        edited = {position: list(ops) for position, ops in decision.refined.items()}
        update["refined"] = RefinedSpace(allowed={**proposed.allowed, **edited})
    return update, True, "edited by the user"
