"""The Principle-Learner: distils design principles from the best architectures
and turns them into a refined search space (LAPT, seed 003, section 3).

Given the top-r architectures (shown as code-like layer lists), it states a
few general principles and, for each position of the architecture, the subset
of operations the principles favour.  The LAPT graph searches inside that
subset and asks the learner to update the principles (section 3.3).
"""

from __future__ import annotations

from functools import cache
from typing import get_args

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agents.structured import Asker, Usage
from memory.journal import Journal
from spaces.base import SearchSpace

SYSTEM = """\
You are the Principle-Learner in a neural architecture search. From well-performing architectures \
you identify the design patterns they share and state them as short, general principles, then say \
which operations each position of the architecture should keep. Answer with a JSON object."""

LEARN = """\
{problem}

The best architectures found so far, with their validation accuracy:
{examples}

Step 1: identify what these architectures have in common.
Step 2: state at most five design principles that explain their performance.
Step 3: for every position, list the operations the principles recommend (at least one each)."""


class Principles(BaseModel):
    principles: list[str]
    refined: dict[str, list[str]]


@cache
def principles_schema(space_schema: type[BaseModel]) -> type[BaseModel]:
    """{principles, refined}; `refined` has one non-empty list of allowed operations per position."""
    positions = {
        name: (list[field.annotation], Field(min_length=1, max_length=len(get_args(field.annotation)) or None))
        for name, field in space_schema.model_fields.items()
    }
    refined = create_model("RefinedSpace", **positions)
    return create_model(
        "PrinciplesAnswer",
        principles=(list[str], Field(min_length=1, max_length=5, description="short, general design principles")),
        refined=(refined, ...),
    )


def as_layers(space: SearchSpace, arch: str) -> str:
    """An architecture as a code-like list of layers (LAPT section 3.1 prompts with code)."""
    return "; ".join(f"{position} = {op}" for position, op in space.to_proposal(arch).items())


def learn(asker: Asker, space: SearchSpace, dataset: str, top: list[tuple[str, float]], journal: Journal,
          step: int) -> tuple[Principles | None, Usage]:
    examples = "\n".join(f"{i}. [{as_layers(space, arch)}] -> {acc:.2f}%" for i, (arch, acc) in enumerate(top, 1))
    messages = [SystemMessage(SYSTEM), HumanMessage(LEARN.format(problem=space.describe(dataset), examples=examples))]
    answer, usage = asker.ask(messages, principles_schema(space.proposal_schema), journal, step)
    if answer is None:
        return None, usage
    refined = {position: sorted(set(ops)) for position, ops in answer.refined.model_dump().items()}
    return Principles(principles=answer.principles, refined=refined), usage
