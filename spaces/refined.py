"""A refined search space (LAPT, seed 003, equation 3) and regularised evolution inside it.

Omega_r keeps, for every position of the architecture (an NB201/TransNAS edge), a subset
C_i^r of its candidate operations; an architecture belongs to Omega_r when every position
holds one of its kept operations.  The members are enumerated from the space's table
(`space.all_archs()`), so sampling and mutation only ever propose architectures the
benchmark has: all 15,625 on NB201, the 711 cells of the TransNAS-Bench-101 subset.

REA (Real et al. 2019; LAPT section 4.2, Table 1, mutation probability 1): a tournament of
`tournament` individuals from the population picks the parent, one position is changed to
another kept operation, the child replaces the oldest individual.  Written by hand: it is
twenty lines, and the library versions (NASLib) bring mutable torch graphs and a dataset
loader with them.

A space without a table (DARTS, `WeightShared`: ~10^18 architectures) cannot be enumerated:
`omega` then draws Omega_r's members from the allowed choices (`Draws`), and REA's child is
the paper's DARTS setting (Table 1): a crossover of two tournament winners with probability
`crossover`, a mutation with probability `mutation` (always, when the child is not new).
"""

from __future__ import annotations

import random
from functools import cache
from typing import Callable, get_args

from pydantic import BaseModel

from spaces.base import SearchSpace, WeightShared, has


def positions(space: SearchSpace) -> dict[str, tuple[str, ...]]:
    """Position name -> its candidate operations, read from the space's proposal schema."""
    return {name: get_args(field.annotation) for name, field in space.proposal_schema.model_fields.items()}


class RefinedSpace(BaseModel):
    """Per position, the operations kept."""

    allowed: dict[str, list[str]]
    repaired: list[str] = []  # positions left with no valid op by the answer, kept whole

    def contains(self, space: SearchSpace, arch: str) -> bool:
        if has(space, WeightShared):  # e.g. a DARTS node's two terms fit their layers in either order
            return space.contains_in(self.allowed, arch)
        return all(op in self.allowed[p] for p, op in space.to_proposal(arch).items())

    def size(self) -> int:
        n = 1
        for ops in self.allowed.values():
            n *= len(ops)
        return n

    def excluded(self, space: SearchSpace) -> dict[str, list[str]]:
        return {p: [op for op in ops if op not in self.allowed[p]] for p, ops in positions(space).items()}

    def describe(self) -> str:
        return "; ".join(f"{p} in {{{', '.join(ops)}}}" for p, ops in self.allowed.items())


def refine(space: SearchSpace, suggested: dict[str, list[str]] | None) -> RefinedSpace:
    """Omega_r from suggested operations per position.  Operations the space does not have are
    ignored; a position left empty (or not mentioned) keeps all its operations, because no
    principle spoke against any of them, so every position keeps at least one operation."""
    suggested = suggested or {}
    allowed, repaired = {}, []
    for position, ops in positions(space).items():
        kept = [op for op in ops if op in set(suggested.get(position, ()))]
        if not kept:
            kept = list(ops)
            repaired.append(position)
        allowed[position] = kept
    return RefinedSpace(allowed=allowed, repaired=repaired)


def widen(refined: RefinedSpace, ranking: dict[str, list[str]], min_size: int) -> RefinedSpace:
    """Add operations until Omega_r holds at least `min_size` architectures: each time the most
    recommended operation left out anywhere (its place in `ranking`, best first per position;
    ties go to the position with the fewest operations), so a thin or collapsed answer cannot
    shrink the search to a handful of cells."""
    allowed = {p: list(ops) for p, ops in refined.allowed.items()}

    def size() -> int:
        n = 1
        for ops in allowed.values():
            n *= len(ops)
        return n

    while size() < min_size:
        options = []
        for position, order in ranking.items():
            missing = [op for op in order if op not in allowed.get(position, [])]
            if missing:
                options.append((order.index(missing[0]), len(allowed[position]), position, missing[0]))
        if not options:
            break
        _, _, position, op = min(options)
        allowed[position].append(op)
    return RefinedSpace(allowed=allowed, repaired=refined.repaired)


def full_space(space: SearchSpace) -> RefinedSpace:
    return RefinedSpace(allowed={p: list(ops) for p, ops in positions(space).items()})


def members(space: SearchSpace, refined: RefinedSpace) -> list[str]:
    """The benchmark's architectures inside Omega_r, in table order (deterministic)."""
    return [arch for arch in _all(space.name) if refined.contains(space, arch)]


@cache
def _all(space_name: str) -> tuple[str, ...]:
    import spaces

    return tuple(spaces.get(space_name).all_archs())


class Individual(BaseModel):
    arch: str
    fitness: float


# `seen` holds canonical forms (space.canonical): two NB201 strings that differ only on the
# edges of an unused node are one network, and LAPT at 100 evaluations on ImageNet16-120 spent
# 13% of them on such twins when `seen` held the strings (bench/nb201, 5 seeds).

def sample_new(pool: list[str], seen: set[str], rng: random.Random, canonical: Callable[[str], str]) -> str | None:
    """A random member of `pool` whose network is not evaluated yet (None when the pool is exhausted)."""
    fresh = [arch for arch in pool if canonical(arch) not in seen]
    return rng.choice(fresh) if fresh else None


def mutate_within(space: SearchSpace, parent: str, pool: set[str], seen: set[str],
                  rng: random.Random) -> str | None:
    """Change one position of `parent` to another operation such that the child is in `pool`
    (the refined members) and its network not evaluated yet.  None when no such neighbour exists."""
    candidates = sorted(arch for arch in space.neighbours(parent)
                        if arch in pool and space.canonical(arch) not in seen)
    return rng.choice(candidates) if candidates else None


def tournament_parent(population: list[Individual], size: int, rng: random.Random) -> Individual:
    contestants = rng.sample(population, min(size, len(population)))
    return max(contestants, key=lambda ind: ind.fitness)


def rea_child(space: SearchSpace, population: list[Individual], pool: list[str], seen: set[str],
              tournament: int, rng: random.Random) -> str | None:
    """The next architecture REA evaluates: a mutation of the tournament winner inside the
    refined space; if every such neighbour is evaluated already, a fresh random member
    (the search never pays twice for one network; `seen`: canonical forms)."""
    pool_set = set(pool)
    if population:
        parent = tournament_parent(population, tournament, rng)
        child = mutate_within(space, parent.arch, pool_set, seen, rng)
        if child is not None:
            return child
    return sample_new(pool, seen, rng, space.canonical)


def age(population: list[Individual], child: Individual, size: int) -> list[Individual]:
    """Regularised evolution: the child joins, the oldest leaves once the population is full."""
    population = population + [child]
    return population[-size:]


# --- Omega_r as REA draws from it ------------------------------------------------------------

TRIES = 200  # draws before a refined space without a table counts as exhausted


class Members:
    """Omega_r of a benchmark table: its members, enumerated (NB201, TransNAS-Bench-101)."""

    def __init__(self, space: SearchSpace, refined: RefinedSpace):
        self.space, self.pool = space, members(space, refined)
        self.size = len(self.pool)

    def fresh(self, seen: set[str], rng: random.Random) -> str | None:
        return sample_new(self.pool, seen, rng, self.space.canonical)

    def child(self, population: list[Individual], seen: set[str], tournament: int, rng: random.Random,
              crossover: float = 0.0, mutation: float = 1.0) -> str | None:
        return rea_child(self.space, population, self.pool, seen, tournament, rng)


class Draws:
    """Omega_r of a space without a table (DARTS): members drawn from the allowed choices."""

    def __init__(self, space: SearchSpace, refined: RefinedSpace):
        self.space, self.allowed = space, refined.allowed
        self.size = min(refined.size(), space.size)

    def fresh(self, seen: set[str], rng: random.Random) -> str | None:
        for _ in range(TRIES):
            arch = self.space.sample_in(self.allowed, rng)
            if self.space.canonical(arch) not in seen:
                return arch
        return None

    def child(self, population: list[Individual], seen: set[str], tournament: int, rng: random.Random,
              crossover: float = 0.0, mutation: float = 1.0) -> str | None:
        """A tournament winner, crossed with a second winner (probability `crossover`; by node, so
        the child stays inside Omega_r), mutated inside Omega_r (probability `mutation`, or when
        the child is a network evaluated already); a fresh draw when no new child is found."""
        if not population:
            return self.fresh(seen, rng)
        child = tournament_parent(population, tournament, rng).arch
        if crossover and rng.random() < crossover:
            child = self.space.crossover(child, tournament_parent(population, tournament, rng).arch, rng)
        if rng.random() < mutation or self.space.canonical(child) in seen:
            options = [arch for arch in self.space.neighbours_in(child, self.allowed)
                       if self.space.canonical(arch) not in seen]
            child = rng.choice(options) if options else None
        return child if child is not None else self.fresh(seen, rng)


def omega(space: SearchSpace, refined: RefinedSpace) -> Members | Draws:
    return Draws(space, refined) if has(space, WeightShared) else Members(space, refined)
