"""The Critic: decides, before an evaluation is spent, which candidate deserves it, and says why.

Rules first, because they are exact and free: a candidate is rejected when it was already
evaluated, when it is isomorphic to an evaluated one (same canonical form: it would compute
the same function), when the Critic can tell it is at chance (`space.trivial`: e.g. an NB201
cell whose output is always zero), when a benchmark table does not have it, or when it
breaks a FLOPs/params constraint.

Then evidence that costs no evaluation (tools/evidence.py: FLOPs and params from the table
or a sandboxed forward pass, training-free proxies computed on the real network) ranks the
candidates that passed: each kind of evidence is turned into a rank within the pool, and
the score is the mean of those ranks (robust to the kinds' very different scales).

Evidence alone would let a designer win only where the evidence already agrees with it: a
perfect designer whose cells the proxies rank second would never be evaluated.  So each
source of candidates (the model, REA children, random samples, a transfer source) also
earns evaluations by how its evaluated candidates did (`allocate`): a per-source credit is
added to the evidence score, the mean standing of the source's evaluations among all of
the run's (an optimistic first value, so every source is tried early, and a small UCB1
bonus, Auer et al. 2002, so a source that started badly is tried again in a long run).
A designer whose proposals do well takes most evaluations; one whose proposals do badly
loses them after one or two, and the contained search goes on as it would without it.
The best total is evaluated.  With a critic model (`--critic llm`), the model sees
the top candidates with their evidence and the designer's rationale and picks one, with a
reason; an unreadable or out-of-list answer falls back to the evidence ranking, so a weak
model cannot make the choice worse than the ranking it was shown.
"""

from __future__ import annotations

import json
import math
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, create_model

from agents.structured import Asker, Usage
from errors import UserError
from memory.journal import Journal
from spaces.base import SearchSpace, Tabular, Trial, has

VerdictKind = Literal["ok", "duplicate", "isomorphic", "at_chance", "not_in_table", "constraint", "malformed",
                      "llm_rejected", "ranked_lower"]


class Verdict(BaseModel):
    accept: bool
    kind: VerdictKind
    reason: str


class Ranked(BaseModel):
    """One candidate as the Critic ranked it: its evidence, its evidence score (mean rank in the
    pool, 0-1), its source's credit (`allocate`) and the total it is ordered by."""

    arch: str
    source: str
    evidence: dict[str, float]
    score: float
    credit: float = 0.0
    total: float = 0.0


class Credit(BaseModel):
    """What a source of candidates has earned: its evaluations in this run, their mean standing
    among all of the run's evaluations (0 worst, 1 best; None before any), and the credit added
    to its candidates' evidence score."""

    evaluated: int
    mean: float | None
    credit: float


# Sources grouped by who made the candidate: the model (whole proposals, edits, the user's edits
# count with them), the contained REA (its fallback steps too), random samples, a transfer source.
GROUPS = {"llm": "model", "edit": "model", "human": "model", "rea": "rea", "fallback": "rea", "baseline": "rea",
          "random": "random", "flops": "random", "prior": "transfer", "local": "local"}
OPTIMISM = 1.0   # the standing a source is credited with before its first evaluation: every source is tried
EXPLORE = 0.25   # UCB1's exploration weight: small, so one bad evaluation costs a source its turn at budget 10
WEIGHT = 1.0     # credit against evidence score (both 0-1): a clearly better source outweighs the evidence


class Choice(BaseModel):
    """What the critic model answers in `llm` mode (the number is constrained to the list shown)."""

    reason: str = Field(description="one sentence, citing the evidence", json_schema_extra={"maxLength": 300})
    choice: int = Field(description="the number of the candidate to evaluate")


SYSTEM = """\
You are the Critic in a neural architecture search. Evaluations are expensive. You see candidate \
architectures with evidence that cost no evaluation (FLOPs, parameters, training-free proxy scores: \
higher scores predict higher accuracy) and the results so far, and you choose the one candidate that \
deserves the next evaluation. Answer with a JSON object: a one-sentence reason citing the evidence, \
then the candidate's number."""

CHOOSE = """\
{problem}

Results so far ({metric}, best first):
{results}

Candidates, ranked by the evidence (score: mean rank of the evidence in this list, 1 is best):
{candidates}

Which candidate should be evaluated next?"""


class Evaluated:
    """What was evaluated, indexed by architecture and canonical form: a search checks many
    candidates against the same history, so the index is built once per history (`index`)."""

    def __init__(self, trials: list[Trial]):
        self.trials = trials
        self.by_arch = {t.arch: t for t in reversed(trials)}  # the first evaluation of each wins
        self.by_canonical = {t.evaluation.canonical: t for t in reversed(trials) if t.evaluation}


def index(trials: "list[Trial] | Evaluated") -> Evaluated:
    return trials if isinstance(trials, Evaluated) else Evaluated(trials)


def check_rules(space: SearchSpace, dataset: str, arch: str, evaluated: "list[Trial] | Evaluated",
                max_flops_m: float | None, max_params_m: float | None) -> Verdict:
    """The exact checks, in order of cheapness."""
    evaluated = index(evaluated)
    try:  # code spaces (torch-code) refuse code they will not run; the reason goes back to the designer
        space.validate(arch)
    except UserError as err:
        return Verdict(accept=False, kind="malformed", reason=f"it cannot be run: {err}")
    trivial = space.trivial(arch)
    if trivial is not None:
        return Verdict(accept=False, kind="at_chance", reason=f"it would score at chance: {trivial}")
    if has(space, Tabular) and not space.contains(arch):
        return Verdict(accept=False, kind="not_in_table", reason=f"the {space.name} table does not have it, so it "
                                                                  "cannot be evaluated")
    trial = evaluated.by_arch.get(arch)
    if trial is not None:
        return Verdict(accept=False, kind="duplicate",
                       reason=f"it is identical to the architecture evaluated at step {trial.step} "
                              f"({trial.val_acc:.2f}%).")
    trial = evaluated.by_canonical.get(space.canonical(arch))
    if trial is not None:
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


def rank(candidates: list[Trial], evidence: list[dict[str, float]]) -> list[Ranked]:
    """Candidates by score, best first.  The score of a candidate is the mean over the kinds of
    evidence of its rank percentile in the pool (1 = highest value of that kind; ties share
    their mean rank); a kind some candidates lack is left out for all.  Higher evidence is
    better for every kind (FLOPs included: the random+FLOPs baseline's assumption, which holds
    on the benchmarks here).  Stable: equal scores keep the pool's order."""
    kinds = sorted(set.intersection(*(set(e) for e in evidence))) if evidence else []
    n = len(candidates)
    scores = [0.0] * n
    for kind in kinds:
        for i, pct in enumerate(_percentiles([e[kind] for e in evidence])):
            scores[i] += pct / len(kinds)
    ranked = [Ranked(arch=c.arch, source=c.source, evidence=e, score=round(s, 4) if kinds else 0.0)
              for c, e, s in zip(candidates, evidence, scores)]
    order = sorted(range(n), key=lambda i: -ranked[i].score)
    return [ranked[i] for i in order]


def group_of(source: str) -> str:
    return GROUPS.get(source, source)


def standings(evaluated: list[Trial]) -> list[float]:
    """Each evaluation's standing among all of them: (rank - 1/2) / n by validation score, ties
    averaged, so a single evaluation stands at 0.5 and the best of n at 1 - 1/2n."""
    n = len(evaluated)
    if n == 0:
        return []
    return [(p * (n - 1) + 0.5) / n for p in _percentiles([t.val_acc for t in evaluated])]


def credits(evaluated: list[Trial], groups: set[str]) -> dict[str, Credit]:
    """The credit of each source group: its mean standing, with one optimistic pseudo-evaluation
    (OPTIMISM), plus EXPLORE * sqrt(ln(N + 1) / (n + 1)) (UCB1 with the pseudo-evaluation counted)."""
    scored = [t for t in evaluated if t.val_acc is not None]
    standing = standings(scored)
    total = len(scored)
    out = {}
    for group in sorted(groups):
        mine = [s for t, s in zip(scored, standing) if group_of(t.source) == group]
        value = (OPTIMISM + sum(mine)) / (1 + len(mine)) + EXPLORE * math.sqrt(math.log(total + 1) / (len(mine) + 1))
        out[group] = Credit(evaluated=len(mine), mean=round(sum(mine) / len(mine), 4) if mine else None,
                            credit=round(value, 4))
    return out


def allocate(ranked: list[Ranked], evaluated: list[Trial]) -> tuple[list[Ranked], dict[str, Credit]]:
    """Order candidates by evidence score + WEIGHT x their source's credit (stable: equal totals
    keep the evidence order); returns the order and the credits (journaled with each choice)."""
    table = credits(evaluated, {group_of(r.source) for r in ranked})
    scored = [r.model_copy(update={"credit": table[group_of(r.source)].credit,
                                   "total": round(r.score + WEIGHT * table[group_of(r.source)].credit, 4)})
              for r in ranked]
    return sorted(scored, key=lambda r: -r.total), table


def _percentiles(values: list[float]) -> list[float]:
    """Rank percentile of each value (0 lowest, 1 highest), ties averaged."""
    n = len(values)
    if n == 1:
        return [1.0]
    order = sorted(range(n), key=lambda i: values[i])
    out = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = ((i + j) / 2) / (n - 1)
        i = j + 1
    return out


def choose_with_llm(asker: Asker, space: SearchSpace, dataset: str, ranked: list[Ranked], rationales: dict[str, str],
                    evaluated: list[Trial], journal: Journal, step: int, shown: int = 5) -> tuple[int, str, Usage]:
    """The critic model picks one of the `shown` best-ranked candidates: (index into `ranked`,
    reason, usage).  Index 0 with the ranking's reason when the answer is unusable."""
    top = ranked[:shown]
    scored = sorted((t for t in evaluated if t.val_acc is not None), key=lambda t: -t.val_acc)[:8]
    results = "\n".join(f"- {json.dumps(space.to_proposal(t.arch))}: {t.val_acc:.2f}" for t in scored) or "- none yet"
    lines = []
    for i, r in enumerate(top, 1):
        evidence = ", ".join(f"{k} {v:.4g}" for k, v in sorted(r.evidence.items()))
        why = rationales.get(r.arch, "")
        lines.append(f"{i}. {json.dumps(space.to_proposal(r.arch))} ({r.source}; score {r.score:.2f}; {evidence})"
                     + (f" designer: {why}" if why else ""))
    schema = create_model("CriticChoice", __base__=Choice,
                          choice=(Literal[tuple(range(1, len(top) + 1))], Field(description="candidate number")))
    messages = [SystemMessage(SYSTEM), HumanMessage(CHOOSE.format(
        problem=space.describe(dataset), metric=space.metric, results=results, candidates="\n".join(lines)))]
    answer, usage = asker.ask(messages, schema, journal, step)
    if answer is None:
        return 0, "the critic model's answer was unreadable; the evidence ranking decided", usage
    return answer.choice - 1, " ".join(answer.reason.split())[:300] or "chosen by the critic model", usage
