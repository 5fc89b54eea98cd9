"""Plain populations that stand in for one of LLMatic's archives in its ablations
(seed 001, section 4.2), with the same verbs as memory/qd.py:

- `PromptPopulation` (Network-Archive-LLMatic): 100 random prompt individuals with a
  single score (+1 added, -0.5 not added, -1 untrainable); an individual's temperature
  moves +0.1 when its offspring was added and -0.1 when not.
- `NetworkPopulation` (Prompt-Archive-LLMatic): the 100 fittest networks; crossover
  partners are the networks most similar by cosine similarity of their encodings.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Callable

from memory.archive import AddStatus
from memory.qd import CURIOSITY

SIZE = 100


class PromptPopulation:
    def __init__(self, n_prompts: int, seed: int = 0, size: int = SIZE):
        rng = random.Random(f"{seed}:prompt-population")
        self.individuals = [[rng.randrange(n_prompts), rng.random(), 0.0] for _ in range(size)]

    def most_curious(self, rng: random.Random) -> tuple[int, float]:
        top = max(score for _, _, score in self.individuals)
        prompt_id, temperature, _ = rng.choice([i for i in self.individuals if i[2] == top])
        return prompt_id, temperature

    def random_individual(self, rng: random.Random) -> tuple[int, float]:
        prompt_id, temperature, _ = rng.choice(self.individuals)
        return prompt_id, temperature

    def record(self, prompt_id: int, temperature: float, outcome: str, beat_previous_best: bool,
               origin: tuple[int, float] | None = None) -> None:
        """Credit the individual the offspring came from (`origin`, as selected)."""
        if origin is None:
            return
        for individual in self.individuals:
            if (individual[0], individual[1]) == origin:
                individual[2] += CURIOSITY[outcome]
                individual[1] = min(max(individual[1] + (0.1 if outcome == "added" else -0.1), 0.0), 1.0)
                return

    def stats(self) -> dict:
        return {"individuals": len(self.individuals), "best_score": max(i[2] for i in self.individuals)}

    def heatmap(self, path: Path, labels: tuple[str, str], title: str) -> None:
        _scatter(path, [(i[0], i[1], i[2]) for i in self.individuals], labels, title)


class NetworkPopulation:
    def __init__(self, encode: Callable[[str], list[float]], size: int = SIZE):
        self.encode = encode
        self.size = size
        self.members: dict[str, tuple[float, tuple[float, float]]] = {}

    def add(self, key: str, fitness: float, descriptors: tuple[float, float]) -> AddStatus:
        if key in self.members:
            return AddStatus.NOT_ADDED
        if len(self.members) >= self.size:
            worst = min(self.members, key=lambda k: self.members[k][0])
            if fitness <= self.members[worst][0]:
                return AddStatus.NOT_ADDED
            del self.members[worst]
        self.members[key] = (fitness, descriptors)
        return AddStatus.NEW

    def sample(self, rng: random.Random, n: int) -> list[str]:
        keys = sorted(self.members)
        return rng.sample(keys, n) if n <= len(keys) else [rng.choice(keys) for _ in range(n)]

    def nearest(self, key: str, k: int) -> list[str]:
        """The k most similar other members by cosine similarity (section 4.2)."""
        target = self.encode(key)
        others = [other for other in sorted(self.members) if other != key]
        return sorted(others, key=lambda other: -_cosine(target, self.encode(other)))[:k]

    def best_fitness(self) -> float | None:
        return max((f for f, _ in self.members.values()), default=None)

    def stats(self) -> dict:
        fitness = [f for f, _ in self.members.values()]
        return {"filled": len(fitness), "coverage": len(fitness) / self.size, "qd_score": sum(fitness),
                "best_fitness": max(fitness, default=None)}

    def heatmap(self, path: Path, labels: tuple[str, str], title: str) -> None:
        _scatter(path, [(d[0], d[1], f) for f, d in self.members.values()], labels, title)


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b)) / norm if norm else 0.0


def _scatter(path: Path, points: list[tuple[float, float, float]], labels: tuple[str, str], title: str) -> None:
    """A population has no niches to draw: plot its members, coloured by fitness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    if points:
        xs, ys, cs = zip(*points)
        mappable = ax.scatter(xs, ys, c=cs, cmap="viridis")
        fig.colorbar(mappable, ax=ax)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
