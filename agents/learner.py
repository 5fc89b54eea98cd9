"""The Principle-Learner: distils design principles from well-performing architectures, grounded
in statistics, and turns them into a refined search space (LAPT, seed 003, section 3).

The model is shown the architectures (as code-like layer lists, section 3.1) and, beside them,
what a tool computed from them (tools/op_stats.py): per position and operation, how often it
appears in the top k against the rest, the enrichment and the mean score with and without
it.  It states a few principles and, per position, the operations they favour.

Nothing it writes is used unchecked.  Each principle must be a sentence (memory/store.py
`Principle`), name operations or positions the space has and nothing it lacks, and not
contradict the table (praise an operation the top k hold less often than the rest, or warn
against one they hold more often).  Principles that fail are dropped, with the reason
journaled.  When none survive, or the model gives nothing usable, principles are written
from the statistics themselves (origin "statistics") and the result says so.  The refined
space keeps the model's operations, but never fewer than `min_cells` architectures: where the
answer is thin it is widened with the operations the statistics rank highest.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Annotated, get_args

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import AfterValidator, BaseModel, Field, create_model

from agents.structured import Asker, Usage
from memory.journal import Journal
from memory.store import Principle, sentence_problem
from spaces.base import Positional
from spaces.refined import refine, widen
from tools.op_stats import OpStat, op_table

SYSTEM = """\
You are the Principle-Learner in a neural architecture search. From well-performing architectures and \
the statistics of their operations you state short, general design principles, each a full sentence \
that names the operations and positions it is about, then say which operations each position should \
keep. Answer with a JSON object."""

LEARN = """\
{problem}

Architectures are written as layer_list = [{positions}].
These architectures performed well, best first (score after the arrow):
{examples}

Statistics of the top {k} against the other {rest} (per position: operation, share in the top / share \
in the rest):
{stats}

Step 1: identify what the top architectures have in common, using the statistics.
Step 2: state at most five design principles, each a sentence naming operations and positions.
Step 3: for every position, list the operations the principles recommend (at least one, at most {max_ops})."""

TRANSLATE = """\
{problem}

Design principles learned on an earlier, related task:
{principles}

Statistics of that task's top {k} against the other {rest} (operation, share in the top / in the rest):
{stats}

Turn these principles into a smaller search space for this task: for every position, list the \
operations the principles recommend (at least one, at most {max_ops})."""

# LAPT section 3.3, Algorithm 2: the refined search found better architectures -> learn from them.
UPDATE = """\
{problem}

Current design principles:
{principles}

Searching the space they allow ({refined}) found these architectures, best first \
(layer_list = [{positions}]):
{examples}

Statistics of the top {k} found against the other {rest}:
{stats}

Update the design principles so that they explain these results (at most five sentences naming \
operations and positions), then for every position list the operations the updated principles \
recommend (at least one, at most {max_ops})."""

# Algorithm 2, else-branch: no improvement -> describe what the principles leave out, to explore.
EXPLORE = """\
{problem}

Current design principles:
{principles}

Searching the space they allow ({refined}) found nothing better than before; the best so far is \
{best}. The current space leaves out: {unused}.
Describe the likely effect of those operations in this cell as new principles (keep the useful old \
ones, at most five sentences in all), then for every position list the operations worth trying now \
(at least one, at most {max_ops}), including some the current space left out."""

PRINCIPLE_CHARS = 160


class Principles(BaseModel):
    """The learner's result, checked: principles that passed, the refined space, what was dropped."""

    principles: list[Principle]
    refined: dict[str, list[str]]
    dropped: list[dict] = []    # {"text", "reason"}
    statistical: bool = False   # the statistics stood in for the model's principles

    def texts(self) -> list[str]:
        return [p.text for p in self.principles]


def _clip(text: str) -> str:
    return " ".join(text.split())[:PRINCIPLE_CHARS]


# `maxLength` reaches the JSON schema, so a grammar-constrained small model cannot ramble past
# max_tokens; providers that ignore it are clipped rather than refused.
PrincipleText = Annotated[str, AfterValidator(_clip), Field(json_schema_extra={"maxLength": PRINCIPLE_CHARS})]


@cache
def principles_schema(space_schema: type[BaseModel], max_ops: int | None = None) -> type[BaseModel]:
    """{principles, refined}; `refined` has one non-empty list of allowed operations per position
    (at most `max_ops`: the LAPT reference prompt asks for no more than two per layer)."""
    return create_model(
        "PrinciplesAnswer",
        principles=(list[PrincipleText], Field(min_length=1, max_length=5,
                                               description="short design principles, full sentences")),
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


# --- the statistics, as the model reads them and as the checks use them ---------------------


def as_layer_list(space: Positional, arch: str) -> str:
    """An architecture as its layer_list, the compact code form of LAPT section 3.1 (Figure 2)."""
    return "[" + ", ".join(space.ops(arch)) + "]"


def stats_text(stats: list[OpStat], per_position: int | None = None) -> str:
    """One line per position, operations by their share of the top: `op top%/rest%` (the first
    `per_position` of them where a space has many: DARTS's 32 positions of up to 8)."""
    by_position: dict[str, list[OpStat]] = {}
    for row in stats:
        by_position.setdefault(row.position, []).append(row)
    lines = []
    for position, rows in by_position.items():
        ranked = sorted(rows, key=lambda r: -r.top_freq)[:per_position]
        lines.append(f"{position}: " + ", ".join(f"{r.op} {100 * r.top_freq:.0f}%/{100 * r.rest_freq:.0f}%"
                                                 for r in ranked))
    return "\n".join(lines)


def ranking(stats: list[OpStat]) -> dict[str, list[str]]:
    """Per position, operations from most to least recommended by the statistics (share of the
    top, then enrichment, then the mean score with it)."""
    out: dict[str, list[OpStat]] = {}
    for row in stats:
        out.setdefault(row.position, []).append(row)
    return {p: [r.op for r in sorted(rows, key=lambda r: (-r.top_freq, -(r.enrichment or 0.0),
                                                          -(r.mean_with or 0.0)))]
            for p, rows in out.items()}


# How a principle may name an operation besides its exact name (patterns per kind of operation).
KINDS = ((lambda op: "conv" in op and "3x3" in op, r"3x3|conv3x3"),
         (lambda op: "conv" in op and "1x1" in op, r"1x1|conv1x1"),
         (lambda op: "pool" in op, r"pool"),
         (lambda op: "skip" in op or op == "identity", r"skip|identity|residual"),
         (lambda op: op == "none", r"\bzero\b|\bnone\b|remov"))
FOREIGN = re.compile(r"\b(sep_conv\w*|dil_conv\w*|max_pool\w*|conv_?5x5|conv_?7x7|lstm|attention|"
                     r"transformer|dropout|depthwise)\b", re.IGNORECASE)
NEGATIVE = re.compile(r"\b(avoid|never|not|no|without|remove|drop|fewer|less|reduce|discourage)\b", re.IGNORECASE)


def mentioned(space: Positional, text: str) -> tuple[set[str], set[str]]:
    """(operations, positions) of the space that `text` names, by name or a common word for it."""
    lower = text.lower()
    positions = {p for p in space.positions() if p.lower() in lower}
    names = sorted({op for choices in space.positions().values() for op in choices}, key=len, reverse=True)
    ops = {op for op in names if op.lower() in lower}
    rest = lower  # a common word counts only outside the exact names ("3x3" of sep_conv_3x3 is not dil_conv_3x3)
    for name in names + sorted(positions, key=len, reverse=True):
        rest = rest.replace(name.lower(), " ")
    ops |= {op for op in names if any(kind(op) and re.search(pattern, rest) for kind, pattern in KINDS)}
    return ops, positions


def vet(space: Positional, texts: list[str], stats: list[OpStat]) -> tuple[list[Principle], list[dict]]:
    """The model's principles that hold up, with the statistics lines they rest on; and the dropped
    ones with the reason."""
    kept, dropped, seen = [], [], set()
    for text in texts:
        text = ENUMERATION.sub("", " ".join(text.split()))
        reason = sentence_problem(text) or _foreign(space, text) or None
        ops, positions = mentioned(space, text)
        if reason is None and not ops and not positions:
            reason = "names no operation or position of this space"
        if reason is None:
            reason = _contradiction(text, ops, positions, stats) or _misquoted(text, ops, positions, stats)
        if reason is None and text.lower() in seen:
            reason = "repeats another principle"
        if reason:
            dropped.append({"text": text, "reason": reason})
            continue
        seen.add(text.lower())
        kept.append(Principle(text=text, origin="model", evidence=_evidence(stats, ops, positions)))
    return kept, dropped


# A list marker the model put before its sentence ("1. 1. On node3_from_0 ...": SmolLM2 numbers
# them, sometimes twice); stripped so that memory holds the sentence.
ENUMERATION = re.compile(r"^(?:(?:P?\d+[.):]|[-*\u2022])\s*)+")
# A share the principle quotes, as the statistics table words it ("80% of the top").
QUOTED = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*of\s+the\s+(top|rest)", re.IGNORECASE)
QUOTE_SLACK = 5.0  # percentage points: the table rounds to whole percents


def _misquoted(text: str, ops: set[str], positions: set[str], stats: list[OpStat]) -> str | None:
    """A share the principle quotes that no row it is about has: small models copy the form of the
    table's sentences with numbers of their own (a LAPT run stored "prefer skip_connect on
    node1_from_0: it is in 80% of the top 5" where no architecture had it there)."""
    rows = _rows(stats, ops, positions)
    if not rows:
        return None
    for number, side in QUOTED.findall(text):
        actual = sorted({round(100 * (r.top_freq if side.lower() == "top" else r.rest_freq)) for r in rows})
        if all(abs(float(number) - a) > QUOTE_SLACK for a in actual):
            return (f"quotes {float(number):g}% of the {side.lower()}; the statistics say "
                    f"{', '.join(f'{a}%' for a in actual[:6])}")
    return None


def _foreign(space: Positional, text: str) -> str | None:
    """The first operation the text names that the space lacks (DARTS has sep_conv_*, max_pool_*:
    what is foreign to NB201 is not foreign there)."""
    own = {op.lower() for choices in space.positions().values() for op in choices}
    for match in FOREIGN.finditer(text):
        word = match.group(0).lower()
        if any(op.startswith(word) for op in own) or (word == "depthwise" and any("sep_conv" in op for op in own)):
            continue
        return f"names an operation this space does not have ({match.group(0)})"
    return None


MIN_COUNT = 5  # architectures needed on each side before a principle can contradict the statistics


def _contradiction(text: str, ops: set[str], positions: set[str], stats: list[OpStat]) -> str | None:
    """A principle that praises an operation the top holds clearly less often than the rest (at the
    positions it names, else overall), or warns against one the top holds clearly more often."""
    negative = bool(NEGATIVE.search(text))
    size_top, size_rest = _sizes(stats)
    for op in ops:
        rows = [r for r in stats if r.op == op and (not positions or r.position in positions)]
        top = sum(r.top_count for r in rows)
        rest_total = sum(r.rest_count for r in rows)
        # Every row counts the same top and rest, including a row whose operation the top never
        # holds (0 of k): that row once counted as "too few to tell" and let its praise through.
        n_top, n_rest = size_top * len(rows), size_rest * len(rows)
        if not rows or n_top < MIN_COUNT or n_rest < MIN_COUNT:
            continue  # too few architectures to contradict anything
        top_share, rest_share = top / n_top, rest_total / n_rest
        where = ", ".join(sorted(positions)) or "all positions"
        if not negative and top_share < 0.67 * rest_share:
            return (f"contradicts the statistics: {op} is in {100 * top_share:.0f}% of the top but "
                    f"{100 * rest_share:.0f}% of the rest ({where})")
        if negative and top_share > 1.5 * rest_share:
            return (f"contradicts the statistics: {op} is in {100 * top_share:.0f}% of the top against "
                    f"{100 * rest_share:.0f}% of the rest ({where})")
    return None


def _sizes(stats: list[OpStat]) -> tuple[int, int]:
    """How many architectures the top and the rest hold (the same for every row)."""
    top = next((round(r.top_count / r.top_freq) for r in stats if r.top_freq), 0)
    rest = next((round(r.rest_count / r.rest_freq) for r in stats if r.rest_freq), 0)
    return top, rest


def _rows(stats: list[OpStat], ops: set[str], positions: set[str]) -> list[OpStat]:
    """The rows a principle is about: its operations at its positions (all of either it leaves unnamed)."""
    return [r for r in stats if (not ops or r.op in ops) and (not positions or r.position in positions)]


def _evidence(stats: list[OpStat], ops: set[str], positions: set[str]) -> str:
    rows = sorted(_rows(stats, ops, positions),
                  key=lambda r: -abs(math.log((r.top_freq + 0.01) / (r.rest_freq + 0.01))))[:3]
    return "; ".join(r.line() for r in rows)


def statistical_principles(space: Positional, stats: list[OpStat], k: int, n: int = 5) -> list[Principle]:
    """Principles written from the table itself: the most enriched and the most depleted operations."""
    candidates = []
    for r in stats:
        if r.top_count >= max(2, k // 5) and r.top_freq >= 1.5 * r.rest_freq:
            text = (f"On {r.position}, prefer {r.op}: it is in {100 * r.top_freq:.0f}% of the top {k} "
                    f"against {100 * r.rest_freq:.0f}% of the rest.")
            candidates.append((r.top_freq - r.rest_freq, text, r))
        elif r.rest_freq >= 0.1 and r.top_freq <= 0.34 * r.rest_freq:
            text = (f"On {r.position}, avoid {r.op}: it is in {100 * r.top_freq:.0f}% of the top {k} "
                    f"against {100 * r.rest_freq:.0f}% of the rest.")
            candidates.append((r.rest_freq - r.top_freq, text, r))
    candidates.sort(key=lambda c: -c[0])
    return [Principle(text=text, origin="statistics", evidence=r.line()) for _, text, r in candidates[:n]]


# --- the three ways to ask ----------------------------------------------------------------------


def _shown(space: Positional) -> int:
    return getattr(space, "examples_shown", 50)


def answer_tokens(space: Positional, max_ops: int, principles: bool) -> int:
    """Room for the smallest complete answer: per position its name and `max_ops` operations
    (~8 tokens each), and five principles of up to PRINCIPLE_CHARS characters."""
    return len(space.positions()) * (8 + 8 * max_ops) + (5 * PRINCIPLE_CHARS // 3 if principles else 0) + 50


def _examples(space: Positional, top: list[tuple[str, float]]) -> str:
    return "\n".join(f"{i}. {as_layer_list(space, arch)} -> {score:.2f}" for i, (arch, score) in enumerate(top, 1))


def _numbered(principles: list[Principle]) -> str:
    return "\n".join(f"P{i}. {p.text}" for i, p in enumerate(principles, 1))


def _fields(space: Positional, dataset: str, max_ops: int, stats: list[OpStat], k: int, n: int) -> dict:
    return {"problem": space.describe(dataset), "positions": ", ".join(space.positions()), "max_ops": max_ops,
            "stats": stats_text(stats, getattr(space, "stats_shown", None)), "k": k, "rest": max(n - k, 0)}


def learn(asker: Asker, space: Positional, dataset: str, scored: list[tuple[str, float]], k: int, journal: Journal,
          step: int, max_ops: int = 2, min_cells: int = 1) -> tuple[Principles, Usage]:
    """Principles and a refined space from a task's scored architectures (section 3.2): the top k
    are shown (at most the space's `examples_shown`, 50) with the statistics of the top k
    against the rest."""
    stats = op_table(space, scored, k)
    top = sorted(scored, key=lambda item: -item[1])[:min(k, _shown(space))]
    prompt = LEARN.format(examples=_examples(space, top), **_fields(space, dataset, max_ops, stats, k, len(scored)))
    return _ask(asker, space, prompt, stats, k, journal, step, max_ops, min_cells)


def translate(asker: Asker, space: Positional, dataset: str, principles: list[Principle],
              scored: list[tuple[str, float]], k: int, journal: Journal, step: int, max_ops: int = 2,
              min_cells: int = 1) -> tuple[Principles, Usage]:
    """Transferred principles -> a refined space for the target task (Algorithm 1, line 6)."""
    stats = op_table(space, scored, k)
    prompt = TRANSLATE.format(principles=_numbered(principles), **_fields(space, dataset, max_ops, stats, k,
                                                                          len(scored)))
    return _ask(asker, space, prompt, stats, k, journal, step, max_ops, min_cells, keep=principles)


def adapt(asker: Asker, space: Positional, dataset: str, current: Principles, scored: list[tuple[str, float]],
          k: int, improved: bool, journal: Journal, step: int, max_ops: int = 2,
          min_cells: int = 1) -> tuple[Principles, Usage]:
    """Principle adaptation (section 3.3, Algorithm 2): update from the top architectures found
    when the search improved, else describe the operations the principles leave out.  Either
    way the statistics are those of what the search evaluated on this task."""
    stats = op_table(space, scored, k)
    top = sorted(scored, key=lambda item: -item[1])[:min(k, _shown(space))]
    fields = {**_fields(space, dataset, max_ops, stats, k, len(scored)), "principles": _numbered(current.principles),
              "refined": "; ".join(f"{p}: {', '.join(ops)}" for p, ops in current.refined.items())}
    if improved:
        prompt = UPDATE.format(examples=_examples(space, top), **fields)
    else:
        unused = unused_operations(space, current)
        prompt = EXPLORE.format(best=f"{as_layer_list(space, top[0][0])} -> {top[0][1]:.2f}" if top else "-",
                                unused="; ".join(unused) or "nothing", **fields)
    return _ask(asker, space, prompt, stats, k, journal, step, max_ops, min_cells)


def _ask(asker: Asker | None, space: Positional, prompt: str, stats: list[OpStat], k: int, journal: Journal, step: int,
         max_ops: int, min_cells: int, keep: list[Principle] | None = None) -> tuple[Principles, Usage]:
    """One structured answer, checked; statistics stand in for what fails.  `keep` answers a
    refined-space-only schema and keeps these principles (translation)."""
    schema = refined_schema(space.proposal_schema, max_ops) if keep is not None else \
        principles_schema(space.proposal_schema, max_ops)
    # No asker: the no-model twin (--designer none), whose principles are the statistics' alone.
    answer, usage = asker.ask([SystemMessage(SYSTEM), HumanMessage(prompt)], schema, journal, step,
                              answer_tokens=answer_tokens(space, max_ops, keep is None)) \
        if asker is not None else (None, Usage())
    suggested = None
    if answer is not None:
        suggested = answer.model_dump() if keep is not None else answer.refined.model_dump()
    if keep is not None:
        kept, dropped = list(keep), []
    else:
        kept, dropped = vet(space, answer.principles if answer is not None else [], stats)
    statistical = not kept
    if statistical:
        kept = statistical_principles(space, stats, k)
    order = ranking(stats)
    if statistical or suggested is None:  # thin principles: the statistics choose the operations
        suggested = {p: ops[:max_ops] for p, ops in order.items()}
    refined = widen(refine(space, suggested), order, min_cells)
    result = Principles(principles=kept, refined=refined.allowed, dropped=dropped, statistical=statistical)
    journal.append(step, "principles", role="learner", data={
        "kept": [p.model_dump() for p in kept], "dropped": dropped, "statistical": statistical,
        "answered": answer is not None, "refined": refined.allowed, "cells": refined.size()})
    return result, usage


def unused_operations(space: Positional, current: Principles) -> list[str]:
    """Operations the current refined space leaves out, with the positions where it does."""
    out: dict[str, list[str]] = {}
    for position, ops in space.positions().items():
        for op in ops:
            if op not in current.refined.get(position, ()):
                out.setdefault(op, []).append(position)
    return [f"{op} (left out at {', '.join(where)})" for op, where in sorted(out.items())]
