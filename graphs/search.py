"""Search steps without an LLM: what the baseline graphs propose, what the LLM graphs contain.

Every function returns new candidates (`Trial`s with step 0) that the rule Critic would
accept, seeded by the caller's rng so a resumed run proposes the same ones.

- `random_new`: uniform samples of the space (random search; Li & Talwalkar 2019).
- `rea_child`: regularised evolution (Real et al. 2019): the population is the last
  `population` evaluated architectures (the oldest leaves first); a tournament of
  `tournament` of them picks the parent, and one position is mutated.  The fallback of the
  LLM graphs is this step, not a mutation of whatever is best.
- `local`: a mutation of the best architecture so far (a greedy local search).
- `prior`: samples from per-position operation frequencies of a source task's best
  architectures (the statistical core of LAPT, seed 003 section 3, without an LLM).
"""

from __future__ import annotations

import random
from typing import Callable

from agents import critic
from graphs.context import RunContext
from graphs.state import SearchState
from spaces.base import Space, Trial
from spaces.refined import Individual, tournament_parent

TRIES = 200


def acceptable(ctx: RunContext, state: SearchState, arch: str,
               evaluated: critic.Evaluated | None = None) -> bool:
    """Not evaluated (nor isomorphic to an evaluated architecture) and accepted by the rules
    (`evaluated`: the history's index, when the caller checks many candidates against it)."""
    verdict = critic.check_rules(ctx.space, ctx.settings.dataset, arch, evaluated or state.evaluated(),
                                 ctx.settings.max_flops_m, ctx.settings.max_params_m)
    return verdict.accept


def _draw(ctx: RunContext, state: SearchState, n: int, make: Callable[[], str], source: str, why: str) -> list[Trial]:
    # Canonical forms, not strings: LLMatic's 10 random starting cells held two isomorphic NB201
    # cells in 3 of 30 bench runs (the same network evaluated twice).
    taken = {ctx.space.canonical(t.arch) for t in state.pool}
    evaluated = critic.index(state.evaluated())
    out: list[Trial] = []
    for _ in range(TRIES * max(n, 1)):
        if len(out) >= n:
            break
        arch = make()
        form = ctx.space.canonical(arch)
        if form not in taken and acceptable(ctx, state, arch, evaluated):
            taken.add(form)
            out.append(Trial(step=0, arch=arch, source=source, rationale=why))
    return out


def random_new(ctx: RunContext, state: SearchState, rng: random.Random, n: int = 1,
               source: str = "random") -> list[Trial]:
    return _draw(ctx, state, n, lambda: ctx.space.sample_random(rng), source, "a random sample of the space")


def population(state: SearchState, size: int) -> list[Individual]:
    """REA's population: the last `size` evaluated architectures, oldest first."""
    return [Individual(arch=t.arch, fitness=t.val_acc) for t in state.evaluated()[-size:]]


def rea_child(ctx: RunContext, state: SearchState, rng: random.Random, n: int = 1, source: str = "rea",
              size: int | None = None, tournament: int | None = None) -> list[Trial]:
    """Children of tournament winners (random samples while nothing is evaluated)."""
    default_size, default_tournament = ctx.space.rea
    members = population(state, size or default_size)
    if not members:  # nothing to mutate yet: random samples, named so (the Critic credits sources by results)
        return random_new(ctx, state, rng, n, "random" if source == "rea" else source)

    def make() -> str:
        parent = tournament_parent(members, tournament or default_tournament, rng)
        return ctx.space.mutate(parent.arch, rng)

    out = _draw(ctx, state, n, make, source, "regularised evolution: a mutation of a tournament winner")
    return out or random_new(ctx, state, rng, n, source)  # every child tried already: a fresh sample


def local(ctx: RunContext, state: SearchState, rng: random.Random, n: int = 1) -> list[Trial]:
    best = state.best()
    if best is None:
        return random_new(ctx, state, rng, n, "local")
    out = _draw(ctx, state, n, lambda: ctx.space.mutate(best.arch, rng), "local", "a mutation of the best so far")
    return out or random_new(ctx, state, rng, n, "local")


def prior(ctx: RunContext, state: SearchState, rng: random.Random, table: dict[str, dict[str, float]],
          n: int = 1) -> list[Trial]:
    space: Space = ctx.space

    def make() -> str:
        return space.from_ops([rng.choices(list(ops), weights=list(ops.values()))[0] for ops in table.values()])

    return _draw(ctx, state, n, make, "prior", "sampled from the source task's operation frequencies")
