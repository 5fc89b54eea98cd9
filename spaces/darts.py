"""The DARTS cell space (Liu, Simonyan & Yang 2018), as LAPT searches it (seed 003, section 4.1):
a normal and a reduction cell of four nodes, each node two of eight operations on two earlier
states: about 10^18 architectures, evaluated through a weight-sharing supernet.

An architecture is written in DARTS's own notation, so published genotypes paste in
(spaces/darts_genotype.py: `validate` reads and normalises the text, `canonical` sorts each
node's two terms).  Evaluation: validation accuracy with weights inherited from a supernet
trained on the run's dataset (spaces/darts_train.py; trained once per run, checkpointed in
the run folder, resumed after a kill -9, never trained again).  FLOPs and params are those
of DARTS's own evaluation networks (spaces/darts_cost.py): the CIFAR network (C 36, 20 cells)
on 32x32 data, the ImageNet one (C 48, 14 cells) for `imagenet`.  The final report trains the
best architecture stand-alone (settings.DartsSettings) and reads its test accuracy once.

The CPU datasets are those of training/datasets.py (mnist, digits, cifar10 from its archive);
cifar100 and imagenet are known for their networks' sizes (`cost`), not searchable here.
"""

from __future__ import annotations

import logging
import math
import random
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from errors import UserError
from spaces import darts_genotype as G
from spaces.base import Evaluation, FinalReport, LAPTDefaults, Space
from spaces.positional import positions_schema

__all__ = ["DartsSpace"]

log = logging.getLogger("archagents")

SEARCHABLE = ("mnist", "digits", "cifar10")  # what training/datasets.py can load
CLASSES = {"mnist": 10, "digits": 10, "cifar10": 10, "cifar100": 100, "imagenet": 1000}
DartsArch = positions_schema("DartsArch", tuple(G.POSITIONS.items()))
# LAPT's count (section 4.1): per cell prod_k k(k+1)/2 input pairs x 8^2 operations per node.
SIZE = (math.prod(k * (k + 1) // 2 for k in range(1, 5)) * 8 ** 8) ** 2


@cache
def _canonical(arch: str) -> str:
    return G.write(G.canonical(G.parse(arch)))


@cache
def _parsed(arch: str) -> G.Genotype:
    return G.parse(arch)


def reference(dataset: str) -> dict:
    """DARTS's evaluation network for the kind of data (Liu et al. 2018, sections 3.2 and 3.3)."""
    if dataset == "imagenet":
        return {"c": 48, "layers": 14, "layout": "imagenet", "image_size": 224, "classes": 1000}
    return {"c": 36, "layers": 20, "layout": "cifar", "image_size": 32, "classes": CLASSES[dataset]}


class DartsSpace(Space):
    """DARTS genotypes, estimated through a supernet, trained stand-alone at the end."""

    name: ClassVar[str] = "darts"
    datasets: ClassVar[tuple[str, ...]] = ("mnist", "digits", "cifar10", "cifar100", "imagenet")
    aliases: ClassVar[dict[str, str]] = {"cifar-10": "cifar10", "CIFAR-10": "cifar10", "cifar-100": "cifar100",
                                         "ImageNet": "imagenet"}
    proposal_schema: ClassVar[type[BaseModel]] = DartsArch
    evaluator_name: ClassVar[str] = "supernet_estimate"
    metric: ClassVar[str] = "validation accuracy (%) with weights inherited from the supernet"
    size: ClassVar[int] = SIZE
    # LAPT Table 1, DARTS column: 100 architectures learned from, r 50, 2 adaptation iterations, REA
    # population 20, 10 generations, tournament 2, crossover 0.5, mutation 0.5.  Section 4.1 learns on
    # CIFAR-100; offline the source is MNIST (targets: digits, cifar10).  Source samples: paper 5,000.
    lapt: ClassVar[LAPTDefaults] = LAPTDefaults(top_r=50, iterations=2, population=20, generations=10, tournament=2,
                                                source="mnist", learn_samples=100, crossover=0.5, mutation=0.5,
                                                source_samples=1000)
    rea: ClassVar[tuple[int, int]] = (20, 2)  # LAPT's REA on DARTS (Table 1)
    # 32 positions an architecture: 50 examples would not fit a small model's context, and SmolLM2-135M
    # took 650 s (at load 10) on a prompt of 10 examples and every operation's share (5,300 tokens).
    examples_shown: ClassVar[int] = 5
    stats_shown: ClassVar[int] = 4  # operations per position in the learner's statistics, by share of the top
    edits: ClassVar[tuple[str, ...]] = (
        "Replace one operation of the normal cell to improve the network above.",
        "Replace one operation of the reduction cell to improve the network above.",
        "Change which earlier state one node reads, to improve the network above.",
        "Improve the network above.",
        "Improve the network above by making it much smaller.",
        "Improve the network above by making it much larger.",
        "Use more separable convolutions to improve the network above.",
        "Use more skip connections to improve the network above.",
        "Make the normal cell deeper (nodes that read earlier nodes) to improve the network above.",
        "Make the normal cell wider (nodes that read the cell inputs) to improve the network above.",
    )
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "cell depth")
    cost_reference: ClassVar[str] = ("DARTS's evaluation network without its auxiliary head: C 36, 20 cells at 32x32 "
                                     "(imagenet: C 48, 14 cells at 224x224)")

    def __init__(self):
        from settings import DartsSettings

        self.settings = DartsSettings()
        self.seed = 0
        self.runs_dir = Path("runs")
        self.run_path: Path | None = None
        self.cifar10: Path | None = None
        self.allowed: dict[str, list[str]] | None = None  # the refined space the supernet trains over (LAPT)
        self.mix = 0.0
        self._models: dict[str, Any] = {}

    # --- binding to a run ---

    def configure(self, settings, run_path) -> None:
        self.settings, self.seed = settings.darts, settings.seed
        self.runs_dir, self.run_path, self.cifar10 = Path(settings.runs_dir), Path(run_path), settings.training.cifar10
        self.check_settings(settings)

    def check_settings(self, settings) -> None:
        """Refuse a run whose data is missing before its folder is created."""
        self.check_dataset(settings.dataset, settings.training.cifar10)

    def check_dataset(self, dataset: str, cifar10: Path | None = None) -> None:
        dataset = self.resolve_dataset(dataset)
        if dataset not in SEARCHABLE:
            raise UserError(f"darts has no images of {dataset} here (its network sizes are known, see cli.py arch); "
                            f"search on {', '.join(SEARCHABLE)}")
        if dataset == "cifar10":
            from training import datasets

            if datasets.cifar10_path(cifar10) is None:
                datasets.materialise("cifar10", self.runs_dir / ".datasets", None)  # the one-line UserError

    def default_dataset(self, settings) -> str:
        from training import datasets

        return datasets.default(settings.training.cifar10)

    def describe(self, dataset: str) -> str:
        dataset = self.resolve_dataset(dataset)
        s = self.settings
        return PROBLEM.format(dataset=dataset, classes=CLASSES[dataset], ops=", ".join(G.OPS), cells=s.cells,
                              channels=s.channels, size=s.image_size)

    # --- the notation ---

    def validate(self, arch: str) -> str:
        return G.write(_parsed(arch))

    def canonical(self, arch: str) -> str:
        return _canonical(arch)

    def from_proposal(self, proposal: BaseModel | dict) -> str:
        cell = proposal if isinstance(proposal, DartsArch) else DartsArch.model_validate(
            proposal.model_dump() if isinstance(proposal, BaseModel) else proposal)
        return self.from_ops([getattr(cell, name) for name in G.POSITIONS])

    def to_proposal(self, arch: str) -> dict:
        return dict(zip(G.POSITIONS, self.ops(arch)))

    def positions(self) -> dict[str, tuple[str, ...]]:
        return dict(G.POSITIONS)

    def ops(self, arch: str) -> tuple[str, ...]:
        return G.choices(_parsed(arch))

    def from_ops(self, ops) -> str:
        return G.write(G.from_choices(list(ops)))

    def trivial(self, arch: str) -> str | None:
        if G.zero_cell(_parsed(arch).normal):
            return "every node of the normal cell is zero, and the last cell is a normal cell: the network outputs a " \
                   "constant"
        return None

    # --- sampling, mutation, refined spaces (WeightShared) ---

    def sample_random(self, rng: random.Random) -> str:
        return G.write(G.sample(G.full(), rng))

    def mutate(self, arch: str, rng: random.Random) -> str:
        return G.write(G.mutate(_parsed(arch), G.full(), rng))

    def neighbours(self, arch: str) -> list[str]:
        return self.neighbours_in(arch, G.full())

    def sample_in(self, allowed: dict[str, list[str]], rng: random.Random) -> str:
        return G.write(G.sample(allowed, rng))

    def contains_in(self, allowed: dict[str, list[str]], arch: str) -> bool:
        return G.contains(allowed, _parsed(arch))

    def neighbours_in(self, arch: str, allowed: dict[str, list[str]]) -> list[str]:
        return [G.write(g) for g in G.neighbours(_parsed(arch), allowed)]

    def crossover(self, first: str, second: str, rng: random.Random) -> str:
        return G.write(G.crossover(_parsed(first), _parsed(second), rng))

    # --- evaluation through the supernet ---

    def use_supernet(self, allowed: dict[str, list[str]] | None, mix: float) -> None:
        """Evaluate through a supernet trained over `allowed` (None: the whole space), `mix` of its
        steps drawn from the whole space (LAPT's target supernet over the refined space)."""
        self.allowed, self.mix = allowed, (mix if allowed is not None else 0.0)

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        from spaces import darts_train

        dataset, arch = self.resolve_dataset(dataset), self.validate(arch)
        spec = self._spec(dataset, self.allowed, self.mix, self.seed)
        model, data = self._supernet(spec, self.run_path / "supernets" if self.run_path else self._shared())
        flops, params = self.cost(arch, dataset)
        accuracy = darts_train.estimate(model, _parsed(arch), data, self.settings.bn_batches, self.settings.batch_size)
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=round(accuracy, 4), flops_m=flops,
                          params_m=params, detail=f"supernet {darts_train.folder_of(Path('.'), spec).name}")

    def scored_sample(self, dataset: str, n: int) -> list[tuple[str, float]]:
        """LAPT's source knowledge (section 4.1): `n` random architectures of the whole space scored
        through a supernet trained on `dataset`, best first.  Kept beside the runs
        (runs/.supernets/), shared by every run that transfers from the same source and resumed
        where a kill -9 left it (scores are appended as they come)."""
        import json

        from spaces import darts_train

        dataset = self.resolve_dataset(dataset)
        spec = self._spec(dataset, None, 0.0, seed=0)  # the source's knowledge does not depend on the run's seed
        folder = darts_train.folder_of(self._shared(), spec)
        model, data = self._supernet(spec, self._shared())
        path = folder / f"sample-{n}.jsonl"
        rng, drawn, seen = random.Random(f"source-sample:{dataset}"), [], set()
        while len(drawn) < n:  # the same n architectures every time, in the same order
            arch = self.sample_random(rng)
            if self.canonical(arch) not in seen:
                seen.add(self.canonical(arch))
                drawn.append(arch)
        with darts_train.exclusive(folder):  # two runs transferring from one source score it once
            done = _scores(path)
            with open(path, "a") as out:
                for arch in drawn[len(done):]:
                    score = darts_train.estimate(model, _parsed(arch), data, self.settings.bn_batches,
                                                 self.settings.batch_size)
                    done.append([arch, round(score, 4)])
                    out.write(json.dumps(done[-1]) + "\n")
                    out.flush()
        return sorted(((a, s) for a, s in done), key=lambda item: -item[1])

    def _shared(self) -> Path:
        return self.runs_dir / ".supernets"

    def _spec(self, dataset: str, allowed, mix: float, seed: int):
        from spaces.darts_train import SupernetSpec, epochs_for

        s = self.settings
        images = min(len(self._data(dataset).x_train), s.train_subset or 1 << 62)
        return SupernetSpec(dataset=dataset, image_size=s.image_size, channels=s.channels, cells=s.cells,
                            epochs=epochs_for(images, s.batch_size, s.epochs, s.min_steps), batch_size=s.batch_size,
                            lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay, train_subset=s.train_subset,
                            seed=seed, allowed=allowed, mix=mix, sharing=s.sharing)

    def _supernet(self, spec, root: Path):
        from spaces import darts_train

        folder = darts_train.folder_of(root, spec)
        data = self._data(spec.dataset)
        if folder.name not in self._models:
            def progress(epoch: int, epochs: int, loss: float) -> None:
                log.info(f"supernet {folder.name}: epoch {epoch}/{epochs}, loss {loss:.3f}")

            self._models[folder.name] = darts_train.supernet(spec, folder, data, progress)
        return self._models[folder.name], data

    def _data(self, dataset: str):
        from spaces import darts_train

        self.check_dataset(dataset, self.cifar10)
        return darts_train.load_data(dataset, self.settings.image_size, self.runs_dir / ".datasets", self.cifar10)

    # --- size and the final report ---

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, M params) of DARTS's evaluation network for this kind of data (no auxiliary head)."""
        from spaces.darts_cost import network_cost

        ref = reference(self.resolve_dataset(dataset))
        count = network_cost(_parsed(arch), ref["c"], ref["classes"], ref["layers"], ref["layout"], ref["image_size"])
        return round(count.macs / 1e6, 4), round(count.params / 1e6, 6)

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        """The architecture trained stand-alone (once: its report is kept in the run folder)."""
        from spaces import darts_train

        dataset, arch = self.resolve_dataset(dataset), self.validate(arch)
        s = self.settings
        spec = darts_train.StandaloneSpec(
            dataset=dataset, image_size=s.image_size, channels=s.standalone_channels, cells=s.standalone_cells,
            epochs=s.standalone_epochs, batch_size=s.standalone_batch, lr=s.standalone_lr, momentum=s.momentum,
            weight_decay=s.weight_decay, auxiliary_weight=s.auxiliary_weight, drop_path=s.drop_path,
            train_subset=s.train_subset, seed=self.seed)
        root = (self.run_path or self._shared().parent) / "standalone"
        report = darts_train.standalone(_parsed(arch), spec, root / spec.key(_parsed(arch)), self._data(dataset))
        flops, params = self.cost(arch, dataset)
        return FinalReport(arch=arch, val_acc=report["val_acc"], test_acc=report["test_acc"], rank=None, of=None,
                           flops_m=flops, params_m=params,
                           notes={"trained_params_m": round(report["params_m"], 4), "epochs": report["epochs"],
                                  "train_seconds": report["train_seconds"], "channels": spec.channels,
                                  "cells": spec.cells, "image_size": spec.image_size})

    def network(self, arch: str, dataset: str):
        """The stand-alone network the search's supernet would give (training-free proxies)."""
        dataset, genotype, s = self.resolve_dataset(dataset), _parsed(arch), self.settings

        def build():
            from spaces.darts_model import Network

            return Network(genotype, s.channels, CLASSES[dataset], s.cells)

        return build, (3, s.image_size, s.image_size), CLASSES[dataset]

    # --- LLMatic: the genotype is the code ---

    def to_code(self, arch: str) -> str:
        return self.validate(arch) + "\n"

    def from_code(self, text: str) -> str:
        return self.validate(text)

    def code_rules(self) -> str:
        return CODE_RULES.format(ops=", ".join(G.OPS))

    def encode(self, arch: str) -> list[float]:
        return [float(choice == value) for choice, values in zip(self.ops(arch), G.POSITIONS.values())
                for value in values]

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, depth of the normal cell: the longest chain of nodes reading nodes, 1-4)."""
        return self.cost(arch, dataset)[0], float(G.depth(_parsed(arch).normal))

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        return [_flops_range(self.resolve_dataset(dataset)), (1.0, 4.0)]


def _scores(path: Path) -> list[list]:
    """The scores written so far; a line a kill -9 cut short is dropped (and the file rewritten)."""
    import json

    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    done = []
    for line in lines:
        try:
            done.append(json.loads(line))
        except json.JSONDecodeError:
            break
    if len(done) < len(lines):
        path.write_text("".join(json.dumps(row) + "\n" for row in done))
    return done


@cache
def _flops_range(dataset: str) -> tuple[float, float]:
    """From a network of parameter-free operations only to one of 5x5 separable convolutions only."""
    from spaces.darts_cost import network_cost

    ref = reference(dataset)
    out = []
    for op in ("max_pool_3x3", "sep_conv_5x5"):
        cell = tuple((op, index) for node in G.NODES for index in (0, 1))
        genotype = G.Genotype(cell, G.CONCAT, cell, G.CONCAT)
        out.append(network_cost(genotype, ref["c"], ref["classes"], ref["layers"], ref["layout"], ref["image_size"]).macs
                   / 1e6)
    return out[0], out[1]


PROBLEM = """\
You are designing the two cells of a DARTS network for {dataset} ({classes} classes). \
A cell has two inputs, c_k-2 (the output of the cell before the previous one) and c_k-1 (the previous \
cell's output), and four nodes, node2 to node5. Each node sums two layers; a layer applies one operation \
to one earlier state (c_k-2, c_k-1 or an earlier node). The cell's output concatenates node2 to node5. \
The normal cell keeps the resolution; the reduction cell halves it (operations on its inputs have stride 2).
Operations: {ops}. none gives zeros; skip_connect is the identity (a factorized 1x1 reduction in the \
reduction cell); sep_conv applies ReLU, depthwise and pointwise convolutions and BatchNorm twice; dil_conv \
once, with dilation 2.
Positions: for each cell (normal, reduce), node n (2 to 5) and layer a (the earlier input) or b: \
CELL_nNa_op is the layer's operation and CELL_nNa_from its input (e.g. normal_n3b_from = node2).
In DARTS's notation: Genotype(normal=[(operation, input index), two pairs per node for nodes 2 to 5], \
normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5]); input index 0 is c_k-2, 1 is \
c_k-1, 2 to 4 are nodes.
An architecture's score is its validation accuracy with weights inherited from a supernet trained on \
{dataset} ({cells} cells, C {channels}, {size}x{size} inputs).
Goal: the highest validation accuracy."""

CODE_RULES = """\
Answer with one genotype in DARTS's notation: Genotype(normal=[...], normal_concat=[2, 3, 4, 5], \
reduce=[...], reduce_concat=[2, 3, 4, 5]), each cell a list of 8 (operation, input) pairs, two per node \
for nodes 2 to 5; node n reads inputs 0 to n-1 (0 and 1 are the cell's inputs). Operations: {ops}."""
