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

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from pydantic import BaseModel

from errors import UserError
from spaces import nb201_api, nb201_code
from spaces.base import DATA, Evaluation, FinalReport, LAPTDefaults, rank_in, table_rows
from spaces.cell import EDGE_NAMES, EDGES, OPS, conv_depth, format_arch, op_code, parse, unique_key, zero_output
from spaces.positional import PositionalSpace, positions_schema

__all__ = ["NB201Space", "OPS", "EDGES", "parse", "format_arch", "op_code", "DATA"]

DATASETS = ("cifar10", "cifar100", "imagenet16")
POSITIONS = {name: OPS for name in EDGE_NAMES}
NB201Cell = positions_schema("NB201Cell", tuple(POSITIONS.items()))


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
    for r in table_rows("nb201.csv.gz"):
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
    return {r.pop("arch"): {k: float(v) for k, v in r.items() if k != "nb201_index"}
            for r in table_rows("nb201_latency_ms.csv.gz")}


@cache
def _sorted_test(dataset: str) -> list[float]:
    """Test accuracies in ascending order, for ranks by bisection."""
    return sorted(row.test[dataset] for row in _table().values())


@cache
def _canonical(arch: str) -> str:
    """Cached: LAPT's samplers compare every member of a refined space (up to 15,625) with what
    was evaluated, on every draw (14 us a cell uncached)."""
    return unique_key(parse(arch))


class NB201Space(PositionalSpace):
    """NAS-Bench-201 cell space backed by the verified tables."""

    name: ClassVar[str] = "nb201"
    datasets: ClassVar[tuple[str, ...]] = DATASETS
    # Spellings users write for ImageNet16-120; the run's settings show the canonical name.
    aliases: ClassVar[dict[str, str]] = {"imagenet16-120": "imagenet16", "ImageNet16-120": "imagenet16"}
    POSITIONS: ClassVar[dict[str, tuple[str, ...]]] = POSITIONS
    proposal_schema: ClassVar[type[BaseModel]] = NB201Cell
    evaluator_name: ClassVar[str] = "query_nb201"
    _parse, _format = staticmethod(parse), staticmethod(format_arch)
    size: ClassVar[int] = len(OPS) ** len(EDGES)
    # REA as NB201 and LAPT run it on this space (LAPT Table 1: population 5, tournament 2).
    rea: ClassVar[tuple[int, int]] = (5, 2)
    # LAPT Table 1 and section 4.2 (principles learned on ImageNet16-120).
    lapt: ClassVar[LAPTDefaults] = LAPTDefaults(top_r=5, iterations=3, population=5, generations=1,
                                                tournament=2, source="imagenet16")
    edits: ClassVar[tuple[str, ...]] = nb201_code.EDITS
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "conv depth")
    # --nb201-api FILE: the official benchmark file answers instead of the shipped table (spaces/nb201_api.py)
    official: nb201_api.Official | None = None

    def check_settings(self, settings) -> None:
        """Before the run folder exists: is settings.nb201_api an official benchmark file (loaded once)?"""
        if getattr(settings, "nb201_api", None) is not None:
            nb201_api.load(settings.nb201_api)

    def configure(self, settings, run_path) -> None:
        path = getattr(settings, "nb201_api", None)
        self.official = nb201_api.load(path) if path is not None else None

    def describe(self, dataset: str) -> str:
        dataset = self.resolve_dataset(dataset)
        return PROBLEM.format(dataset=dataset, ops=", ".join(OPS), n_classes=N_CLASSES[dataset])

    def canonical(self, arch: str) -> str:
        return _canonical(arch)

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        dataset = self.resolve_dataset(dataset)
        arch = self.validate(arch)
        if self.official is not None:
            flops, params = self.official.cost(arch, dataset)
            return Evaluation(arch=arch, canonical=self.canonical(arch), flops_m=flops, params_m=params,
                              val_acc=self.official.accuracy(arch, dataset, "valid"))
        row = _table()[arch]
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=row.val[dataset],
                          flops_m=row.flops_m[dataset], params_m=row.params_m[dataset])

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        if self.official is not None:
            return self.official.cost(self.validate(arch), self.resolve_dataset(dataset))
        row = _table()[self.validate(arch)]
        dataset = self.resolve_dataset(dataset)
        return row.flops_m[dataset], row.params_m[dataset]

    def latency(self, arch: str, device: str) -> float:
        per_device = _latency()[self.validate(arch)]
        if device not in per_device:
            raise UserError(f"unknown latency device {device!r}; choose one of {', '.join(per_device)}")
        return per_device[device]

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        dataset = self.resolve_dataset(dataset)
        if self.official is not None:
            evaluation, test = self.evaluate(arch, dataset), self.official.accuracy(arch, dataset, "test")
            ranked = self.official.sorted_test(dataset)
            return FinalReport(arch=arch, val_acc=evaluation.val_acc, test_acc=test, rank=rank_in(ranked, test),
                               of=len(ranked), flops_m=evaluation.flops_m, params_m=evaluation.params_m)
        row = _table()[self.validate(arch)]
        test = row.test[dataset]
        rank = rank_in(_sorted_test(dataset), test)
        return FinalReport(arch=arch, val_acc=row.val[dataset], test_acc=test, rank=rank, of=self.size,
                           flops_m=row.flops_m[dataset], params_m=row.params_m[dataset])

    def all_archs(self) -> list[str]:
        return list(self.official.archs) if self.official is not None else list(_table())

    def sample_random(self, rng) -> str:
        """Uniform over the space; over the cells an official file has results for when it has fewer."""
        if self.official is not None and len(self.official.archs) < self.size:
            return rng.choice(self.official.archs)
        return super().sample_random(rng)

    def contains(self, arch: str) -> bool:
        return self.official.contains(arch) if self.official is not None else arch in _table()

    def trivial(self, arch: str) -> str | None:
        return zero_output(parse(arch))

    def iso_class(self, arch: str) -> int:
        return _table()[self.validate(arch)].iso_class

    def arch_at(self, index: int) -> str:
        """The cell with this NB201 API index."""
        return _by_index()[index]

    def network(self, arch: str, dataset: str):
        """The NB201 skeleton around this cell (spaces/nb201_torch.py), its input and classes."""
        dataset, arch = self.resolve_dataset(dataset), self.validate(arch)
        classes = N_CLASSES[dataset]

        def build():
            from spaces.nb201_torch import NB201Network

            return NB201Network(arch, num_classes=classes)

        return build, INPUT_SHAPES[dataset], classes

    # --- LLMatic: code representation and archive descriptors (seed 001, section 5) ---

    def to_code(self, arch: str) -> str:
        return nb201_code.cell_to_code(self.validate(arch))

    def from_code(self, text: str) -> str:
        """Raises UserError (CellCodeError) with a one-sentence reason when unreadable."""
        return nb201_code.code_to_cell(text)

    def code_rules(self) -> str:
        return nb201_code.rules(OPS)

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, convolutions on the longest input-to-output path).  LLMatic's code-space
        descriptors are width-to-depth ratio and FLOPs; every NB201 network has the same
        skeleton, so FLOPs carries the width (how many and which convolutions) and the
        convolutional depth of the cell separates wide-shallow from narrow-deep cells of
        equal cost."""
        return self.cost(arch, dataset)[0], float(conv_depth(parse(arch)))

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        """FLOPs bounds from the table's min/max (LLMatic section 5.2); depth 0-3."""
        return [_flops_range(self.resolve_dataset(dataset)), (0.0, 3.0)]


@cache
def _flops_range(dataset: str) -> tuple[float, float]:
    flops = [row.flops_m[dataset] for row in _table().values()]
    return min(flops), max(flops)


N_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
INPUT_SHAPES = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "imagenet16": (3, 16, 16)}

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
