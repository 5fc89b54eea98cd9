"""The Principle-Learner: distils design principles from the best architectures
and turns them into a refined search space (LAPT, seed 003, section 3).

Given the top-r architectures (shown as code-like layer lists), it states a
few general principles and, for each position of the architecture, the subset
of operations the principles favour.  The LAPT graph searches inside that
subset and asks the learner to update the principles (section 3.3).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, get_args

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import AfterValidator, BaseModel, Field, create_model

from agents.structured import Asker, Usage
from memory.journal import Journal
from spaces.base import SearchSpace

SYSTEM = """\
You are the Principle-Learner in a neural architecture search. From well-performing architectures \
you identify the design patterns they share and state them as short, general principles, then say \
which operations each position of the architecture should keep. Answer with a JSON object."""

LEARN = """\
{problem}

Architectures are written as layer_list = [{positions}].
These architectures performed well, best first (validation score after the arrow):
{examples}

Step 1: identify what these architectures have in common.
Step 2: state at most five design principles that explain their performance.
Step 3: for every position, list the operations the principles recommend (at least one, at most {max_ops})."""

TRANSLATE = """\
{problem}

Design principles learned on an earlier, related task:
{principles}

Turn these principles into a smaller search space for this task: for every position, list the \
operations the principles recommend (at least one, at most {max_ops}). Keep the principles, restated \
if needed for this task."""

# LAPT section 3.3, Algorithm 2: the refined search found better architectures -> learn from them.
UPDATE = """\
{problem}

Current design principles:
{principles}

Searching the space they allow ({refined}) found these architectures, best first \
(layer_list = [{positions}]):
{examples}

Update the design principles so that they explain these results (at most five), then for every \
position list the operations the updated principles recommend (at least one, at most {max_ops})."""

# Algorithm 2, else-branch: no improvement -> describe what the principles leave out, to explore.
EXPLORE = """\
{problem}

Current design principles:
{principles}

Searching the space they allow ({refined}) found nothing better than before; the best so far is \
{best}. The current space leaves out: {unused}.
Describe the likely effect of those operations in this cell as new principles (keep the useful old \
ones, at most five in all), then for every position list the operations worth trying now (at least \
one, at most {max_ops}), including some the current space left out."""


class Principles(BaseModel):
    principles: list[str]
    refined: dict[str, list[str]]


PRINCIPLE_CHARS = 120


def _clip(text: str) -> str:
    return " ".join(text.split())[:PRINCIPLE_CHARS]


# `maxLength` reaches the JSON schema, so a grammar-constrained small model cannot ramble past
# max_tokens (five principles and six op lists fit in the default 384); providers that ignore it
# are clipped rather than refused.
Principle = Annotated[str, AfterValidator(_clip), Field(json_schema_extra={"maxLength": PRINCIPLE_CHARS})]


@cache
def principles_schema(space_schema: type[BaseModel], max_ops: int | None = None) -> type[BaseModel]:
    """{principles, refined}; `refined` has one non-empty list of allowed operations per position
    (at most `max_ops`: the LAPT reference prompt asks for no more than two per layer)."""
    return create_model(
        "PrinciplesAnswer",
        principles=(list[Principle], Field(min_length=1, max_length=5, description="short, general design principles")),
        refined=(refined_schema(space_schema, max_ops), ...),
    )


@cache
def refined_schema(space_schema: type[BaseModel], max_ops: int | None = None) -> type[BaseModel]:
    positions = {}
    for name, field in space_schema.model_fields.items():
        n_ops = len(get_args(field.annotation)) or None
        limit = min(max_ops, n_ops) if max_ops and n_ops else (max_ops or n_ops)
        positions[name] = (list[field.annotation], Field(min_length=1, max_length=limit))
    return create_model("RefinedSpace", **positions)


def as_layer_list(space: SearchSpace, arch: str) -> str:
    """An architecture as its layer_list, the compact code form of LAPT section 3.1 (Figure 2)."""
    return "[" + ", ".join(space.to_proposal(arch).values()) + "]"


def _examples(space: SearchSpace, top: list[tuple[str, float]]) -> str:
    return "\n".join(f"{i}. {as_layer_list(space, arch)} -> {score:.2f}" for i, (arch, score) in enumerate(top, 1))


def _numbered(principles: list[str]) -> str:
    return "\n".join(f"P{i}. {p}" for i, p in enumerate(principles, 1))


def _fields(space: SearchSpace, dataset: str, max_ops: int) -> dict:
    return {"problem": space.describe(dataset), "positions": ", ".join(space.proposal_schema.model_fields),
            "max_ops": max_ops}


def _ask(asker: Asker, space: SearchSpace, prompt: str, journal: Journal, step: int, max_ops: int,
         keep: list[str] | None = None) -> tuple[Principles | None, Usage]:
    """One structured answer; `keep` answers a refined-space-only schema with these principles."""
    schema = refined_schema(space.proposal_schema, max_ops) if keep is not None else \
        principles_schema(space.proposal_schema, max_ops)
    answer, usage = asker.ask([SystemMessage(SYSTEM), HumanMessage(prompt)], schema, journal, step)
    if answer is None:
        return None, usage
    refined = answer.model_dump() if keep is not None else answer.refined.model_dump()
    principles = keep if keep is not None else answer.principles
    return Principles(principles=principles, refined={p: sorted(set(ops)) for p, ops in refined.items()}), usage


def learn(asker: Asker, space: SearchSpace, dataset: str, top: list[tuple[str, float]], journal: Journal,
          step: int, max_ops: int = 2) -> tuple[Principles | None, Usage]:
    """Principles and a refined space from well-performing architectures (section 3.2)."""
    prompt = LEARN.format(examples=_examples(space, top), **_fields(space, dataset, max_ops))
    return _ask(asker, space, prompt, journal, step, max_ops)


def translate(asker: Asker, space: SearchSpace, dataset: str, principles: list[str], journal: Journal,
              step: int, max_ops: int = 2) -> tuple[Principles | None, Usage]:
    """Transferred principles -> a refined space for the target task (Algorithm 1, line 6)."""
    prompt = TRANSLATE.format(principles=_numbered(principles), **_fields(space, dataset, max_ops))
    return _ask(asker, space, prompt, journal, step, max_ops, keep=principles)


def adapt(asker: Asker, space: SearchSpace, dataset: str, current: Principles, top: list[tuple[str, float]],
          improved: bool, journal: Journal, step: int, max_ops: int = 2) -> tuple[Principles | None, Usage]:
    """Principle adaptation (section 3.3, Algorithm 2): update the principles from the top
    architectures when the search improved, else describe the operations they leave out."""
    fields = {**_fields(space, dataset, max_ops), "principles": _numbered(current.principles),
              "refined": "; ".join(f"{p}: {', '.join(ops)}" for p, ops in current.refined.items())}
    if improved:
        prompt = UPDATE.format(examples=_examples(space, top), **fields)
    else:
        unused = unused_operations(space, current)
        prompt = EXPLORE.format(best=f"{as_layer_list(space, top[0][0])} -> {top[0][1]:.2f}" if top else "-",
                                unused="; ".join(unused) or "nothing", **fields)
    return _ask(asker, space, prompt, journal, step, max_ops)


def unused_operations(space: SearchSpace, current: Principles) -> list[str]:
    """Operations the current refined space leaves out, with the positions where it does."""
    out: dict[str, list[str]] = {}
    for position, field in space.proposal_schema.model_fields.items():
        for op in get_args(field.annotation):
            if op not in current.refined.get(position, ()):
                out.setdefault(op, []).append(position)
    return [f"{op} (left out at {', '.join(where)})" for op, where in sorted(out.items())]
