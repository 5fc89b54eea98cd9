"""TransNAS-Bench-101 micro (Duan et al. 2021): the NB201 cell with four operations, seven tasks.

The cell is NB201's (4 nodes, 6 edges j->i) without average pooling, so the edge names,
the proposal schema's shape and the canonical form (NB201's de-duplication key) are shared
with spaces/nb201.py.  Architectures are the benchmark's strings `64-41414-a_bc_def`
(digits 0 none, 1 skip, 2 conv1x1, 3 conv3x3; edges node1<-0; node2<-0,1; node3<-0,1,2).

Only 711 of the 4,096 cells are in `data/transnas101_micro.csv.gz` (see data/README.md):
`all_archs()` lists those, sampling draws from them, and mutation (`neighbours` filtered by
the table in spaces/refined.py) stays inside them; a cell outside the table evaluates as
`out_of_space`.  The table holds validation metrics only, so `final_report` ranks by the
validation metric among the 711 and has no test figure.  Every metric is higher-is-better as
stored (room_layout is NASLib's negative L2 loss; the paper's Table 3 shows the loss x 100).
"""

from __future__ import annotations

import random
from functools import cache
from typing import ClassVar, Literal, get_args

from pydantic import BaseModel

from errors import UserError
from spaces import nb201_code
from spaces.base import Evaluation, FinalReport, LAPTDefaults, rank_in, table_rows
from spaces.cell import EDGE_NAMES, conv_depth, unique_key, zero_output
from spaces.cell import format_arch as cell_string
from spaces.cell import parse as parse_cell
from spaces.positional import PositionalSpace, positions_schema

Op = Literal["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"]
OPS: tuple[str, ...] = get_args(Op)
TASKS = ("class_scene", "class_object", "jigsaw", "room_layout", "segmentsemantic", "normal", "autoencoder")
TASK_ALIASES = {"scene": "class_scene", "object": "class_object", "obj": "class_object", "sc": "class_scene",
                "roo": "room_layout", "seg": "segmentsemantic", "nor": "normal", "auto": "autoencoder"}
METRICS = {"class_scene": "top-1 accuracy (%)", "class_object": "top-1 accuracy (%)",
           "jigsaw": "top-1 accuracy (%)", "room_layout": "negative L2 loss", "segmentsemantic":
           "pixel accuracy (%)", "normal": "SSIM", "autoencoder": "SSIM"}


POSITIONS = {name: OPS for name in EDGE_NAMES}
TransNASCell = positions_schema("TransNASCell", tuple(POSITIONS.items()))


def parse(arch: str) -> tuple[str, ...]:
    """`64-41414-a_bc_def` -> six ops in edge order; raises UserError when malformed."""
    head, _, cell = arch.strip().rpartition("-")
    digits = cell.replace("_", "")
    if head != "64-41414" or [len(p) for p in cell.split("_")] != [1, 2, 3] or not set(digits) <= set("0123"):
        raise UserError(f"not a TransNAS-Bench-101 micro cell (want 64-41414-a_bc_def, digits 0-3): {arch!r}")
    return tuple(OPS[int(d)] for d in digits)


def format_arch(ops: tuple[str, ...] | list[str]) -> str:
    d = "".join(str(OPS.index(op)) for op in ops)
    return f"64-41414-{d[0]}_{d[1:3]}_{d[3:]}"


@cache
def _table() -> dict[str, dict]:
    """arch -> {task: (metric, flops_m, params_m)} for the 711 cells."""
    rows: dict[str, dict] = {}
    for r in table_rows("transnas101_micro.csv.gz"):
        rows.setdefault(r["arch"], {})[r["task"]] = (float(r["val_metric"]), float(r["flops_m"]),
                                                     float(r["params_m"]))
    return rows


@cache
def _sorted(task: str) -> list[float]:
    """The task's metric in ascending order, for ranks by bisection."""
    return sorted(row[task][0] for row in _table().values())


class TransNAS101Space(PositionalSpace):
    """TransNAS-Bench-101 micro cells that the table has (711), on seven tasks."""

    name: ClassVar[str] = "transnas101"
    datasets: ClassVar[tuple[str, ...]] = TASKS
    aliases: ClassVar[dict[str, str]] = TASK_ALIASES
    POSITIONS: ClassVar[dict[str, tuple[str, ...]]] = POSITIONS
    proposal_schema: ClassVar[type[BaseModel]] = TransNASCell
    evaluator_name: ClassVar[str] = "query_transnas101"
    metric: ClassVar[str] = "validation metric (higher is better)"
    _parse, _format = staticmethod(parse), staticmethod(format_arch)
    # LAPT Table 1 (population 10, tournament 5) and section 4.2 (principles learned on Jigsaw).
    rea: ClassVar[tuple[int, int]] = (10, 5)
    lapt: ClassVar[LAPTDefaults] = LAPTDefaults(top_r=15, iterations=4, population=10, generations=1,
                                                tournament=5, source="jigsaw")

    @property
    def size(self) -> int:
        return len(_table())

    def canonical(self, arch: str) -> str:
        return unique_key(parse(arch))

    def describe(self, dataset: str) -> str:
        task = self.resolve_dataset(dataset)
        return PROBLEM.format(task=task, metric=METRICS[task], ops=", ".join(OPS))

    def sample_random(self, rng: random.Random) -> str:
        """A random cell among those the table has (uniform over the 711)."""
        return rng.choice(self.all_archs())

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One edge changed, among the neighbours the table has (a random cell if none)."""
        inside = self.neighbours(arch)
        return rng.choice(inside) if inside else self.sample_random(rng)

    def neighbours(self, arch: str) -> list[str]:
        """One-edge changes that are in the table."""
        ops, table = parse(arch), _table()
        around = (format_arch(ops[:k] + (op,) + ops[k + 1:]) for k in range(len(ops)) for op in OPS if op != ops[k])
        return [a for a in around if a in table]

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        task, arch = self.resolve_dataset(dataset), self.validate(arch)
        row = _table().get(arch)
        if row is None:
            return Evaluation(arch=arch, canonical=self.canonical(arch), failure="out_of_space",
                              detail="not among the 711 cells of the TransNAS-Bench-101 table")
        metric, flops, params = row[task]
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=metric, flops_m=flops, params_m=params)

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        _, flops, params = _table()[self.validate(arch)][self.resolve_dataset(dataset)]
        return flops, params

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        task = self.resolve_dataset(dataset)
        metric, flops, params = _table()[self.validate(arch)][task]
        rank = rank_in(_sorted(task), metric)
        return FinalReport(arch=arch, val_acc=metric, test_acc=None, rank=rank, of=len(_table()),
                           flops_m=flops, params_m=params)

    def all_archs(self) -> list[str]:
        return list(_table())

    def contains(self, arch: str) -> bool:
        return arch in _table()

    def trivial(self, arch: str) -> str | None:
        return zero_output(parse(arch))

    # --- LLMatic: the cell as code (NB201's cell module without average pooling) ---

    edits: ClassVar[tuple[str, ...]] = tuple(e for e in nb201_code.EDITS if "pooling" not in e)
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "conv depth")

    def to_code(self, arch: str) -> str:
        return nb201_code.cell_to_code(cell_string(parse(arch)))

    def from_code(self, text: str) -> str:
        ops = parse_cell(nb201_code.code_to_cell(text))
        if "avg_pool_3x3" in ops:
            raise nb201_code.CellCodeError("average pooling is not an operation of this space")
        return format_arch(ops)

    def code_rules(self) -> str:
        return nb201_code.rules(OPS)

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, convolutions on the longest path), as on NB201."""
        return self.cost(arch, dataset)[0], float(conv_depth(parse(arch)))

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        task = self.resolve_dataset(dataset)
        flops = [row[task][1] for row in _table().values()]
        return [(min(flops), max(flops)), (0.0, 3.0)]


PROBLEM = """\
You are designing the repeated cell of a network (TransNAS-Bench-101 micro space) for the task {task}, \
measured by {metric} (higher is better).
The cell is a small DAG with nodes 0, 1, 2, 3. Node 0 is the cell input, node 3 the cell output. \
Every node i sums the results of one operation applied to each earlier node j < i, so the cell has six \
edges: node1_from_0, node2_from_0, node2_from_1, node3_from_0, node3_from_1, node3_from_2.
Each edge takes exactly one operation from: {ops}.
'none' removes the edge, 'skip_connect' is the identity, 'nor_conv_1x1' and 'nor_conv_3x3' are \
ReLU-Conv-BatchNorm with a 1x1 or 3x3 kernel.
Goal: the highest validation {metric} on {task}."""
