"""GENIUS's FLOPs loop (seed 002, section 5, "FLOPs Constraint"): the designer's proposal is
measured before any evaluation is spent; one outside the bound goes back to the designer with
its measured FLOPs and how far out it is, and the designer revises it, up to `revisions` times.

GENIUS found that GPT-4, although its prompt carried a per-layer FLOPs table, "frequently"
proposed designs over the bound, and added this loop; its conversations show up to three
revisions in a row.  The measurement is the space's `cost` (mobilenetv2: analytic, exact, free),
the verdict the Critic's own (agents/critic.flops_outside), so what the designer is told is
what the Critic would decide.  Each round is journaled (`revision` events).  What is left out
of the bound after the last revision goes on to the Critic, which rejects it with the reason.
"""

from __future__ import annotations

import json
from typing import Callable, Sequence, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from agents.critic import flops_outside
from agents.structured import Usage
from errors import UserError
from memory.journal import Journal
from spaces.base import SearchSpace

T = TypeVar("T")  # a candidate: anything with `.arch` (a Trial, a designer.Candidate)

REVISE = """\
The design fails to meet the FLOPs constraint: {outside} Revise your design so that the whole network \
has {bound} MFLOPs (the FLOPs table gives each layer's share), keeping what should make it accurate."""

REVISE_SEVERAL = """\
None of these candidates meets the FLOPs constraint ({bound} MFLOPs):
{lines}
Revise them so that each whole network meets it (the FLOPs table gives each layer's share)."""


def bounded(low: float | None, high: float | None) -> bool:
    return low is not None or high is not None


def bound_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at most {high:g}" if high is not None else f"at least {low:g}"


def revise(ask: Callable[[list[BaseMessage]], tuple[list[T], Usage]], space: SearchSpace, dataset: str,
           low: float | None, high: float | None, revisions: int, journal: Journal, step: int) -> tuple[list[T], Usage]:
    """Ask (`ask(followup messages)` -> (candidates, usage)), measure, and ask again with the
    measured FLOPs while no candidate is within [low, high], up to `revisions` times.  Returns the
    last round's candidates and the usage of every call."""
    followup: list[BaseMessage] = []
    found, usage = ask(followup)
    for round_ in range(revisions + 1):
        if not bounded(low, high) or not found:
            return found, usage
        measured = [(c, _measure(space, c.arch, dataset, low, high)) for c in found]  # type: ignore[attr-defined]
        inside = any(reason == "" for _, (_, reason) in measured)
        revising = not inside and round_ < revisions
        journal.append(step, "revision", role="designer", data={
            "round": round_, "bound": [low, high], "revise": revising,
            "candidates": [{"arch": c.arch, "flops_m": flops, "outside": reason} for c, (flops, reason) in measured]})
        if not revising:
            return found, usage
        followup = followup + [_said(space, found), HumanMessage(_feedback(measured, low, high))]
        found, more = ask(followup)
        usage = usage.add(more)
    return found, usage


def _measure(space: SearchSpace, arch: str, dataset: str, low: float | None,
             high: float | None) -> tuple[float | None, str]:
    try:
        flops = space.cost(arch, dataset)[0]
    except UserError:  # not measurable (code that does not build): the Critic says why, not this loop
        return None, ""
    return round(flops, 3), flops_outside(flops, low, high)


def _said(space: SearchSpace, found: Sequence) -> AIMessage:
    """The designer's proposals as its answer in the dialogue (its own words were structured)."""
    if len(found) == 1:
        return AIMessage(json.dumps({"rationale": getattr(found[0], "rationale", ""),
                                     "architecture": space.to_proposal(found[0].arch)}))
    return AIMessage("\n".join(f"{i}. {json.dumps(space.to_proposal(c.arch))}" for i, c in enumerate(found, 1)))


def _feedback(measured: list, low: float | None, high: float | None) -> str:
    bound = bound_text(low, high)
    if len(measured) == 1:
        return REVISE.format(outside=measured[0][1][1], bound=bound)
    lines = "\n".join(f"{i}. {reason}" for i, (_, (_, reason)) in enumerate(measured, 1))
    return REVISE_SEVERAL.format(bound=bound, lines=lines)
