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

import bisect
import json
import math
import weakref
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
    candidates against the same history, so the index is built once per history (`index`) and
    extended as the history grows (`add`, graphs/state.py)."""

    def __init__(self, trials: list[Trial]):
        self.trials: list[Trial] = []
        self.by_arch: dict[str, Trial] = {}
        self.by_canonical: dict[str, Trial] = {}
        # Evaluations that failed (a crash, a timeout): not evaluated, but not to be tried again either
        # (a random+flops pool proposed the same crashing MobileNetV2 every step, issue 23).
        self.failed: dict[str, Trial] = {}
        for trial in trials:
            if trial.evaluation is not None and trial.evaluation.val_acc is None:
                self.fail(trial)
            else:
                self.add(trial)

    def add(self, trial: Trial) -> None:
        self.trials.append(trial)
        self.by_arch.setdefault(trial.arch, trial)  # the first evaluation of each wins
        if trial.evaluation:
            self.by_canonical.setdefault(trial.evaluation.canonical, trial)

    def fail(self, trial: Trial) -> None:
        self.failed.setdefault(trial.arch, trial)
        if trial.evaluation and trial.evaluation.canonical:
            self.failed.setdefault(trial.evaluation.canonical, trial)


def index(trials: "list[Trial] | Evaluated") -> Evaluated:
    return trials if isinstance(trials, Evaluated) else Evaluated(trials)


def check_rules(space: SearchSpace, dataset: str, arch: str, evaluated: "list[Trial] | Evaluated",
                max_flops_m: float | None, max_params_m: float | None, min_flops_m: float | None = None) -> Verdict:
    """The exact checks, in order of cheapness."""
    evaluated = index(evaluated)
    refused = _static_verdict(space, arch)
    if refused is not None:
        return refused
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
    trial = (evaluated.failed.get(arch) or evaluated.failed.get(space.canonical(arch))) if evaluated.failed else None
    if trial is not None:
        why = trial.evaluation.failure if trial.evaluation else "failure"
        return Verdict(accept=False, kind="duplicate",
                       reason=f"the same network failed when evaluated at step {trial.step} ({why}): "
                              "it would fail again.")
    if max_flops_m is not None or max_params_m is not None or min_flops_m is not None:
        try:
            flops, params = space.cost(arch, dataset)
        except UserError as err:  # torch-code measures in the sandbox: the network may not build
            return Verdict(accept=False, kind="malformed", reason=f"it cannot be measured: {err}")
        outside = flops_outside(flops, min_flops_m, max_flops_m)
        if outside:
            return Verdict(accept=False, kind="constraint", reason=outside)
        if max_params_m is not None and params > max_params_m:
            return Verdict(accept=False, kind="constraint",
                           reason=f"it has {params:.3f} M parameters, above the limit of {max_params_m:g}.")
    return ACCEPTED


ACCEPTED = Verdict(accept=True, kind="ok", reason="new, and within the constraints.")  # one object: read, never changed
_STATIC: "weakref.WeakKeyDictionary[SearchSpace, dict[str, Verdict | None]]" = weakref.WeakKeyDictionary()


def _static_verdict(space: SearchSpace, arch: str) -> Verdict | None:
    """The checks that depend on the architecture alone, remembered per space: a pool's candidates
    are checked again every step (86 a step in GENIUS, most of a step's rules time)."""
    seen = _STATIC.setdefault(space, {})
    if arch in seen:
        return seen[arch]
    verdict = None
    try:  # code spaces (torch-code) refuse code they will not run; the reason goes back to the designer
        space.validate(arch)
    except UserError as err:
        verdict = Verdict(accept=False, kind="malformed", reason=f"it cannot be run: {err}")
    if verdict is None and (trivial := space.trivial(arch)) is not None:
        verdict = Verdict(accept=False, kind="at_chance", reason=f"it would score at chance: {trivial}")
    if verdict is None and has(space, Tabular) and not space.contains(arch):
        verdict = Verdict(accept=False, kind="not_in_table", reason=f"the {space.name} table does not have it, so it "
                                                                       "cannot be evaluated")
    if len(seen) > 200_000:  # long searches of code: keep memory bounded
        seen.clear()
    seen[arch] = verdict
    return verdict


def check_bound(space: SearchSpace, low: float | None, high: float | None) -> None:
    """Refuse a FLOPs bound no architecture of the space can meet (one line, before the run folder
    exists), on spaces that know their range (`flops_range`: the macro tables, mobilenetv2)."""
    span = getattr(space, "flops_range", None)
    if span is None or (low is None and high is None):
        return
    smallest, largest = span()
    if high is not None and high < smallest:
        raise UserError(f"no {space.name} architecture has at most {high:g} MFLOPs: the smallest has {smallest:.1f}")
    if low is not None and low > largest:
        raise UserError(f"no {space.name} architecture has at least {low:g} MFLOPs: the largest has {largest:.1f}")


def flops_outside(flops: float, low: float | None, high: float | None) -> str:
    """Why `flops` is outside the bound, with how far (GENIUS's feedback, section 5: "resulting 362
    FLOPS, which is 32 FLOPS higher the upper bound of 330"); empty when it is inside."""
    if high is not None and flops > high:
        return f"it needs {flops:.1f} MFLOPs, {flops - high:.1f} above the upper bound of {high:g}."
    if low is not None and flops < low:
        return f"it needs {flops:.1f} MFLOPs, {low - flops:.1f} below the lower bound of {low:g}."
    return ""


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


class Standings:
    """Each evaluation's standing among all of the run's: (rank + 1/2) / n by validation score
    (0-based rank, ties averaged), so a single evaluation stands at 0.5 and the best of n at
    1 - 1/2n; summed per source group.  Kept up to date as evaluations arrive (`add`: a few
    bisections), since the Critic reads it every round over a history of any length."""

    def __init__(self, evaluated: "list[Trial]" = ()):
        self.values: list[float] = []               # every evaluation's score, sorted
        self.groups: dict[str, list[float]] = {}    # a source group's scores, sorted
        self.rank_sums: dict[str, float] = {}       # a group's sum of 0-based average ranks among all
        for trial in evaluated:
            self.add(trial)

    def add(self, trial: Trial) -> None:
        value = trial.val_acc
        if value is None:
            return
        for group, scores in self.groups.items():  # the new score moves every higher one up a rank (ties half)
            above, equal = len(scores) - bisect.bisect_right(scores, value), \
                bisect.bisect_right(scores, value) - bisect.bisect_left(scores, value)
            self.rank_sums[group] += above + equal / 2
        bisect.insort(self.values, value)
        below = bisect.bisect_left(self.values, value)
        equal = bisect.bisect_right(self.values, value) - below
        group = group_of(trial.source)
        self.rank_sums[group] = self.rank_sums.get(group, 0.0) + below + (equal - 1) / 2
        bisect.insort(self.groups.setdefault(group, []), value)

    def mean(self, group: str) -> float | None:
        n = len(self.groups.get(group, ()))
        return (self.rank_sums[group] + n / 2) / len(self.values) / n if n else None

    def credits(self, groups: set[str], pending: dict[str, int] | None = None) -> dict[str, Credit]:
        """The credit of each source group: its mean standing, with one optimistic pseudo-evaluation
        (OPTIMISM), plus EXPLORE * sqrt(ln(N + 1) / (n + 1)) (UCB1 with the pseudo-evaluation counted).
        `pending`: picks of a batch already made from a group, not evaluated yet, each counted as
        an evaluation at the group's mean standing (0.5, any evaluation's mean, before its first):
        the hallucinated observations of batch UCB (Desautels et al. 2014), so one optimistic
        credit does not win a whole batch."""
        total, out = len(self.values), {}
        for group in sorted(groups):
            n, mean = len(self.groups.get(group, ())), self.mean(group)
            p = (pending or {}).get(group, 0)
            held = (mean if mean is not None else 0.5) * p
            value = (OPTIMISM + (mean or 0.0) * n + held) / (1 + n + p) + \
                EXPLORE * math.sqrt(math.log(total + 1) / (n + p + 1))
            out[group] = Credit(evaluated=n, mean=round(mean, 4) if mean is not None else None, credit=round(value, 4))
        return out


def credits(evaluated: "list[Trial] | Standings", groups: set[str]) -> dict[str, Credit]:
    standings = evaluated if isinstance(evaluated, Standings) else Standings(evaluated)
    return standings.credits(groups)


def allocate(candidates: list[Trial], evidence: list[dict[str, float]],
             evaluated: "list[Trial] | Standings", batch: int = 1) -> tuple[list[Ranked], dict[str, Credit]]:
    """The candidates in the order they deserve evaluations, and the credits (journaled with each
    choice).  A candidate's total is its evidence score in the pool + WEIGHT x its source's credit.

    The contained search's candidates keep the order they have among themselves, as the graph's
    no-model twin ranks them (evidence scores are ranks within the pool, and the model's
    candidates in the pool would shift them); a model candidate goes before one of them only with
    a higher total.  So a model that never wins changes nothing, and the twin measures exactly
    what its wins add (measured before this: SmolLM2's candidates, never evaluated, still moved
    GENIUS 0.25 below its twin on CIFAR-10 by compressing the contained candidates' scores).

    `batch` > 1 (LLMatic evaluates a generation at once): the first `batch` places are filled one
    at a time, each pick counted as pending in its group's credit (`Standings.credits`); without
    it an untried source's optimistic credit took all 8 evaluations of LLMatic's first
    generation at budget 10 (REA children of the 2 starting cells: 92.84 on CIFAR-10, below
    random search)."""
    standings = evaluated if isinstance(evaluated, Standings) else Standings(evaluated)
    groups = {group_of(c.source) for c in candidates}
    table = standings.credits(groups)

    def totals(ranked: list[Ranked]) -> list[Ranked]:
        for r in ranked:  # fresh objects of rank(): set in place (a model_copy each was 3 ms of a step)
            r.credit = table[group_of(r.source)].credit
            r.total = round(r.score + WEIGHT * r.credit, 4)
        ordered = sorted(ranked, key=lambda r: -r.total)  # stable: equal totals keep the evidence order
        return _batched(ordered, batch, standings, groups) if batch > 1 else ordered

    whole = totals(rank(candidates, evidence))
    mine = [r for r in whole if group_of(r.source) == "model"]
    others = [(c, e) for c, e in zip(candidates, evidence) if group_of(c.source) != "model"]
    if not mine or not others:
        return whole, table
    in_pool = {r.arch: r for r in whole}
    own = [in_pool[r.arch] for r in totals(rank([c for c, _ in others], [e for _, e in others]))]
    merged, i, j = [], 0, 0
    while i < len(mine) or j < len(own):
        if j == len(own) or (i < len(mine) and mine[i].total > own[j].total):
            merged.append(mine[i])
            i += 1
        else:
            merged.append(own[j])
            j += 1
    return merged, table


def _batched(ordered: list[Ranked], batch: int, standings: Standings, groups: set[str]) -> list[Ranked]:
    """The first `batch` of `ordered` chosen one at a time with the batch's earlier picks pending in
    their groups' credits; the rest after them in their order."""
    left, picked, pending = list(ordered), [], {}
    for _ in range(min(batch, len(left))):
        table = standings.credits(groups, pending)
        best = max(range(len(left)), key=lambda i: (left[i].score + WEIGHT * table[group_of(left[i].source)].credit,
                                                    -i))  # ties: the earlier (evidence order)
        r = left.pop(best)
        r.credit = table[group_of(r.source)].credit
        r.total = round(r.score + WEIGHT * r.credit, 4)
        picked.append(r)
        pending[group_of(r.source)] = pending.get(group_of(r.source), 0) + 1
    return picked + left


def _percentiles(values: list[float]) -> list[float]:
    """Rank percentile of each value (0 lowest, 1 highest), ties averaged."""
    n = len(values)
    if n == 1:
        return [1.0]
    first: dict[float, int] = {}
    last: dict[float, int] = {}
    for rank, value in enumerate(sorted(values)):
        first.setdefault(value, rank)
        last[value] = rank
    return [(first[v] + last[v]) / 2 / (n - 1) for v in values]


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
