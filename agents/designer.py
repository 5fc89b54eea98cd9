"""The Designer: proposes the next architecture from the history of its own proposals.

GENIUS (seed 002, section 3, Algorithm 1): the problem is encoded as text; the
model proposes a configuration; the measured accuracy goes back to it in
natural language with a request to beat every earlier one and say why.  The
conversation is rebuilt from the trial history on every call, so a resumed
run asks exactly what an uninterrupted one would.
"""

from __future__ import annotations

import json
from functools import cache

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, create_model

from agents.structured import Asker, Usage
from memory.journal import Journal
from spaces.base import SearchSpace, Trial

SYSTEM = """\
You are the Designer in a neural architecture search. You propose one architecture at a time and \
learn from the measured results of your earlier proposals. Answer with a JSON object: a short \
rationale (one or two sentences) and the architecture."""

FIRST = """\
{problem}

Propose the architecture you expect to reach the highest validation accuracy, with a short rationale."""

FEEDBACK = """\
With this architecture we measured a validation accuracy of {acc:.2f}%. Taking all the experiments \
above into account, recommend a new architecture that beats every architecture tried so far, and \
explain briefly why it should."""

REJECTED = """\
This architecture was not evaluated: {verdict} Propose a different architecture that has not been \
tried, and explain briefly why it should beat the best so far."""

FAILED = """\
This architecture could not be trained ({failure}): {detail} Fix the problem or propose a different \
architecture, and explain briefly why it should beat the best so far."""

OTHER = """\
We also evaluated {architecture} (a mutation of the best cell, not your proposal): {acc:.2f}%."""

EARLIER = """\
Earlier experiments not shown below, best first (validation accuracy):
{lines}"""

RATIONALE_CHARS = 300
WINDOW = 12  # exchanges kept verbatim; older ones are summarised (small models have small contexts)


def _clip(text: str) -> str:
    return " ".join(text.split())[:RATIONALE_CHARS]


@cache
def proposal_schema(space_schema: type[BaseModel]) -> type[BaseModel]:
    """{rationale, architecture}.  `maxLength` reaches the JSON schema, so grammar-constrained
    decoding cannot ramble (small models do, until max_tokens cuts the JSON); validation
    clips instead of refusing, since a provider may ignore the limit and the architecture
    is what matters."""
    return create_model(
        "Proposal",
        rationale=(Annotated[str, AfterValidator(_clip)], Field(
            description="why this should beat earlier ones, one or two sentences",
            json_schema_extra={"maxLength": RATIONALE_CHARS})),
        architecture=(space_schema, ...),
    )


def conversation(space: SearchSpace, dataset: str, trials: list[Trial], notes: str = "") -> list[BaseMessage]:
    """The GENIUS dialogue so far: the problem, then (proposal, measured accuracy) per
    evaluated trial, then the latest rejection if the last proposal was rejected.

    Older rejections are left out: they repeat evaluated cells (that is why they were
    rejected), and small models copy whatever proposals the context shows them.  Only
    the last WINDOW evaluated exchanges are verbatim; older ones are summarised, best
    first, so the prompt prefix stays stable (llama.cpp reuses its cached prefix)."""
    problem = space.describe(dataset) + (f"\n\n{notes}" if notes else "")  # notes: from memory (graphs/remember.py)
    messages: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(FIRST.format(problem=problem))]
    evaluated = [t for t in trials if t.evaluation is not None]
    older, recent = evaluated[:-WINDOW], evaluated[-WINDOW:]
    older = [t for t in older if t.val_acc is not None]
    if older:
        lines = "\n".join(f"- {json.dumps(space.to_proposal(t.arch))}: {t.val_acc:.2f}%"
                          for t in sorted(older, key=lambda t: -t.val_acc)[:10])
        messages.append(HumanMessage(EARLIER.format(lines=lines)))
    for trial in recent:
        if trial.val_acc is None:  # training failed (torch-code): the model hears why, in a line
            if trial.source == "llm":
                detail = " ".join(trial.evaluation.detail.split())[:RATIONALE_CHARS]
                messages += [_as_answer(space, trial),
                             HumanMessage(FAILED.format(failure=trial.evaluation.failure, detail=detail))]
        elif trial.source == "llm":
            messages += [_as_answer(space, trial), HumanMessage(FEEDBACK.format(acc=trial.val_acc))]
        else:  # not the model's words: reported as a result, never put in its mouth
            _tell(messages, OTHER.format(architecture=json.dumps(space.to_proposal(trial.arch)), acc=trial.val_acc))
    if trials and not trials[-1].accepted:
        messages += [_as_answer(space, trials[-1]), HumanMessage(REJECTED.format(verdict=trials[-1].verdict))]
    return messages


def _tell(messages: list[BaseMessage], text: str) -> None:
    """Add user text, merged into the last user turn so turns keep alternating."""
    if isinstance(messages[-1], HumanMessage):
        messages[-1] = HumanMessage(f"{messages[-1].content}\n\n{text}")
    else:
        messages.append(HumanMessage(text))


def _as_answer(space: SearchSpace, trial: Trial) -> AIMessage:
    return AIMessage(json.dumps({"rationale": trial.rationale, "architecture": space.to_proposal(trial.arch)}))


def retry_temperature(base: float, rejections_in_row: int) -> float:
    """Temperature for the next proposal: the configured one, raised by 0.4 per rejection in
    a row (capped at 1.2).  At temperature 0 a small model answers a rejection with the same
    cell; some randomness is what gets it out.  Resets after every evaluation."""
    return min(base + 0.4 * rejections_in_row, max(base, 1.2))


def propose(asker: Asker, space: SearchSpace, dataset: str, trials: list[Trial], journal: Journal,
            step: int, temperature: float | None = None, seed: int | None = None,
            notes: str = "") -> tuple[str | None, str, Usage]:
    """Ask for the next architecture: (arch string or None if unparseable, rationale, usage).
    `notes` (principles or past results from memory) are added to the problem statement."""
    schema = proposal_schema(space.proposal_schema)
    answer, usage = asker.ask(conversation(space, dataset, trials, notes), schema, journal, step,
                              temperature=temperature, seed=seed)
    if answer is None:
        return None, "", usage
    return space.from_proposal(answer.architecture), answer.rationale, usage
