"""LLMatic's two CVT-MAP-Elites archives, on pyribs (seed 001, sections 3 and 4.1).

- `NetworkArchive` (section 3, "network archive"): fitness = validation accuracy, two
  behavioural descriptors (LLMatic: width-to-depth ratio and FLOPs; for NB201 see
  `spaces/nb201.py`).  Networks are named by string keys (an NB201 arch string, a code
  hash); the keys live in a list and pyribs stores a key's index as a one-number
  solution, so pyribs does the niche logic: an elite is replaced only by a strictly
  better network in its niche.
- `PromptArchive` (section 3, "prompt archive"; scores from section 4.1): descriptors
  (prompt id, temperature).  An individual *is a niche* of this archive: every
  (prompt id, temperature) that falls in the same CVT cell credits the same
  individual.  Its objective is the collective prompt fitness (+1 each time one of its
  offspring beat the previous generation's best); beside it, its curiosity score
  (+1.0 offspring entered the network archive, -0.5 it did not, -1.0 it could not be
  built or trained) picks the individual that mutates next.

Section 4.1: "10 niches per dimension, 2 dimensions per archive", so 100 CVT cells.
As in the paper (Figure 3: ranges "normalised to 0-1 for CVT-MAP-Elites"), the
tessellation lives on the unit square and descriptors are rescaled into it.

Both archives are rebuilt exactly by replaying the same calls in the same order with
the same seed: the search replays its journal on resume instead of pickling pyribs
objects.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel

from memory.archive import AddStatus

__all__ = ["CURIOSITY", "NetworkArchive", "Outcome", "PromptArchive", "PromptIndividual", "QDElite"]

Outcome = Literal["added", "not_added", "untrainable", "ranked_out"]

# Section 4.1: curiosity +1.0 if the offspring was added to the network archive, -0.5 if
# not, -1.0 if it was untrainable.  Multiples of 0.5 add up exactly in binary floating
# point, so equal curiosities compare equal and ties are real ties.
# ranked_out: the evidence Critic did not spend an evaluation on the offspring; for its prompt
# that is an offspring that did not enter the archive.
CURIOSITY: dict[str, float] = {"added": 1.0, "not_added": -0.5, "ranked_out": -0.5, "untrainable": -1.0}

# k-means over pyribs' default 100,000 samples takes ~0.8 s per archive (one thread), over
# 10,000 ~0.05 s, still ~100 samples per cell for 100 cells.  The search rebuilds both
# archives from its journal every generation, so construction has to be cheap.
CVT_SAMPLES = 10_000


class QDElite(BaseModel):
    """A network archive elite.  (`memory.archive.Elite` is the older niche-per-isomorphism
    record; this one adds the descriptors and the CVT niche.)"""

    key: str
    fitness: float
    descriptors: tuple[float, float]
    niche: int


class PromptIndividual(BaseModel):
    """A prompt archive niche: its representative (prompt id, temperature) and its scores."""

    prompt_id: int
    temperature: float
    niche: int
    curiosity: float
    fitness: float


class _Row(NamedTuple):
    """One elite as plain Python values, read back from pyribs."""

    solution: tuple[float, ...]
    fitness: float
    descriptors: tuple[float, float]
    measures: tuple[float, float]  # the descriptors rescaled to the unit square
    niche: int


@lru_cache(maxsize=8)
def _unit_centroids(cells: int, seed: int) -> np.ndarray:
    """CVT centroids on the unit square, identical for a (cells, seed) on any machine.

    sklearn's k-means sums over OpenMP threads, so its centroids move by an ulp (and come
    out in another order) when the thread count changes; one thread makes them depend on
    the seed alone, and is ~20x faster here than the multithreaded start-up.  Cached
    because every generation rebuilds the archives with the same (cells, seed).
    """
    from ribs.archives import k_means_centroids
    from threadpoolctl import threadpool_limits  # sklearn's own dependency

    with threadpool_limits(limits=1):
        centroids, _ = k_means_centroids(centroids=cells, ranges=[(0.0, 1.0), (0.0, 1.0)],
                                         samples=CVT_SAMPLES, seed=seed)
    centroids.setflags(write=False)  # shared between archives through the cache
    return centroids


def _checked_ranges(ranges: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]]:
    if len(ranges) != 2 or any(not high > low for low, high in ranges):
        raise ValueError(f"need two (low, high) descriptor ranges with low < high, got {ranges!r}")
    (low_x, high_x), (low_y, high_y) = ranges
    return (float(low_x), float(high_x)), (float(low_y), float(high_y))


class _UnitSquareCVT:
    """A pyribs `CVTArchive` whose descriptors are clipped into their ranges and rescaled
    to the unit square; the clipped raw descriptors ride along in an extra field.

    Why rescale: pyribs runs k-means and the nearest-centroid search on raw measures.
    With NB201's ranges (about 8-220 MFLOPs, depth 0-3) the 100 cells become stripes
    across FLOPs and depth never changes the niche.
    """

    def __init__(self, ranges: Sequence[tuple[float, float]], cells_per_dim: int, seed: int, solution_dim: int):
        from ribs.archives import CVTArchive

        self.ranges = _checked_ranges(ranges)
        self._low, self._high = np.array(self.ranges).T
        self.archive = CVTArchive(
            solution_dim=solution_dim,
            centroids=_unit_centroids(cells_per_dim ** 2, seed),
            ranges=[(0.0, 1.0), (0.0, 1.0)],
            seed=seed,
            # qd_score_offset stays 0: accuracies and prompt-fitness counts are never
            # negative, so every filled niche already adds a non-negative amount.
            extra_fields={"descriptors": ((2,), np.float64)},
        )

    def _clip(self, descriptors: Sequence[float]) -> np.ndarray:
        # Out-of-range descriptors go to the border, as pyribs' GridArchive does (its
        # CVTArchive would store them unclipped and map them to the nearest centroid).
        return np.clip(np.asarray(descriptors, dtype=np.float64), self._low, self._high)

    def _unit(self, clipped: np.ndarray) -> np.ndarray:
        return (clipped - self._low) / (self._high - self._low)

    def _niche_of(self, descriptors: Sequence[float]) -> int:
        return int(self.archive.index_of_single(self._unit(self._clip(descriptors))))

    def _offer(self, solution: Sequence[float], fitness: float, descriptors: Sequence[float]) -> AddStatus:
        """pyribs' MAP-Elites rule: a niche's elite is replaced only by a strictly higher
        fitness (a tie keeps the incumbent)."""
        clipped = self._clip(descriptors)
        info = self.archive.add_single(solution, fitness, self._unit(clipped), descriptors=clipped)
        return AddStatus(int(info["status"]))

    def _rows(self) -> list[_Row]:
        """Every elite, in niche order so that iteration order never depends on history."""
        data = self.archive.data()
        rows = [_Row(tuple(map(float, solution)), float(fitness), (float(d[0]), float(d[1])),
                     (float(m[0]), float(m[1])), int(niche))
                for solution, fitness, d, m, niche in zip(data["solution"], data["objective"], data["descriptors"],
                                                          data["measures"], data["index"])]
        return sorted(rows, key=lambda row: row.niche)

    def stats(self) -> dict[str, int | float | None]:
        """filled (elites), coverage (filled / cells, 0-1), qd_score (sum of elite
        fitness, offset 0), best_fitness (None while empty); all from pyribs."""
        stats = self.archive.stats
        return {"filled": int(stats.num_elites), "coverage": float(stats.coverage), "qd_score": float(stats.qd_score),
                "best_fitness": None if stats.obj_max is None else float(stats.obj_max)}

    def heatmap(self, path: Path, labels: tuple[str, str], title: str) -> None:
        """Write the Voronoi heatmap of elite fitness as a PNG; ticks show raw descriptors."""
        from matplotlib.figure import Figure  # lazy: matplotlib is slow to import
        from matplotlib.ticker import FuncFormatter
        from ribs.visualize import cvt_archive_heatmap

        # A bare Figure renders PNGs with Agg and never touches pyplot's global backend
        # or its list of open figures, so nothing needs closing and no window can open.
        fig = Figure(figsize=(5.5, 4.2))
        ax = fig.subplots()
        cvt_archive_heatmap(self.archive, ax=ax, cmap="viridis")
        for axis, (low, high) in zip((ax.xaxis, ax.yaxis), self.ranges):
            axis.set_major_formatter(FuncFormatter(lambda unit, _, low=low, high=high:
                                                   f"{low + unit * (high - low):.3g}"))
        ax.set(xlabel=labels[0], ylabel=labels[1], title=title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)


class NetworkArchive(_UnitSquareCVT):
    """Networks by validation accuracy over two descriptors; 100 niches by default."""

    def __init__(self, ranges: list[tuple[float, float]], cells_per_dim: int = 10, seed: int = 0):
        super().__init__(ranges, cells_per_dim, seed, solution_dim=1)
        self._keys: list[str] = []          # pyribs solution [i] names self._keys[i]
        self._index: dict[str, int] = {}    # so a key offered twice is stored once

    def add(self, key: str, fitness: float, descriptors: tuple[float, float]) -> AddStatus:
        """Offer a network; NEW (empty niche), IMPROVE_EXISTING (strictly better than the
        niche's elite) or NOT_ADDED."""
        if key not in self._index:
            self._index[key] = len(self._keys)
            self._keys.append(key)
        return self._offer([self._index[key]], fitness, descriptors)

    def elites(self) -> list[QDElite]:
        return [self._elite(row) for row in self._rows()]

    def best(self) -> QDElite | None:
        return max(self.elites(), key=lambda elite: elite.fitness, default=None)

    def sample(self, rng: random.Random, n: int) -> list[str]:
        """n elite keys, uniformly; without replacement while elites last, then another
        shuffled pass, so no elite is drawn twice before every elite is drawn once."""
        keys = [elite.key for elite in self.elites()]
        picked: list[str] = []
        while keys and len(picked) < n:
            picked += rng.sample(keys, min(len(keys), n - len(picked)))
        return picked

    def nearest(self, key: str, k: int) -> list[str]:
        """The k other elites closest to elite `key`, by Euclidean distance in the unit
        square (descriptors normalised by their ranges), ties by niche; crossover pairs a
        network with its 2 or 3 nearest neighbours (section 4.1).  [] if `key` is not an
        elite (any more)."""
        rows = self._rows()
        anchor = next((row for row in rows if self._key(row) == key), None)
        if anchor is None:
            return []
        others = [row for row in rows if row.niche != anchor.niche]
        others.sort(key=lambda row: (float(np.hypot(*np.subtract(row.measures, anchor.measures))), row.niche))
        return [self._key(row) for row in others[:k]]

    def _key(self, row: _Row) -> str:
        return self._keys[int(row.solution[0])]

    def _elite(self, row: _Row) -> QDElite:
        return QDElite(key=self._key(row), fitness=row.fitness, descriptors=row.descriptors, niche=row.niche)


class PromptArchive(_UnitSquareCVT):
    """Prompt individuals over (prompt id, temperature); 100 niches by default.

    Identity: an individual is a niche.  `record` credits the niche that
    (prompt_id, temperature) falls in, whichever exact temperature it carries.  The
    niche's elite (pyribs solution [prompt_id, temperature]) is its representative, the
    pair `most_curious` and `random_individual` hand out: the first pair recorded there,
    then the latest pair whose offspring raised the niche's collective fitness (the
    objective only ever grows by +1, and pyribs replaces an elite only on a strict gain).
    Curiosity sits beside pyribs in a dict keyed by niche: it changes on records that do
    not replace the elite, and pyribs writes extra fields only when it inserts.
    """

    def __init__(self, n_prompts: int, cells_per_dim: int = 10, seed: int = 0):
        super().__init__([(0.0, float(n_prompts)), (0.0, 1.0)], cells_per_dim, seed, solution_dim=2)
        self.n_prompts = n_prompts
        self._curiosity: dict[int, float] = {}

    def niche_of(self, prompt_id: int, temperature: float) -> int:
        """The niche, i.e. the individual, that (prompt_id, temperature) belongs to."""
        return self._niche_of(self._descriptors(prompt_id, temperature))

    def record(self, prompt_id: int, temperature: float, outcome: Outcome, beat_previous_best: bool) -> None:
        """Credit the individual of (prompt_id, temperature) with one offspring's result:
        curiosity by `outcome`, collective fitness +1 if it beat the previous generation's
        best (section 4.1).  A temperature outside [0, 1] is clipped."""
        descriptors = self._descriptors(prompt_id, temperature)
        niche = self._niche_of(descriptors)
        self._curiosity[niche] = self._curiosity.get(niche, 0.0) + CURIOSITY[outcome]
        fitness = self._fitness_at(descriptors) + (1.0 if beat_previous_best else 0.0)
        self._offer([prompt_id, float(np.clip(temperature, 0.0, 1.0))], fitness, descriptors)

    def individuals(self) -> list[PromptIndividual]:
        return [PromptIndividual(prompt_id=int(row.solution[0]), temperature=row.solution[1], niche=row.niche,
                                 curiosity=self._curiosity[row.niche], fitness=row.fitness)
                for row in self._rows()]

    def most_curious(self, rng: random.Random) -> tuple[int, float] | None:
        """The individual with the highest curiosity, ties broken by `rng`; None while empty."""
        individuals = self.individuals()
        if not individuals:
            return None
        top = max(individual.curiosity for individual in individuals)
        return _pair(rng.choice([individual for individual in individuals if individual.curiosity == top]))

    def random_individual(self, rng: random.Random) -> tuple[int, float] | None:
        """A uniformly random individual (the paper's exploration pick); None while empty."""
        individuals = self.individuals()
        return _pair(rng.choice(individuals)) if individuals else None

    def stats(self) -> dict[str, int | float | None]:
        """The archive stats (fitness = collective prompt fitness) and the top curiosity."""
        return {**super().stats(), "max_curiosity": max(self._curiosity.values(), default=None)}

    def _descriptors(self, prompt_id: int, temperature: float) -> tuple[float, float]:
        if not 0 <= prompt_id < self.n_prompts:
            raise ValueError(f"prompt id {prompt_id} is not in 0..{self.n_prompts - 1}")
        # Prompt p owns the interval [p, p + 1) of the (0, n_prompts) axis; its centre
        # keeps the first and the last prompt equally far from the border.
        return prompt_id + 0.5, temperature

    def _fitness_at(self, descriptors: tuple[float, float]) -> float:
        """The collective fitness of the niche of `descriptors` so far (0 if empty)."""
        occupied, elite = self.archive.retrieve_single(self._unit(self._clip(descriptors)))
        return float(elite["objective"]) if occupied else 0.0


def _pair(individual: PromptIndividual) -> tuple[int, float]:
    return individual.prompt_id, individual.temperature
