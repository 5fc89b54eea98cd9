"""NAS-Bench-201: the 15,625-cell space with its verified lookup tables.

A cell is a DAG of 4 nodes; each of the 6 edges j->i (j < i) carries one of
five operations.  Architectures are handled as NB201 arch strings
(`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`); the tables in `data/` give
validation/test accuracy on cifar10, cifar100 and ImageNet16-120, FLOPs,
params and latency on 27 devices (see data/README.md for sources).

The search sees validation accuracy only; `final_report` looks up test
accuracy and the rank once, at the end (GENIUS section 4.3, NB201 practice).
"""

from __future__ import annotations

import csv
import gzip
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, ClassVar, Literal, Sequence, get_args

from pydantic import BaseModel, Field

from errors import UserError
from spaces.base import Evaluation, FinalReport

DATA = Path(__file__).resolve().parent.parent / "data"

Op = Literal["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
OPS: tuple[str, ...] = get_args(Op)
# Edge order of the arch string and of the table's op_code: (0->1), (0->2), (1->2), (0->3), (1->3), (2->3).
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
DATASETS = ("cifar10", "cifar100", "imagenet16")
DATASET_ALIASES = {"imagenet16-120": "imagenet16", "imagenet": "imagenet16", "ImageNet16-120": "imagenet16"}


class NB201Cell(BaseModel):
    """The six edges of a cell.  The enum makes an invalid operation impossible
    under schema-constrained decoding."""

    node1_from_0: Op
    node2_from_0: Op
    node2_from_1: Op
    node3_from_0: Op
    node3_from_1: Op
    node3_from_2: Op


FIELDS = tuple(NB201Cell.model_fields)


def parse(arch: str) -> tuple[str, ...]:
    """Arch string -> six ops in EDGES order; raises UserError when malformed."""
    ops: list[str] = []
    nodes = arch.strip().strip("|").split("|+|")
    if len(nodes) != 3:
        raise UserError(f"not an NB201 arch string (need 3 nodes separated by '|+|'): {arch!r}")
    for i, node in enumerate(nodes, start=1):
        tokens = node.split("|")
        if len(tokens) != i:
            raise UserError(f"node {i} of {arch!r} must have {i} inputs, got {len(tokens)}")
        for j, token in enumerate(tokens):
            op, _, src = token.partition("~")
            if op not in OPS or src != str(j):
                raise UserError(f"bad edge {token!r} in {arch!r}: want OP~{j} with OP one of {', '.join(OPS)}")
            ops.append(op)
    return tuple(ops)


def format_arch(ops: tuple[str, ...] | list[str]) -> str:
    """Six ops in EDGES order -> arch string."""
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def op_code(arch: str) -> str:
    return "".join(str(OPS.index(op)) for op in parse(arch))


def unique_key(ops: tuple[str, ...]) -> str:
    """Canonical form merging isomorphic cells, with exactly the semantics of
    NB201's de-duplication key (`to_unique_str(consider_zero=True)`): skip is
    the identity, `none` or a zero input gives the zero term '#', and the terms
    summed at a node are sorted.  This yields the 6,466 classes that the
    benchmark (and the table's `iso_class`) uses; we keep the field's
    convention rather than a tighter one so counts compare with the papers."""
    edge_op = dict(zip(EDGES, ops))
    # The exact token spelling matters: the key is a flattened string, so the
    # class count depends on how terms sort; "0" and "(e)@op" reproduce NB201's.
    expr = {0: "0"}
    for i in (1, 2, 3):
        terms = []
        for j in range(i):
            op = edge_op[(j, i)]
            if op == "none" or expr[j] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(expr[j])
            else:
                terms.append(f"({expr[j]})@{op}")
        expr[i] = "+".join(sorted(terms))
    return expr[3]


@dataclass(frozen=True, slots=True)
class _Row:
    index: int
    iso_class: int
    val: dict[str, float]
    test: dict[str, float]
    flops_m: dict[str, float]
    params_m: dict[str, float]


@cache
def _table() -> dict[str, _Row]:
    """The 15,625 rows keyed by arch string (loaded once; ~0.2 s)."""
    rows: dict[str, _Row] = {}
    with gzip.open(DATA / "nb201.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            rows[r["arch"]] = _Row(
                index=int(r["nb201_index"]),
                iso_class=int(r["iso_class"]),
                val={d: float(r[f"{d}_val_acc"]) for d in DATASETS},
                test={d: float(r[f"{d}_test_acc"]) for d in DATASETS},
                flops_m={d: float(r[f"{d}_flops_m"]) for d in DATASETS},
                params_m={d: float(r[f"{d}_params_m"]) for d in DATASETS},
            )
    return rows


@cache
def _by_index() -> dict[int, str]:
    return {row.index: arch for arch, row in _table().items()}


@cache
def _latency() -> dict[str, dict[str, float]]:
    with gzip.open(DATA / "nb201_latency_ms.csv.gz", "rt", newline="") as f:
        return {r.pop("arch"): {k: float(v) for k, v in r.items() if k != "nb201_index"} for r in csv.DictReader(f)}


@cache
def _sorted_test(dataset: str) -> list[float]:
    return sorted((row.test[dataset] for row in _table().values()), reverse=True)


def normalise_dataset(dataset: str) -> str:
    name = DATASET_ALIASES.get(dataset, dataset)
    if name not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r} for nb201; choose one of {', '.join(DATASETS)}")
    return name


class CellVerbs:
    """The verbs of a six-edge cell space that depend only on how a cell is written
    (`_parse`, `_format`): NB201 and TransNAS-Bench-101 (same edges, other operations and
    notation) share them, and NB201's isomorphism key as their canonical form."""

    proposal_schema: ClassVar[type[BaseModel]]
    _parse: ClassVar[Callable[[str], tuple[str, ...]]]
    _format: ClassVar[Callable[[Sequence[str]], str]]

    def validate(self, arch: str) -> str:
        return self._format(self._parse(arch))

    def from_proposal(self, proposal: BaseModel) -> str:
        schema = self.proposal_schema
        cell = proposal if isinstance(proposal, schema) else schema.model_validate(proposal)
        return self._format([getattr(cell, f) for f in schema.model_fields])

    def to_proposal(self, arch: str) -> dict:
        return dict(zip(self.proposal_schema.model_fields, self._parse(arch)))

    def canonical(self, arch: str) -> str:
        return unique_key(self._parse(arch))


class NB201Space(CellVerbs):
    """NAS-Bench-201 cell space backed by the verified tables."""

    name: ClassVar[str] = "nb201"
    datasets: ClassVar[tuple[str, ...]] = DATASETS
    proposal_schema: ClassVar[type[BaseModel]] = NB201Cell
    _parse, _format = staticmethod(parse), staticmethod(format_arch)
    size: ClassVar[int] = len(OPS) ** len(EDGES)

    def resolve_dataset(self, dataset: str) -> str:
        return normalise_dataset(dataset)

    def describe(self, dataset: str) -> str:
        dataset = normalise_dataset(dataset)
        return PROBLEM.format(dataset=dataset, ops=", ".join(OPS), n_classes=N_CLASSES[dataset])

    def sample_random(self, rng: random.Random) -> str:
        return format_arch([rng.choice(OPS) for _ in EDGES])

    def mutate(self, arch: str, rng: random.Random) -> str:
        """Change one edge to a different operation (the REA/NB201 mutation)."""
        ops = list(parse(arch))
        k = rng.randrange(len(ops))
        ops[k] = rng.choice([op for op in OPS if op != ops[k]])
        return format_arch(ops)

    def neighbours(self, arch: str) -> list[str]:
        ops = parse(arch)
        return [format_arch(ops[:k] + (op,) + ops[k + 1:]) for k in range(len(ops)) for op in OPS if op != ops[k]]

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        dataset = normalise_dataset(dataset)
        arch = self.validate(arch)
        row = _table()[arch]
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=row.val[dataset],
                          flops_m=row.flops_m[dataset], params_m=row.params_m[dataset])

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        """(FLOPs in M, params in M) without touching accuracy: the Critic's constraint check."""
        row = _table()[self.validate(arch)]
        dataset = normalise_dataset(dataset)
        return row.flops_m[dataset], row.params_m[dataset]

    def latency(self, arch: str, device: str) -> float:
        per_device = _latency()[self.validate(arch)]
        if device not in per_device:
            raise UserError(f"unknown latency device {device!r}; choose one of {', '.join(per_device)}")
        return per_device[device]

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        dataset = normalise_dataset(dataset)
        row = _table()[self.validate(arch)]
        test = row.test[dataset]
        rank = 1 + sum(1 for t in _sorted_test(dataset) if t > test)
        return FinalReport(arch=arch, val_acc=row.val[dataset], test_acc=test, rank=rank, of=self.size,
                           flops_m=row.flops_m[dataset], params_m=row.params_m[dataset])

    # --- LLMatic: code representation and archive descriptors (seed 001, section 5) ---

    def to_code(self, arch: str) -> str:
        from spaces.nb201_code import cell_to_code

        return cell_to_code(self.validate(arch))

    def from_code(self, text: str) -> str:
        """Raises UserError (CellCodeError) with a one-sentence reason when unreadable."""
        from spaces.nb201_code import code_to_cell

        return code_to_cell(text)

    def code_rules(self) -> dict[str, str]:
        from spaces.nb201_code import OPERATION_SNIPPETS

        return dict(OPERATION_SNIPPETS)

    def encode(self, arch: str) -> list[float]:
        """One-hot operations per edge (30 numbers): for similarity between cells."""
        return [float(op == choice) for op in parse(arch) for choice in OPS]

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, convolutions on the longest input-to-output path).  LLMatic's code-space
        descriptors are width-to-depth ratio and FLOPs; every NB201 network has the same
        skeleton, so FLOPs carries the width (how many and which convolutions) and the
        convolutional depth of the cell separates wide-shallow from narrow-deep cells of
        equal cost."""
        return self.cost(arch, dataset)[0], float(conv_depth(parse(arch)))

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        """FLOPs bounds from the table's min/max (LLMatic section 5.2); depth 0-3."""
        return [_flops_range(normalise_dataset(dataset)), (0.0, 3.0)]

    def iso_class(self, arch: str) -> int:
        return _table()[self.validate(arch)].iso_class

    def all_archs(self) -> list[str]:
        return list(_table())

    def arch_at(self, index: int) -> str:
        """The cell with this NB201 API index."""
        return _by_index()[index]


CONVS = ("nor_conv_1x1", "nor_conv_3x3")


def conv_depth(ops: tuple[str, ...]) -> int:
    """Most convolutions on any path from node 0 to node 3 through non-`none` edges (0 if cut)."""
    edge_op = dict(zip(EDGES, ops))
    depth: dict[int, int] = {0: 0}
    for i in (1, 2, 3):
        reachable = [depth[j] + (edge_op[(j, i)] in CONVS) for j in range(i)
                     if j in depth and edge_op[(j, i)] != "none"]
        if reachable:
            depth[i] = max(reachable)
    return depth.get(3, 0)


@cache
def _flops_range(dataset: str) -> tuple[float, float]:
    flops = [row.flops_m[dataset] for row in _table().values()]
    return min(flops), max(flops)


N_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}

# The problem encoding (GENIUS section 3: the NAS problem as human-readable text).
PROBLEM = """\
You are designing the repeated cell of a convolutional network (NAS-Bench-201 space) for {dataset} \
({n_classes} classes).
The cell is a small DAG with nodes 0, 1, 2, 3. Node 0 is the cell input, node 3 the cell output. \
Every node i sums the results of one operation applied to each earlier node j < i, so the cell has six \
edges: node1_from_0, node2_from_0, node2_from_1, node3_from_0, node3_from_1, node3_from_2.
Each edge takes exactly one operation from: {ops}.
'none' removes the edge, 'skip_connect' is the identity, 'nor_conv_1x1' and 'nor_conv_3x3' are \
ReLU-Conv-BatchNorm with a 1x1 or 3x3 kernel, 'avg_pool_3x3' is 3x3 average pooling.
The network stacks the cell 15 times in three stages of 16, 32 and 64 channels, with residual \
reduction blocks between stages, and is trained for 200 epochs.
Goal: the highest validation accuracy on {dataset}."""
