"""An elite archive: the best architecture found per niche.

For now a niche is an isomorphism class (the space's canonical form), so the
archive doubles as the record of what was tried.  The LLMatic issue replaces
the niche map with pyribs' CVT-MAP-Elites; the insert statuses mirror pyribs'
`AddStatus` so callers need not change.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel


class AddStatus(IntEnum):
    NOT_ADDED = 0
    IMPROVE_EXISTING = 1
    NEW = 2


class Elite(BaseModel):
    arch: str
    fitness: float
    step: int


class Archive(BaseModel):
    elites: dict[str, Elite] = {}

    def insert(self, niche: str, arch: str, fitness: float, step: int) -> AddStatus:
        """Keep `arch` if its niche is empty or it beats the elite there."""
        current = self.elites.get(niche)
        if current is not None and fitness <= current.fitness:
            return AddStatus.NOT_ADDED
        self.elites[niche] = Elite(arch=arch, fitness=fitness, step=step)
        return AddStatus.NEW if current is None else AddStatus.IMPROVE_EXISTING

    def best(self) -> Elite | None:
        return max(self.elites.values(), key=lambda e: e.fitness, default=None)
