"""What a search space answers (the NASLib verbs), split by capability, and the evaluation record.

Every space (`Space`) knows its encoding, how to sample and mutate, a canonical form that
merges isomorphic architectures, how to evaluate one and what it costs.  Beyond that a
space declares what else it can do by having the verbs of a capability:

- `Tabular`: a benchmark table: it can enumerate every architecture and rank one among them.
- `Positional`: an architecture is one choice per named position (NB201's edges, a macro
  network's layers): what LAPT refines and what the statistics count.
- `Coded`: an architecture can be shown as PyTorch code and read back (LLMatic), with the
  archive's descriptors and the edit prompts of the LLM mutation.
- `Trained`: evaluation trains a network; the space is bound to a run (`configure`) and
  can start a training without waiting for it (`submit`).
- `WeightShared`: evaluation inherits weights from a supernet trained on the task (DARTS):
  refined spaces are sampled rather than enumerated, and a supernet can cover one.

A graph lists the capabilities it needs (`REQUIRES`); `graphs.run.prepare` refuses a
space that lacks one before the run folder is made.  A space never imports an agent, a
tool or a graph: they depend on spaces, not the other way round.
"""

from __future__ import annotations

import functools
import random
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from errors import UserError

DATA = Path(__file__).resolve().parent.parent / "data"


def table_rows(filename: str) -> list[dict[str, str]]:
    """The rows of a gzip CSV table in data/; a missing, unreadable or damaged file is one
    UserError line (with how to check the tables), never a traceback mid-search."""
    import csv
    import gzip
    import zlib

    path = DATA / filename
    try:
        with gzip.open(path, "rt", newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, EOFError, zlib.error, csv.Error, UnicodeDecodeError) as err:
        raise UserError(f"cannot read the benchmark table {path} ({type(err).__name__}: {err}); reinstall the "
                        "project or check the tables with: python data/verify.py") from None


def rank_in(ascending: list[float], value: float) -> int:
    """1 + how many scores in the table (sorted ascending) are higher than `value`."""
    import bisect

    return 1 + len(ascending) - bisect.bisect_right(ascending, value)


# How an evaluation can fail.  The trained spaces (spaces/torch_code.py, training/sandbox.py) add:
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
    descriptors: tuple[float, float] | None = None  # LLMatic's archive descriptors when evaluation measures them
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
    notes: dict[str, float | int | str] = {}  # what else the space measured (DARTS: the trained network, the estimate)


class LAPTDefaults(BaseModel):
    """LAPT (seed 003) Table 1 for a space, and the source task of section 4.2."""

    top_r: int
    iterations: int
    population: int
    generations: int
    tournament: int
    # The dataset/task the principles are learned on; None for a space with one task, where
    # LAPT can only learn from the target's own search (the no-transfer setting, section 5).
    source: str | None
    learn_samples: int = 50      # architectures the principles are learned from (DARTS: 100)
    crossover: float = 0.0       # REA crossover probability (DARTS: 0.5)
    mutation: float = 1.0        # REA mutation probability (DARTS: 0.5)
    source_samples: int | None = None  # a space without a table: random architectures scored on the source


class Space:
    """The verbs every space answers.  Subclasses set the class attributes and implement the
    methods that raise NotImplementedError; the defaults below suit a benchmark table."""

    name: ClassVar[str]
    datasets: ClassVar[tuple[str, ...]]
    aliases: ClassVar[dict[str, str]] = {}  # other spellings of a dataset name, mapped openly
    proposal_schema: ClassVar[type[BaseModel]]
    evaluator_name: ClassVar[str]  # the tool an evaluation is journaled under (e.g. query_nb201)
    metric: ClassVar[str] = "validation accuracy (%)"
    # Regularised evolution as the space's paper baseline runs it (population, tournament).
    rea: ClassVar[tuple[int, int]] = (10, 3)
    lapt: ClassVar[LAPTDefaults | None] = None
    # GBNF of an LLMatic code answer's form, for models that take a grammar; None: one fenced
    # python block (agents/mutator.py CODE_BLOCK_GBNF).
    code_grammar: ClassVar[str | None] = None
    # What `cost` measures at (its input, classes): said beside every FLOPs figure (cli.py arch).
    cost_reference: ClassVar[str] = "the benchmark table's FLOPs and parameters for the dataset"
    # Evidence (cost, training-free proxies) costs no training and no sandbox: the Critic may rank whole
    # pools by it and the graph's contained search may add its candidates (graphs/nodes.py contained).
    cheap_evidence: ClassVar[bool] = True
    # Architectures a learner prompt shows at most (LAPT: 50); fewer where one is long (DARTS: 32
    # positions), so that the prompt fits a small model's context.
    examples_shown: ClassVar[int] = 50

    def resolve_dataset(self, dataset: str) -> str:
        """The canonical dataset name; an unknown one is a UserError that lists the accepted names."""
        if dataset in self.datasets:
            return dataset
        mapped = self.aliases.get(dataset) or self.aliases.get(dataset.lower())
        if mapped is not None:
            return mapped
        raise UserError(f"unknown dataset {dataset!r} for {self.name}; choose one of {', '.join(self.datasets)}")

    def default_dataset(self, settings: Any) -> str:
        return self.datasets[0]

    def configure(self, settings: Any, run_path: Any) -> None:
        """Bind the space to a run (trained spaces: data, sandbox folder); tables need nothing."""

    def describe(self, dataset: str) -> str:
        raise NotImplementedError

    def validate(self, arch: str) -> str:
        raise NotImplementedError

    def from_proposal(self, proposal: BaseModel | dict) -> str:
        raise NotImplementedError

    def to_proposal(self, arch: str) -> dict:
        raise NotImplementedError

    def canonical(self, arch: str) -> str:
        return self.validate(arch)

    def sample_random(self, rng: random.Random) -> str:
        raise NotImplementedError

    def mutate(self, arch: str, rng: random.Random) -> str:
        raise NotImplementedError

    def neighbours(self, arch: str) -> list[str]:
        raise NotImplementedError

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        raise NotImplementedError

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, M params) without touching accuracy: the Critic's evidence and constraints."""
        raise NotImplementedError

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        raise NotImplementedError

    def trivial(self, arch: str) -> str | None:
        """Why `arch` is certain to score at chance (e.g. its output is always zero), or None.
        Only certainties belong here: the Critic rejects what this names without evaluating it."""
        return None


SearchSpace = Space  # the name the agents use for "any space"


@runtime_checkable
class Tabular(Protocol):
    """A benchmark table: every architecture is known, so it can be enumerated and ranked."""

    size: int

    def all_archs(self) -> list[str]: ...
    def contains(self, arch: str) -> bool: ...


@runtime_checkable
class Positional(Protocol):
    """An architecture is one operation per named position."""

    def positions(self) -> dict[str, tuple[str, ...]]: ...
    def ops(self, arch: str) -> tuple[str, ...]: ...
    def from_ops(self, ops: tuple[str, ...] | list[str]) -> str: ...


@runtime_checkable
class Coded(Protocol):
    """An architecture as PyTorch code (LLMatic), its archive descriptors and edit prompts."""

    edits: tuple[str, ...]
    descriptor_names: tuple[str, str]

    def to_code(self, arch: str) -> str: ...
    def from_code(self, text: str) -> str: ...
    def code_rules(self) -> str: ...  # what the code may contain, quoted in every LLMatic prompt
    def encode(self, arch: str) -> list[float]: ...
    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]: ...
    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]: ...


@runtime_checkable
class Trained(Protocol):
    """Evaluation trains a network; `submit` starts one without waiting (a Future of the report)."""

    def submit(self, arch: str, dataset: str) -> Future: ...
    def measure(self, arch: str, dataset: str) -> dict: ...


@runtime_checkable
class Networked(Protocol):
    """The real PyTorch network of an architecture can be built (training-free proxies).  Returns
    a zero-argument factory of the nn.Module (torch is imported only when it is called), the
    input shape of one example, and the number of classes."""

    def network(self, arch: str, dataset: str) -> tuple[Callable[[], Any], tuple[int, ...], int]: ...


@runtime_checkable
class WeightShared(Protocol):
    """Evaluation is an estimate with weights inherited from a supernet trained on the task
    (DARTS), not a table look-up.  There is no list of every architecture, so a refined space
    (`allowed`: choices per position) is sampled, not enumerated; a supernet can be trained
    over a refined space (`use_supernet`); and what a source task knows is a random sample of
    its architectures scored through its own supernet (`scored_sample`, LAPT section 4.1)."""

    size: int

    def sample_in(self, allowed: dict[str, list[str]], rng: random.Random) -> str: ...
    def contains_in(self, allowed: dict[str, list[str]], arch: str) -> bool: ...
    def neighbours_in(self, arch: str, allowed: dict[str, list[str]]) -> list[str]: ...
    def crossover(self, first: str, second: str, rng: random.Random) -> str: ...
    def use_supernet(self, allowed: dict[str, list[str]] | None, mix: float) -> None: ...
    def scored_sample(self, dataset: str, n: int) -> list[tuple[str, float]]: ...


@functools.cache
def _has(cls: type, capability: type) -> bool:
    return all(hasattr(cls, name) for name in capability.__protocol_attrs__) \
        if hasattr(capability, "__protocol_attrs__") else isinstance(cls(), capability)


def has(space: Space, capability: type) -> bool:
    """isinstance(space, capability), cached per class: a runtime-checkable Protocol check walks
    the protocol's attributes every time, and the Critic asks thousands of times per search."""
    return _has(type(space), capability)


CAPABILITIES: dict[type, str] = {Tabular: "a benchmark table (all_archs, size)",
                                 Positional: "one operation per position (positions, ops, from_ops)",
                                 Coded: "code representation (to_code, from_code, descriptors, edits)",
                                 Trained: "trained evaluation (submit, measure)",
                                 Networked: "a buildable PyTorch network (network)",
                                 WeightShared: "a weight-sharing supernet (sample_in, use_supernet, scored_sample)"}


def lacking(space: Space, required: tuple[type, ...]) -> list[str]:
    """The required capabilities `space` does not have, described for an error message."""
    return [CAPABILITIES[cap] for cap in required if not isinstance(space, cap)]


# Where an evaluated architecture came from.  llm: the designer's whole proposal; edit: the
# designer's edit of an evaluated parent; fallback: a seeded search step instead of an
# answer; baseline: a candidate of the search the graph contains (REA child, random sample)
# that won the Critic's ranking; random / rea: the no-LLM graphs and LAPT's REA; human: the user.
Source = Literal["llm", "edit", "fallback", "baseline", "random", "human", "rea", "prior", "flops", "local"]


class Trial(BaseModel):
    """One proposal's life: who made it, why, what the Critic said, what it scored."""

    step: int
    arch: str
    source: Source
    rationale: str = ""
    accepted: bool = True
    verdict: str = ""
    evidence: dict[str, float] = {}  # what the Critic ranked it by (tools/evidence.py)
    evaluation: Evaluation | None = None

    @property
    def val_acc(self) -> float | None:
        return self.evaluation.val_acc if self.evaluation else None
