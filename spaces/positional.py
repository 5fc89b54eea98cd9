"""The verbs of a space whose architecture is one operation per named position.

NB201 and TransNAS-Bench-101 (six cell edges), NAS-Bench-Macro (eight layers) and
Channel-Bench-Macro (seven layer widths) differ only in their positions, their
operations and how an architecture is written (`_parse`, `_format`); sampling, mutation,
neighbours, the proposal schema and the one-hot encoding are the same, so they live here.
The proposal schema is built from the positions, so an invalid operation cannot be
written under schema-constrained decoding.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Callable, ClassVar, Literal, Sequence

from pydantic import BaseModel, create_model

from spaces.base import Space


@cache
def positions_schema(title: str, positions: tuple[tuple[str, tuple[str, ...]], ...]) -> type[BaseModel]:
    """A pydantic model with one Literal field per position."""
    fields = {name: (Literal[ops], ...) for name, ops in positions}  # type: ignore[valid-type]
    return create_model(title, **fields)


class PositionalSpace(Space):
    """Subclasses set POSITIONS and `_parse`/`_format` (arch string <-> ops in position order)."""

    POSITIONS: ClassVar[dict[str, tuple[str, ...]]]
    _parse: ClassVar[Callable[[str], tuple[str, ...]]]
    _format: ClassVar[Callable[[Sequence[str]], str]]

    def positions(self) -> dict[str, tuple[str, ...]]:
        return dict(self.POSITIONS)

    def ops(self, arch: str) -> tuple[str, ...]:
        return tuple(self._parse(arch))

    def from_ops(self, ops: Sequence[str]) -> str:
        return self._format(list(ops))

    def validate(self, arch: str) -> str:
        return self._format(self._parse(arch))

    def from_proposal(self, proposal: BaseModel | dict) -> str:
        schema = self.proposal_schema
        cell = proposal if isinstance(proposal, schema) else schema.model_validate(
            proposal.model_dump() if isinstance(proposal, BaseModel) else proposal)
        return self._format([getattr(cell, name) for name in self.POSITIONS])

    def to_proposal(self, arch: str) -> dict:
        return dict(zip(self.POSITIONS, self._parse(arch)))

    def sample_random(self, rng: random.Random) -> str:
        return self._format([rng.choice(ops) for ops in self.POSITIONS.values()])

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One position changed to another operation (the REA mutation)."""
        ops = list(self._parse(arch))
        k = rng.randrange(len(ops))
        ops[k] = rng.choice([op for op in list(self.POSITIONS.values())[k] if op != ops[k]])
        return self._format(ops)

    def neighbours(self, arch: str) -> list[str]:
        ops = tuple(self._parse(arch))
        return [self._format(ops[:k] + (op,) + ops[k + 1:])
                for k, choices in enumerate(self.POSITIONS.values()) for op in choices if op != ops[k]]

    def encode(self, arch: str) -> list[float]:
        """One-hot operation per position: for similarity between architectures."""
        return [float(op == choice) for op, choices in zip(self._parse(arch), self.POSITIONS.values())
                for choice in choices]
