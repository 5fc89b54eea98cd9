"""LLMatic's two CVT-MAP-Elites archives on pyribs (seed 001, sections 3 and 4.1).

- `NetworkArchive`: fitness = validation accuracy; two descriptors (for NB201: FLOPs
  and convolutional depth, see spaces/nb201.py).  Keys (arch strings, code hashes)
  live in a list; pyribs stores the key's index as a one-number solution and does the
  niche logic: an elite is replaced only by a strictly better one in its niche.
- `PromptArchive`: descriptors (prompt id, temperature); an individual is the elite of
  a niche, and its objective is the collective prompt fitness (+1 each time one of its
  offspring beat the previous generation's best).  Beside it, a curiosity score per
  niche (+1.0 offspring entered the network archive, -0.5 it did not, -1.0 it could
  not be built) chooses which individual mutates next.

Both are rebuilt by replaying the same calls in the same order with the same seed
(the search replays its journal on resume rather than pickling pyribs objects).
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from memory.archive import AddStatus

__all__ = ["CURIOSITY", "NetworkArchive", "PromptArchive", "QDElite"]

CURIOSITY = {"added": 1.0, "not_added": -0.5, "untrainable": -1.0}
# k-means over 10,000 uniform samples places 100 centroids within a few percent of a
# full 100,000-sample CVT, in a fraction of the time (archives are rebuilt on resume).
CVT_SAMPLES = 10_000


class QDElite(BaseModel):
    key: str
    fitness: float
    descriptors: tuple[float, float]
    niche: int


@cache
def _centroids(cells: int, ranges: tuple[tuple[float, float], ...], seed: int) -> np.ndarray:
    from ribs.archives import k_means_centroids

    centroids, _ = k_means_centroids(centroids=cells, ranges=ranges, samples=CVT_SAMPLES, seed=seed)
    return centroids


class _CVT:
    """A pyribs CVTArchive whose solutions are indices into a list of string keys."""

    def __init__(self, ranges: list[tuple[float, float]], cells_per_dim: int = 10, seed: int = 0):
        from ribs.archives import CVTArchive

        self.ranges = tuple((float(lo), float(hi)) for lo, hi in ranges)
        cells = cells_per_dim ** len(self.ranges)
        self.archive = CVTArchive(solution_dim=1, centroids=_centroids(cells, self.ranges, seed), ranges=self.ranges,
                                  seed=seed)
        self.keys: list[str] = []

    def _clip(self, descriptors) -> np.ndarray:
        low, high = np.array(self.ranges).T
        return np.clip(np.asarray(descriptors, dtype=float), low, high)

    def _insert(self, key: str, fitness: float, descriptors) -> AddStatus:
        self.keys.append(key)
        info = self.archive.add_single([len(self.keys) - 1], fitness, self._clip(descriptors))
        return AddStatus(int(info["status"]))

    def elites(self) -> list[QDElite]:
        data = self.archive.data()
        return [QDElite(key=self.keys[int(s[0])], fitness=float(f), descriptors=(float(m[0]), float(m[1])), niche=int(i))
                for s, f, m, i in zip(data["solution"], data["objective"], data["measures"], data["index"])]

    def best(self) -> QDElite | None:
        return max(self.elites(), key=lambda e: e.fitness, default=None)

    def stats(self) -> dict:
        """filled, coverage (0-1), qd_score (sum of elite fitness: offset 0, since
        accuracies and prompt fitness are already on a meaningful scale) and best."""
        fitness = [e.fitness for e in self.elites()]
        return {"filled": len(fitness), "coverage": round(len(fitness) / self.archive.cells, 4),
                "qd_score": round(float(sum(fitness)), 4), "best_fitness": max(fitness, default=None)}

    def heatmap(self, path: Path, labels: tuple[str, str], title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from ribs.visualize import cvt_archive_heatmap

        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        cvt_archive_heatmap(self.archive, ax=ax, cmap="viridis")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


class NetworkArchive(_CVT):
    def add(self, key: str, fitness: float, descriptors: tuple[float, float]) -> AddStatus:
        return self._insert(key, fitness, descriptors)

    def sample(self, rng: random.Random, n: int) -> list[str]:
        """n elites, uniformly, without replacement while there are enough."""
        keys = sorted(e.key for e in self.elites())
        if not keys:
            return []
        return rng.sample(keys, n) if n <= len(keys) else [rng.choice(keys) for _ in range(n)]

    def nearest(self, key: str, k: int) -> list[str]:
        """The k other elites nearest to `key` in descriptor space (normalised by the ranges)."""
        elites = self.elites()
        anchor = next((e for e in elites if e.key == key), None)
        if anchor is None:
            return []
        span = np.array([hi - lo for lo, hi in self.ranges])
        span[span == 0] = 1.0
        point = np.array(anchor.descriptors) / span
        others = [e for e in elites if e.key != key]
        others.sort(key=lambda e: (float(np.linalg.norm(np.array(e.descriptors) / span - point)), e.key))
        return [e.key for e in others[:k]]


class PromptArchive(_CVT):
    def __init__(self, n_prompts: int, cells_per_dim: int = 10, seed: int = 0):
        super().__init__([(0.0, float(n_prompts)), (0.0, 1.0)], cells_per_dim, seed)
        self.fitness: dict[int, float] = {}    # niche -> collective prompt fitness
        self.curiosity: dict[int, float] = {}  # niche -> curiosity score

    def record(self, prompt_id: int, temperature: float, outcome: Literal["added", "not_added", "untrainable"],
               beat_previous_best: bool) -> None:
        """Credit the individual (prompt_id, temperature).  Scores accumulate per niche; the
        individual is offered to the archive with its niche's collective fitness, so it
        replaces the niche's elite only when that fitness grew (pyribs keeps the incumbent
        on ties): the niche is represented by the latest individual that raised it."""
        descriptors = self._clip((prompt_id + 0.5, temperature))  # the id's centre, not its edge
        niche = int(self.archive.index_of_single(descriptors))
        self.curiosity[niche] = self.curiosity.get(niche, 0.0) + CURIOSITY[outcome]
        self.fitness[niche] = self.fitness.get(niche, 0.0) + (1.0 if beat_previous_best else 0.0)
        self._insert(f"{prompt_id}:{temperature:.4f}", self.fitness[niche], descriptors)

    def most_curious(self, rng: random.Random) -> tuple[int, float] | None:
        if not self.curiosity:
            return None
        top = max(self.curiosity.values())
        niche = rng.choice(sorted(n for n, c in self.curiosity.items() if c == top))
        return self._individual(niche)

    def random_individual(self, rng: random.Random) -> tuple[int, float] | None:
        niches = sorted(self.curiosity)
        return self._individual(rng.choice(niches)) if niches else None

    def _individual(self, niche: int) -> tuple[int, float]:
        elite = next(e for e in self.elites() if e.niche == niche)
        prompt_id, temperature = elite.key.split(":")
        return int(prompt_id), float(temperature)

    def stats(self) -> dict:
        return {**super().stats(), "max_curiosity": max(self.curiosity.values(), default=None)}
