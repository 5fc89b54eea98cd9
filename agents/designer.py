"""The Designer: proposes candidates for the next evaluation from what was evaluated so far.

Two ways to ask (settings.designer):
- `genius` (seed 002, section 3, Algorithm 1): the problem is encoded as text; the model
  proposes one whole configuration; the measured accuracy goes back to it in natural
  language with a request to beat every earlier one and say why.  The conversation is
  rebuilt from the trial history on every call, so a resumed run asks exactly what an
  uninterrupted one would.
- `edits` (default; spaces with positions): one call asks for several candidates as edits
  (parent step, position, new operation) of evaluated architectures, plus one whole new
  architecture.  The answer schema is built per call with the parents' steps, the positions
  and the operations as enumerations, so under constrained decoding every edit a model
  writes is valid; a 0.5B model can drive it, and the Critic ranks what it proposes.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from typing import Annotated, Literal, Sequence

from pydantic import AfterValidator, BaseModel, Field, create_model

from agents.structured import Asker, Usage
from memory.journal import Journal
from spaces.base import Positional, SearchSpace, Trial

SYSTEM = """\
You are the Designer in a neural architecture search. You propose one architecture at a time and \
learn from the measured results of your earlier proposals. Answer with a JSON object: a short \
rationale (one or two sentences) and the architecture."""

FIRST = """\
{problem}

Propose the architecture you expect to reach the highest validation accuracy, with a short rationale."""

FEEDBACK = """\
With this architecture we measured a {metric} of {acc:.2f}. Taking all the experiments \
above into account, recommend a new architecture that beats every architecture tried so far, and \
explain briefly why it should."""

REJECTED = """\
This architecture was not evaluated: {verdict} Propose a different architecture that has not been \
tried, and explain briefly why it should beat the best so far."""

FAILED = """\
This architecture could not be trained ({failure}): {detail} Fix the problem or propose a different \
architecture, and explain briefly why it should beat the best so far."""

OTHER = """\
We also evaluated {architecture} (not your proposal: {why}): {acc:.2f}."""

EARLIER = """\
Earlier experiments not shown below, best first (validation accuracy):
{lines}"""

# How a result that is not the model's own came about, in the words the model is told.
SOURCES = {"fallback": "a search step taken when no proposal of yours was usable",
           "baseline": "the Critic's pick from the search it runs beside you",
           "random": "a random sample", "rea": "a mutation of a tournament winner", "human": "the user's edit"}
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
            messages += [_as_answer(space, trial), HumanMessage(FEEDBACK.format(metric=space.metric, acc=trial.val_acc))]
        else:  # not the model's words: reported as a result, never put in its mouth
            _tell(messages, OTHER.format(architecture=json.dumps(space.to_proposal(trial.arch)), acc=trial.val_acc,
                                         why=SOURCES.get(trial.source, trial.source)))
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
            notes: str = "", followup: Sequence[BaseMessage] = ()) -> tuple[str | None, str, Usage]:
    """Ask for the next architecture: (arch string or None if unparseable, rationale, usage).
    `notes` (principles or past results from memory) are added to the problem statement;
    `followup` continues the dialogue (the FLOPs loop's revisions, agents/flops_loop.py)."""
    schema = proposal_schema(space.proposal_schema)
    answer, usage = asker.ask(conversation(space, dataset, trials, notes) + list(followup), schema, journal, step,
                              temperature=temperature, seed=seed)
    if answer is None:
        return None, "", usage
    return space.from_proposal(answer.architecture), answer.rationale, usage


# --- the edits mode ------------------------------------------------------------------------

SYSTEM_EDITS = """\
You are the Designer in a neural architecture search. Evaluations are expensive: a Critic ranks your \
candidates by evidence that costs no evaluation, and the best one is evaluated. You propose candidates \
as small edits of architectures that were already evaluated, and one new architecture of your own. \
Answer with a JSON object."""

CANDIDATES = """\
{problem}

Architectures are written as [{positions}].
Evaluated so far, best first (step: architecture -> {metric}):
{evaluated}{rejected}{standing}
Propose {k} candidates for the next evaluation, each an edit of one evaluated architecture: the step \
of the parent, one position and its new operation. Prefer edits of the best architectures and do not \
repeat an architecture listed above. Then give one new architecture (its layer list) that you expect to \
beat all of them, and one short sentence of rationale."""

FIRST_CANDIDATES = """\
{problem}

Architectures are written as [{positions}].
Propose {k} different architectures you expect to reach a high {metric}, each as its layer list, then \
one short sentence of rationale."""

SHOWN = 12      # evaluated architectures shown (best first): small models have small contexts
SHOWN_REJECTED = 6  # most recent architectures not evaluated, shown so they are not repeated


class Candidate(BaseModel):
    """One candidate from the designer: the architecture and where it came from."""

    arch: str
    source: str       # "edit" or "llm" (a whole proposal)
    rationale: str = ""
    parent: int | None = None


def layer_list(space: Positional, arch: str) -> str:
    return "[" + ", ".join(space.ops(arch)) + "]"


STANDING = """
Your proposals so far: {mine} evaluated, standing {mean:.2f} on average among all {total} evaluations (1 = best). \
The Critic gives more evaluations to whoever proposes candidates that do well."""
WAITING = """
Your candidates not evaluated yet, with the evidence the Critic ranks by ({kinds}; higher is better):
{lines}"""
SHOWN_WAITING = 3


def standing(space: Positional, mine: int, total: int, pool: list[Trial], mean: float | None) -> str:
    """What the designer should know about its own record: how its `mine` evaluated proposals stood
    among all `total` evaluations (their mean standing, agents/critic.py: Standings), and the
    evidence of its candidates still waiting (so it can see what the ranking favours)."""
    text = STANDING.format(mine=mine, mean=mean, total=total) if mine and mean is not None else ""
    waiting = [t for t in pool if t.source in ("llm", "edit") and t.evidence][:SHOWN_WAITING]
    if waiting:
        kinds = ", ".join(sorted(waiting[0].evidence))
        text += WAITING.format(kinds=kinds, lines="\n".join(
            f"- {layer_list(space, t.arch)}: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(t.evidence.items()))
            for t in waiting))
    return text


def candidates(asker: Asker, space: SearchSpace, dataset: str, best: list[Trial], rejected: list[Trial],
               journal: Journal, step: int, k: int = 4, temperature: float | None = None, seed: int | None = None,
               notes: str = "", standing: str = "", followup: Sequence[BaseMessage] = ()) -> tuple[list[Candidate], Usage]:
    """Ask for k edits of evaluated architectures and one new architecture (k new ones when
    nothing is evaluated yet).  `best`: the evaluated architectures, best first (SHOWN of them
    are shown); `rejected`: the latest the Critic rejected.  Returns the valid, distinct
    candidates and the usage; an unparseable answer gives no candidates.  `standing`: the
    designer's record (`standing()`); `followup` continues the dialogue (the FLOPs loop,
    agents/flops_loop.py)."""
    evaluated = best[:SHOWN]
    positions = space.positions()
    problem = space.describe(dataset) + (f"\n\n{notes}" if notes else "")
    fields = {"problem": problem, "positions": ", ".join(positions), "metric": space.metric, "k": k}
    if not evaluated:
        schema = _first_schema(_ops_of(space), len(space.positions()), k)
        prompt = FIRST_CANDIDATES.format(**fields)
    else:
        schema = _edits_schema(space, tuple(t.step for t in evaluated), k)
        shown = "\n".join(f"{t.step}: {layer_list(space, t.arch)} -> {t.val_acc:.2f}" for t in evaluated)
        recent = rejected[-SHOWN_REJECTED:]
        told = ("\nNot evaluated (rejected by the Critic):\n" + "\n".join(
            f"- {layer_list(space, t.arch)}: {t.verdict}" for t in recent)) if recent else ""
        prompt = CANDIDATES.format(evaluated=shown, rejected=told, standing=standing, **fields)
    answer, usage = asker.ask([SystemMessage(SYSTEM_EDITS), HumanMessage(prompt), *followup], schema, journal, step,
                              temperature=temperature, seed=seed)
    if answer is None:
        return [], usage
    return _read(space, answer, {t.step: t.arch for t in evaluated}), usage


def _read(space: Positional, answer: BaseModel, parents: dict[int, str]) -> list[Candidate]:
    """The answer's candidates as architectures; no-op edits and repeats are dropped."""
    out: list[Candidate] = []
    rationale = answer.rationale
    for edit in getattr(answer, "edits", []):
        ops = list(space.ops(parents[edit.parent]))
        index = list(space.positions()).index(edit.position)
        if ops[index] == edit.op or edit.op not in space.positions()[edit.position]:
            continue
        ops[index] = edit.op
        out.append(Candidate(arch=space.from_ops(ops), source="edit", rationale=rationale, parent=edit.parent))
    whole = list(getattr(answer, "architectures", [])) + ([answer.architecture] if hasattr(answer, "architecture") else [])
    for ops in whole:  # a layer list: each operation must be one its position offers
        if all(op in choices for op, choices in zip(ops, space.positions().values())):
            out.append(Candidate(arch=space.from_ops(ops), source="llm", rationale=rationale))
    seen: set[str] = set()
    return [c for c in out if not (c.arch in seen or seen.add(c.arch))]


# The answers are written compactly: a whole architecture is its layer list (the operations in
# position order, as the prompt shows evaluated ones), not six key/value pairs, and the short
# rationale comes last.  Measured with Qwen2.5-Coder-0.5B: with keyed cells and the rationale first,
# the first call's four cells ran past 384 tokens every time (the rationale restated the prompt).
SHORT_RATIONALE = 150


def _ops_of(space: Positional) -> tuple[str, ...]:
    return tuple(dict.fromkeys(op for choices in space.positions().values() for op in choices))


def _layer_list(ops: tuple[str, ...], n: int):
    return Annotated[list[Literal[ops]], Field(min_length=n, max_length=n)]  # type: ignore[valid-type]


def _rationale():
    return (Annotated[str, AfterValidator(_clip)], Field(description="one short sentence",
                                                         json_schema_extra={"maxLength": SHORT_RATIONALE}))


@cache
def _first_schema(ops: tuple[str, ...], n: int, k: int) -> type[BaseModel]:
    return create_model("FirstCandidates", architectures=(list[_layer_list(ops, n)], Field(min_length=k, max_length=k)),
                        rationale=_rationale())


def _edits_schema(space: Positional, parents: tuple[int, ...], k: int) -> type[BaseModel]:
    return _edits_model(tuple(space.positions()), _ops_of(space), parents, k)


@lru_cache(maxsize=256)  # the parents change only when the best list does; building a model costs ~2 ms
def _edits_model(positions: tuple[str, ...], ops, parents: tuple[int, ...], k: int) -> type[BaseModel]:
    edit = _edit_model(parents, positions, ops)
    return create_model("Candidates", edits=(list[edit], Field(min_length=k, max_length=k)),
                        architecture=(_layer_list(ops, len(positions)), ...), rationale=_rationale())


@cache
def _edit_model(parents: tuple[int, ...], positions: tuple[str, ...], ops: tuple[str, ...]) -> type[BaseModel]:
    return create_model("Edit", parent=(Literal[parents], ...), position=(Literal[positions], ...),  # type: ignore
                        op=(Literal[ops], ...))  # type: ignore[valid-type]
