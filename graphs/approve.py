"""Human in the loop (`search --approve`): the user accepts, edits or rejects each proposal
before it costs an evaluation.

GENIUS only: the node sits between `review` and `evaluate` and pauses the graph with a
LangGraph `interrupt()`; the CLI shows the payload and resumes with
`Command(resume=Decision(...).model_dump())`.  On resume LangGraph runs this node again from
the top and `interrupt()` returns the decision, so the node has no side effect before it.
(LLMatic breeds a whole batch inside one node, concurrently, so there is no single
proposal to pause on; `--approve` is refused there.)

The decision is journaled as a `critic` event with role `human`: the user acts as a critic.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import BaseModel

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
                                 ctx.settings.max_flops_m, ctx.settings.max_params_m, ctx.settings.min_flops_m)
    return (arch, "edited by the user") if verdict.accept else (None, f"the user's edit was rejected: {verdict.reason}")
