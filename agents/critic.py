"""The Critic: reviews a proposal before it costs an evaluation, and says why.

Rules first, because they are exact and free: a proposal is rejected when it
was already evaluated, when it is isomorphic to an evaluated one (same
canonical form: it would compute the same function), or when it breaks a
FLOPs/params constraint.  In `llm` mode the critic model then reviews what
passed the rules against the evidence so far (useful with a capable model;
a 135M model mostly agrees).  In `off` mode everything is evaluated.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agents.structured import Asker, Usage
from errors import UserError
from memory.journal import Journal
from spaces.base import SearchSpace, Trial

VerdictKind = Literal["ok", "duplicate", "isomorphic", "constraint", "malformed", "llm_rejected"]


class Verdict(BaseModel):
    accept: bool
    kind: VerdictKind
    reason: str


class Review(BaseModel):
    """What the critic model answers in `llm` mode."""

    accept: bool = Field(description="true if the proposal deserves an evaluation")
    reason: str = Field(description="one sentence")


SYSTEM = """\
You are the Critic in a neural architecture search. Evaluations are expensive. You see one proposed \
architecture, the designer's rationale and the results so far, and you decide whether the proposal \
deserves an evaluation. Reject only with a concrete reason; answer with a JSON object."""

REVIEW = """\
{problem}

Results so far (validation accuracy, best first):
{results}

Proposed architecture: {proposal}
Designer's rationale: {rationale}

Should this proposal be evaluated?"""


def check_rules(space: SearchSpace, dataset: str, arch: str, evaluated: list[Trial],
                max_flops_m: float | None, max_params_m: float | None) -> Verdict:
    """The exact checks, in order of cheapness."""
    try:  # code spaces (torch-code) refuse code they will not run; the reason goes back to the designer
        space.validate(arch)
    except UserError as err:
        return Verdict(accept=False, kind="malformed", reason=f"it cannot be run: {err}")
    for trial in evaluated:
        if trial.arch == arch:
            return Verdict(accept=False, kind="duplicate",
                           reason=f"it is identical to the architecture evaluated at step {trial.step} "
                                  f"({trial.val_acc:.2f}%).")
    canonical = space.canonical(arch)
    for trial in evaluated:
        if trial.evaluation and trial.evaluation.canonical == canonical:
            return Verdict(accept=False, kind="isomorphic",
                           reason=f"it computes the same function as the architecture evaluated at step "
                                  f"{trial.step} ({trial.val_acc:.2f}%): {trial.arch}")
    if max_flops_m is not None or max_params_m is not None:
        try:
            flops, params = space.cost(arch, dataset)
        except UserError as err:  # torch-code measures in the sandbox: the network may not build
            return Verdict(accept=False, kind="malformed", reason=f"it cannot be measured: {err}")
        if max_flops_m is not None and flops > max_flops_m:
            return Verdict(accept=False, kind="constraint",
                           reason=f"it needs {flops:.1f} MFLOPs, above the limit of {max_flops_m:g}.")
        if max_params_m is not None and params > max_params_m:
            return Verdict(accept=False, kind="constraint",
                           reason=f"it has {params:.3f} M parameters, above the limit of {max_params_m:g}.")
    return Verdict(accept=True, kind="ok", reason="new, and within the constraints.")


def review_with_llm(asker: Asker, space: SearchSpace, dataset: str, arch: str, rationale: str,
                    evaluated: list[Trial], journal: Journal, step: int) -> tuple[Verdict, Usage]:
    scored = sorted((t for t in evaluated if t.val_acc is not None), key=lambda t: -t.val_acc)[:10]
    results = "\n".join(f"- {t.arch}: {t.val_acc:.2f}%" for t in scored) or "- none yet"
    messages = [SystemMessage(SYSTEM), HumanMessage(REVIEW.format(
        problem=space.describe(dataset), results=results, proposal=arch, rationale=rationale or "(none)"))]
    answer, usage = asker.ask(messages, Review, journal, step)
    if answer is None or answer.accept:  # an unreadable review must not block the search
        return Verdict(accept=True, kind="ok", reason=answer.reason if answer else "review unreadable; accepted."), usage
    return Verdict(accept=False, kind="llm_rejected", reason=answer.reason), usage
