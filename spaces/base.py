"""What every search space answers (the NASLib verbs), and the evaluation record.

A space knows its encoding, how to sample and mutate, a canonical form that
merges isomorphic architectures, and how to evaluate one.  It never imports
an agent: agents and graphs depend on spaces, not the other way round.
"""

from __future__ import annotations

import random
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel

# How an evaluation can fail.  The trained spaces (spaces/torch_code.py, tools/sandbox.py) add:
# syntax (does not parse), import_refused (outside the import allow-list or a forbidden name),
# shape_error (wrong output shape or forward fails), refused (the sandbox's runtime guard
# stopped it), crashed (the child died without a result).
FailureKind = Literal["malformed", "out_of_space", "build_error", "timeout", "oom", "nan_loss",
                      "syntax", "import_refused", "shape_error", "refused", "crashed"]


class Evaluation(BaseModel):
    """One evaluated architecture as the search sees it: validation metrics only."""

    arch: str
    canonical: str
    val_acc: float | None = None
    flops_m: float | None = None
    params_m: float | None = None
    latency_ms: float | None = None
    failure: FailureKind | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


class FinalReport(BaseModel):
    """Looked up once at the end of a search: held-out test metrics and the rank."""

    arch: str
    val_acc: float
    test_acc: float | None
    rank: int | None
    of: int | None
    flops_m: float | None
    params_m: float | None


class SearchSpace(Protocol):
    """The verbs the graphs use; `spaces.get(name)` returns one of these."""

    name: ClassVar[str]
    datasets: ClassVar[tuple[str, ...]]
    proposal_schema: ClassVar[type[BaseModel]]

    def resolve_dataset(self, dataset: str) -> str: ...
    def describe(self, dataset: str) -> str: ...
    def validate(self, arch: str) -> str: ...
    def from_proposal(self, proposal: BaseModel) -> str: ...
    def to_proposal(self, arch: str) -> dict: ...
    def canonical(self, arch: str) -> str: ...
    def sample_random(self, rng: random.Random) -> str: ...
    def mutate(self, arch: str, rng: random.Random) -> str: ...
    def neighbours(self, arch: str) -> list[str]: ...
    def evaluate(self, arch: str, dataset: str) -> Evaluation: ...
    def final_report(self, arch: str, dataset: str) -> FinalReport: ...


# human: edited by the user (search --approve); rea: a mutation by regularised evolution (LAPT)
Source = Literal["llm", "fallback", "random", "human", "rea"]


class Trial(BaseModel):
    """One proposal's life: who made it, why, what the Critic said, what it scored."""

    step: int
    arch: str
    source: Source
    rationale: str = ""
    accepted: bool = True
    verdict: str = ""
    evaluation: Evaluation | None = None

    @property
    def val_acc(self) -> float | None:
        return self.evaluation.val_acc if self.evaluation else None
