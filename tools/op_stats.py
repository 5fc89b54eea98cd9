"""Statistics of operations per position over scored architectures: the evidence principles
are drawn from, and the prior the source task gives (LAPT, seed 003, section 3, without an LLM).

- `top_of(space, dataset, n)`: a task's n best architectures by validation score, from the table.
- `frequencies(space, archs)`: per position, how often each operation appears (add-one smoothed).
- `log_prior(table, space, arch)`: how typical `arch` is of those architectures (sum of log
  frequencies): the `prior` evidence the Critic can rank by.
- `op_table(space, scored, k)`: for the top k of the scored architectures against the rest, per
  position and operation: count and frequency in the top, in the rest, enrichment (top frequency
  over rest frequency), and the mean score of the architectures with and without the operation.
  The Principle-Learner is shown this table and its principles are checked against it.

`stats` is the LangChain tool over `op_table` for agents that call tools.
"""

from __future__ import annotations

import math
from functools import cache

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from spaces.base import Positional, Space


@cache
def _top(space_name: str, dataset: str, n: int) -> tuple[tuple[str, float], ...]:
    import spaces

    space = spaces.get(space_name)
    scored = ((arch, space.evaluate(arch, dataset).val_acc) for arch in space.all_archs())
    return tuple(sorted((s for s in scored if s[1] is not None), key=lambda item: -item[1])[:n])


def top_of(space: Space, dataset: str, n: int) -> list[tuple[str, float]]:
    """The n best architectures of a task by its validation metric, from the benchmark table."""
    return list(_top(space.name, space.resolve_dataset(dataset), n))


def frequencies(space: Positional, archs: list[str]) -> dict[str, dict[str, float]]:
    """Per position, how often each operation appears in `archs`, add-one smoothed so that every
    operation keeps a little probability (a sampler can still explore, a log stays finite)."""
    counts = {p: {op: 1.0 for op in ops} for p, ops in space.positions().items()}
    for arch in archs:
        for position, op in zip(counts, space.ops(arch)):
            counts[position][op] += 1
    return {p: {op: c / sum(ops.values()) for op, c in ops.items()} for p, ops in counts.items()}


def log_prior(table: dict[str, dict[str, float]], space: Positional, arch: str) -> float:
    return sum(math.log(table[p][op]) for p, op in zip(table, space.ops(arch)))


class OpStat(BaseModel):
    """One operation at one position, in the top k against the rest."""

    position: str
    op: str
    top_count: int
    top_freq: float
    rest_count: int
    rest_freq: float
    enrichment: float | None       # top_freq / rest_freq (None when the rest never has it)
    mean_with: float | None        # mean score of the architectures that have it here
    mean_without: float | None
    n_with: int
    n_without: int

    def line(self) -> str:
        enrich = "-" if self.enrichment is None else f"{self.enrichment:.2f}x"
        mw = "-" if self.mean_with is None else f"{self.mean_with:.2f}"
        mo = "-" if self.mean_without is None else f"{self.mean_without:.2f}"
        return (f"{self.position} {self.op}: top {self.top_count} ({100 * self.top_freq:.0f}%), rest {self.rest_count} "
                f"({100 * self.rest_freq:.0f}%), enrichment {enrich}, mean with {mw} (n={self.n_with}) vs "
                f"without {mo} (n={self.n_without})")


def op_table(space: Positional, scored: list[tuple[str, float]], k: int) -> list[OpStat]:
    """Per position and operation: the top k of `scored` (best first after sorting) against the rest."""
    ranked = sorted(scored, key=lambda item: -item[1])
    top, rest = ranked[:k], ranked[k:]
    ops_of = {arch: space.ops(arch) for arch, _ in ranked}
    out = []
    for index, (position, choices) in enumerate(space.positions().items()):
        for op in choices:
            in_top = sum(ops_of[a][index] == op for a, _ in top)
            in_rest = sum(ops_of[a][index] == op for a, _ in rest)
            with_ = [s for a, s in ranked if ops_of[a][index] == op]
            without = [s for a, s in ranked if ops_of[a][index] != op]
            top_freq = in_top / len(top) if top else 0.0
            rest_freq = in_rest / len(rest) if rest else 0.0
            out.append(OpStat(position=position, op=op, top_count=in_top, top_freq=round(top_freq, 4),
                              rest_count=in_rest, rest_freq=round(rest_freq, 4),
                              enrichment=round(top_freq / rest_freq, 3) if rest_freq else None,
                              mean_with=round(sum(with_) / len(with_), 3) if with_ else None,
                              mean_without=round(sum(without) / len(without), 3) if without else None,
                              n_with=len(with_), n_without=len(without)))
    return out


class StatsArgs(BaseModel):
    dataset: str = Field(description="the task whose table is summarised")
    k: int = Field(50, description="the top k compared with the rest of the table")


def make_tool(space: Space) -> StructuredTool:
    """`stats` over a task's whole table (its top k against all the other architectures)."""
    def stats(dataset: str, k: int = 50) -> list[str]:
        return [row.line() for row in op_table(space, top_of(space, dataset, space.size), k)]

    return StructuredTool.from_function(
        stats, name="stats", args_schema=StatsArgs,
        description="Per position and operation: frequency in the top k against the rest, enrichment, "
                    "and the mean score with and without it, with counts.")
