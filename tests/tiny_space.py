"""A tiny synthetic benchmark space, defined here alone: proof that a space is one class plus a
registration, and a landscape small enough to know its optimum (27 architectures, two tasks)."""

from __future__ import annotations

import itertools
from typing import ClassVar

from pydantic import BaseModel

import spaces
from spaces.base import Evaluation, FinalReport, LAPTDefaults
from spaces.positional import PositionalSpace, positions_schema

OPS = ("small", "medium", "large")
POSITIONS = {"first": OPS, "second": OPS, "third": OPS}
VALUE = {"small": 1.0, "medium": 2.0, "large": 3.0}


def score(ops, dataset: str) -> float:
    """Bigger is better on both tasks, except that task `b` wants the second position small."""
    second = (4.0 - VALUE[ops[1]]) if dataset == "b" else VALUE[ops[1]]
    return 50.0 + 10 * VALUE[ops[0]] + 5 * second + VALUE[ops[2]]


@spaces.register
class TinySpace(PositionalSpace):
    name: ClassVar[str] = "tiny"
    datasets: ClassVar[tuple[str, ...]] = ("a", "b")
    POSITIONS: ClassVar[dict[str, tuple[str, ...]]] = POSITIONS
    proposal_schema: ClassVar[type[BaseModel]] = positions_schema("TinyArch", tuple(POSITIONS.items()))
    evaluator_name: ClassVar[str] = "query_tiny"
    rea: ClassVar[tuple[int, int]] = (3, 2)
    lapt: ClassVar[LAPTDefaults] = LAPTDefaults(top_r=3, iterations=2, population=3, generations=1, tournament=2,
                                                source="b")
    _parse = staticmethod(lambda arch: tuple(arch.split("-")) if arch.count("-") == 2 and
                          all(op in OPS for op in arch.split("-")) else _bad(arch))
    _format = staticmethod(lambda ops: "-".join(ops))
    size: ClassVar[int] = 27

    def describe(self, dataset: str) -> str:
        return f"Choose small, medium or large for three layers; task {dataset}."

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        arch = self.validate(arch)
        return Evaluation(arch=arch, canonical=arch, val_acc=score(self.ops(arch), dataset), flops_m=self.cost(arch, dataset)[0],
                          params_m=1.0)

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        return sum(VALUE[op] for op in self.ops(arch)), 1.0

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        value = score(self.ops(arch), dataset)
        rank = 1 + sum(score(self.ops(a), dataset) > value for a in self.all_archs())
        return FinalReport(arch=arch, val_acc=value, test_acc=value, rank=rank, of=27, flops_m=0, params_m=1)

    def all_archs(self) -> list[str]:
        return ["-".join(ops) for ops in itertools.product(OPS, repeat=3)]

    def contains(self, arch: str) -> bool:
        return arch in self.all_archs()


def _bad(arch: str):
    from errors import UserError

    raise UserError(f"not a tiny architecture: {arch!r}")
