"""NAS-Bench-Macro (Su et al., CVPR 2021; GENIUS, seed 002, section 4.1 and appendix A.1): 6,561
CIFAR-10 networks, each trained from scratch three times.

The network is fixed except for eight searchable layers in three stages of [2, 3, 3] layers;
the first layer of a stage halves the resolution (stride 2) and doubles the channels, starting
from 32.  Every layer is one of `identity`, `mb3_k3` (MobileNetV2 inverted residual block,
expansion 3, 3x3 depthwise kernel) or `mb6_k5` (expansion 6, 5x5).  An architecture is the
table's eight digits, 0 identity, 1 mb3_k3, 2 mb6_k5 (`22212202` is the best).

The table has no validation split: GENIUS reads the mean test accuracy of the three runs, and
so does the search here (`evaluate` and `final_report` give the same number); FLOPs (multiply-
accumulates of convolutions and the linear layer) and params are the table's.  The network
(`network`) is the benchmark's own (xiusu/NAS-Bench-Macro, train/model.py): its counts equal
the table's exactly.

This module also holds what the two macro benchmarks share (Channel-Bench-Macro,
spaces/channel_bench.py, is the same authors' companion benchmark): `TableSpace`, a one-dataset
table keyed by a digit string; the `ast` readers of the code representation; the PyTorch pieces.
"""

from __future__ import annotations

import ast
import bisect
import csv
import gzip
import re
import threading
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Callable, ClassVar, Sequence

from pydantic import BaseModel

from errors import UserError
from spaces.base import Evaluation, FinalReport, LAPTDefaults
from spaces.nb201 import DATA
from spaces.positional import PositionalSpace, positions_schema

__all__ = ["NASBenchMacroSpace", "TableSpace", "ArchCodeError", "read_init", "call_slots", "call_name", "integer",
           "net_source", "torch_blocks"]


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    acc: float  # mean_acc: mean CIFAR-10 test accuracy (%) of the three trainings
    flops_m: float
    params_m: float


@cache
def load(filename: str) -> dict[str, Row]:
    """arch -> row of one of the macro tables in data/ (loaded once)."""
    with gzip.open(DATA / filename, "rt", newline="") as f:
        return {r["arch"]: Row(float(r["mean_acc"]), int(r["flops"]) / 1e6, int(r["params"]) / 1e6)
                for r in csv.DictReader(f)}


@cache
def _accs(filename: str) -> list[float]:
    return sorted(row.acc for row in load(filename).values())


@cache
def column_range(filename: str, column: str) -> tuple[float, float]:
    values = [getattr(row, column) for row in load(filename).values()]
    return min(values), max(values)


class TableSpace(PositionalSpace):
    """A benchmark on CIFAR-10 only whose architectures are strings of one digit per position.
    Subclasses set TABLE (file in data/), DIGITS (the digit of each of OPS, in order), OPS and
    POSITIONS (every position takes every one of OPS)."""

    TABLE: ClassVar[str]
    DIGITS: ClassVar[str]
    OPS: ClassVar[tuple[str, ...]]
    datasets: ClassVar[tuple[str, ...]] = ("cifar10",)
    aliases: ClassVar[dict[str, str]] = {"cifar10": "cifar10", "cifar-10": "cifar10", "c10": "cifar10"}
    # Said as it is: the benchmarks' only accuracy is the mean test accuracy of three trainings.
    metric: ClassVar[str] = "CIFAR-10 accuracy (%, mean of 3 trainings)"
    # GENIUS (seed 002) compares with random sampling only on the macro benchmarks and states no
    # REA setting for them; the project's default, population 10, tournament 3.
    rea: ClassVar[tuple[int, int]] = (10, 3)
    # LAPT (seed 003) has no macro benchmark.  Its NB201 values (Table 1): NAS-Bench-Macro's 8
    # positions x 3 operations (6,561 networks) and Channel-Bench-Macro's 7 x 4 (16,384) are spaces
    # of NB201's order (6 x 5, 15,625), so r 5, 3 rounds, population 5, tournament 2 (20
    # evaluations, twice GENIUS's 10 iterations on these benchmarks) fit them as well.  One task
    # only: LAPT learns its principles from its own first round (source None: no-transfer).
    lapt: ClassVar[LAPTDefaults] = LAPTDefaults(top_r=5, iterations=3, population=5, generations=1, tournament=2,
                                                source=None)

    def _parse(self, arch: str) -> tuple[str, ...]:
        digits = arch.strip()
        if len(digits) != len(self.POSITIONS) or not set(digits) <= set(self.DIGITS):
            raise UserError(f"not a {self.name} architecture (want {len(self.POSITIONS)} digits from "
                            f"{', '.join(self.DIGITS)}): {arch!r}")
        return tuple(self.OPS[self.DIGITS.index(d)] for d in digits)

    def _format(self, ops: Sequence[str]) -> str:
        return "".join(self.DIGITS[self.OPS.index(op)] for op in ops)

    def _row(self, arch: str) -> Row:
        return load(self.TABLE)[self.validate(arch)]

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        self.resolve_dataset(dataset)
        arch = self.validate(arch)
        row = load(self.TABLE)[arch]
        return Evaluation(arch=arch, canonical=self.canonical(arch), val_acc=row.acc, flops_m=row.flops_m,
                          params_m=row.params_m)

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        self.resolve_dataset(dataset)
        row = self._row(arch)
        return row.flops_m, row.params_m

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        """The same mean accuracy as the search saw, and its rank by it among all rows, 1 the best,
        as GENIUS reports (its script breaks ties by table order; here tied rows share the better rank)."""
        self.resolve_dataset(dataset)
        row, accs = self._row(arch), _accs(self.TABLE)
        rank = 1 + len(accs) - bisect.bisect_right(accs, row.acc)
        return FinalReport(arch=self.validate(arch), val_acc=row.acc, test_acc=row.acc, rank=rank, of=len(accs),
                           flops_m=row.flops_m, params_m=row.params_m)

    def all_archs(self) -> list[str]:
        return list(load(self.TABLE))

    def contains(self, arch: str) -> bool:
        return arch in load(self.TABLE)

    def flops_range(self) -> tuple[float, float]:
        return column_range(self.TABLE, "flops_m")


# --- reading an architecture back from code (ast only: generated code is never run) ---------------


class ArchCodeError(UserError):
    """The code cannot be read as an architecture of the space."""


# Argument names a model may use for the same thing; positional order is given per module kind.
SLOT_NAMES = {
    "c_in": ("c_in", "in_channels", "inp", "in_features", "cin", "in_ch"),
    "c_out": ("c_out", "out_channels", "oup", "out_features", "cout", "out_ch"),
    "c_inner": ("c_inner", "c_mid", "c_hidden", "mid_channels", "hidden", "hidden_dim", "hidden_channels",
                "bottleneck_channels", "inner_channels"),
    "stride": ("stride",),
    "kernel": ("kernel", "kernel_size", "k"),
    "expansion": ("expansion", "expand_ratio", "exp_ratio", "expansion_ratio", "t"),
}
_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n")
_AST_LOCK = threading.Lock()  # CPython 3.11's ast is not thread-safe (DEVELOPERS.md)


def code_blocks(text: str) -> list[str]:
    """The fenced blocks of an answer (the last one may lack its closing fence), then the whole text."""
    blocks, rest = [], text
    while (start := _FENCE.search(rest)) is not None:
        rest = rest[start.end():]
        end = rest.find("```")
        blocks.append(rest if end < 0 else rest[:end])
        rest = "" if end < 0 else rest[end + 3:]
    return blocks + [text]


def read_init(text: str, wanted: Callable[[set[str]], int]) -> tuple[dict[str, ast.expr], dict[str, int]]:
    """The `self.NAME = ...` assignments of the __init__ of the class that `wanted` scores
    highest (the count of attribute names it expects: a model may define helper classes too),
    and the integer variables assigned there.  Raises ArchCodeError when nothing fits."""
    error = None
    for block in code_blocks(text):
        try:
            with _AST_LOCK:
                tree = ast.parse(block)
        except SyntaxError as err:
            error = error or ArchCodeError(f"the code does not parse: {err.msg} (line {err.lineno})")
            continue
        scored = [(wanted(set(attrs)), attrs, env) for attrs, env in map(_init_of, _classes(tree))]
        scored = [s for s in scored if s[0] > 0]
        if scored:
            _, attrs, env = max(scored, key=lambda s: s[0])
            return attrs, env
        error = ArchCodeError("no class whose __init__ sets the network's layers was found")
    raise error


def _classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


def _init_of(cls: ast.ClassDef) -> tuple[dict[str, ast.expr], dict[str, int]]:
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    attrs: dict[str, ast.expr] = {}
    env: dict[str, int] = {}
    for statement in init.body if init else []:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        pairs = list(zip(target.elts, value.elts)) if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) \
            and len(target.elts) == len(value.elts) else [(target, value)]
        for name, expr in pairs:
            if isinstance(name, ast.Attribute) and isinstance(name.value, ast.Name) and name.value.id == "self":
                attrs[name.attr] = expr
            elif isinstance(name, ast.Name) and (number := integer(expr, env)) is not None:
                env[name.id] = number
    return attrs, env


def call_name(expr: ast.expr | None) -> str | None:
    """`MBConv` for `MBConv(...)` and `nn.Identity` -> `Identity`; None when not a call."""
    if isinstance(expr, ast.Call):
        func = expr.func
        return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return None


def call_slots(call: ast.Call, order: tuple[str, ...]) -> dict[str, ast.expr]:
    """A call's arguments by slot: positional ones in `order`, keywords by any of their names."""
    slots = dict(zip(order, call.args))
    for keyword in call.keywords:
        slot = next((s for s, names in SLOT_NAMES.items() if keyword.arg in names), None)
        if slot is not None:
            slots[slot] = keyword.value
    return slots


_ARITHMETIC = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__, ast.FloorDiv: int.__floordiv__}


def integer(expr: ast.expr | None, env: dict[str, int]) -> int | None:
    """A whole number written as a literal, a variable of `env`, or + - * // of those; else None."""
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    if isinstance(expr, ast.Name):
        return env.get(expr.id)
    if isinstance(expr, ast.BinOp) and type(expr.op) in _ARITHMETIC:
        left, right = integer(expr.left, env), integer(expr.right, env)
        if left is not None and right is not None and not (right == 0 and isinstance(expr.op, ast.FloorDiv)):
            return _ARITHMETIC[type(expr.op)](left, right)
    return None


def net_source(doc: str, init: list[str], chain: list[str], classifier_in: str) -> str:
    """A `Net` module: `init` lines in __init__, then pooling and the classifier; forward applies
    the `chain` of attributes in order."""
    lines = "\n".join(f"        {line}" if line else "" for line in init)
    calls = "\n".join(f"        x = self.{name}(x)" for name in chain)
    return f'''import torch.nn as nn


class Net(nn.Module):
    """{doc}"""

    def __init__(self):
        super().__init__()
{lines}
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear({classifier_in}, 10)

    def forward(self, x):
{calls}
        return self.classifier(self.pool(x).flatten(1))
'''


# --- the PyTorch pieces (torch is imported when a network is built, not before) ---------------------


@cache
def torch_blocks() -> SimpleNamespace:
    """conv_bn, inverted_residual, residual_block and Residual, as the benchmarks' model.py builds them."""
    from torch import nn

    class Residual(nn.Module):
        """body(x), plus x when `skip`, then a ReLU when `relu`."""

        def __init__(self, body: nn.Module, skip: bool, relu: bool):
            super().__init__()
            self.body, self.skip, self.relu = body, skip, nn.ReLU(inplace=True) if relu else nn.Identity()

        def forward(self, x):
            y = self.body(x)
            return self.relu(y + x if self.skip else y)

    def conv_bn(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, relu: bool = True):
        layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
        return layers + [nn.ReLU(inplace=True)] if relu else layers

    def inverted_residual(c_in: int, hidden: int, c_out: int, kernel: int, stride: int) -> nn.Module:
        """MobileNetV2: 1x1 expand, kxk depthwise, 1x1 project (no ReLU); skip when the shape is kept."""
        body = nn.Sequential(*conv_bn(c_in, hidden), *conv_bn(hidden, hidden, kernel, stride, groups=hidden),
                             *conv_bn(hidden, c_out, relu=False))
        return Residual(body, skip=c_in == c_out and stride == 1, relu=False)

    def residual_block(c_in: int, inner: int, c_out: int, stride: int) -> nn.Module:
        """ResNet basic block: two 3x3 convolutions; skip when stride is 1; ReLU after the sum."""
        body = nn.Sequential(*conv_bn(c_in, inner, 3, stride), *conv_bn(inner, c_out, 3, relu=False))
        return Residual(body, skip=stride == 1, relu=True)

    def head(c_in: int, classes: int) -> list[nn.Module]:
        return [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]

    return SimpleNamespace(nn=nn, conv_bn=conv_bn, inverted_residual=inverted_residual,
                           residual_block=residual_block, head=head)


# --- NAS-Bench-Macro ------------------------------------------------------------------------------

OPS = ("identity", "mb3_k3", "mb6_k5")
BLOCKS = {"mb3_k3": (3, 3), "mb6_k5": (6, 5)}  # (expansion, depthwise kernel)
STAGES, STEM, HEAD = (2, 3, 3), 32, 1280


def _layers() -> tuple[tuple[int, int, int], ...]:
    """(in channels, out channels, stride) of the eight layers."""
    out, c = [], STEM
    for stage in STAGES:
        out += [(c, 2 * c, 2)] + [(2 * c, 2 * c, 1)] * (stage - 1)
        c *= 2
    return tuple(out)


LAYERS = _layers()
POSITIONS = {f"layer{i}": OPS for i in range(1, len(LAYERS) + 1)}
SPANS = tuple((sum(STAGES[:s]), sum(STAGES[:s + 1])) for s in range(len(STAGES)))  # layer index ranges per stage
MacroArch = positions_schema("NASBenchMacroArch", tuple(POSITIONS.items()))


def _snippet(op: str, c_in: int, c_out: int, stride: int) -> str:
    if op == "identity":
        return f"Identity({c_in}, {c_out}, stride={stride})"
    expansion, kernel = BLOCKS[op]
    return f"MBConv({c_in}, {c_out}, stride={stride}, expansion={expansion}, kernel={kernel})"


class NASBenchMacroSpace(TableSpace):
    """NAS-Bench-Macro: eight layers, three blocks each, 6,561 networks on CIFAR-10."""

    name: ClassVar[str] = "nas-bench-macro"
    TABLE: ClassVar[str] = "nas_bench_macro_cifar10.csv.gz"
    DIGITS: ClassVar[str] = "012"
    OPS: ClassVar[tuple[str, ...]] = OPS
    POSITIONS: ClassVar[dict[str, tuple[str, ...]]] = POSITIONS
    proposal_schema: ClassVar[type[BaseModel]] = MacroArch
    evaluator_name: ClassVar[str] = "query_nas_bench_macro"
    size: ClassVar[int] = len(OPS) ** len(LAYERS)
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "MB blocks")
    # LLMatic's edit instructions for this space (seed 001, appendix A, in our words), one per way
    # a layer can change; the index is the prompt id of the prompt archive.
    edits: ClassVar[tuple[str, ...]] = (
        "Improve the network above by replacing one Identity layer with an MBConv block of expansion 3 and kernel 3.",
        "Improve the network above by replacing one Identity layer with an MBConv block of expansion 6 and kernel 5.",
        "Improve the network above by replacing one MBConv block with an Identity layer.",
        "Improve the network above by enlarging one MBConv block from expansion 3, kernel 3 to expansion 6, kernel 5.",
        "Improve the network above by shrinking one MBConv block from expansion 6, kernel 5 to expansion 3, kernel 3.",
        "Improve the network above by changing the block of one downsampling layer (layer1, layer3 or layer6).",
        "Improve the network above by adding capacity to the last stage (layer6 to layer8).",
        "Improve the network above by moving capacity from one stage to another, keeping the number of MBConv blocks.",
    )

    def describe(self, dataset: str) -> str:
        self.resolve_dataset(dataset)
        return PROBLEM

    def canonical(self, arch: str) -> str:
        """Identity layers moved to the end of their stage.  An identity that keeps the shape
        (every layer but a stage's first) is no operation, so within a stage only the order of
        the MBConv blocks matters: `0X` and `X0` in layer4-5 build the same modules in the same
        order, the same network.  The table agrees: the 3,969 classes this makes are exactly its
        3,969 distinct triples of run accuracies (a test checks it).  A stage's first layer is
        never moved: its identity is a strided 1x1 convolution."""
        ops, out = self._parse(arch), []
        for start, end in SPANS:
            tail = ops[start + 1:end]
            blocks = [op for op in tail if op != "identity"]
            out += [ops[start], *blocks, *["identity"] * (len(tail) - len(blocks))]
        return self._format(out)

    def network(self, arch: str, dataset: str):
        """The benchmark's network (xiusu/NAS-Bench-Macro train/model.py): stem conv3x3 3->32,
        BN, ReLU; the eight layers; conv1x1 256->1280, BN, ReLU; pooling; linear 1280->10."""
        self.resolve_dataset(dataset)
        ops = self._parse(arch)

        def build():
            t = torch_blocks()
            layers = t.conv_bn(3, STEM, 3)
            for op, (c_in, c_out, stride) in zip(ops, LAYERS):
                if op == "identity":
                    shortcut = stride == 1 and c_in == c_out
                    layers.append(t.nn.Identity() if shortcut else t.nn.Sequential(*t.conv_bn(c_in, c_out, 1, stride,
                                                                                                relu=False)))
                else:
                    expansion, kernel = BLOCKS[op]
                    layers.append(t.inverted_residual(c_in, round(c_in * expansion), c_out, kernel, stride))
            layers += t.conv_bn(LAYERS[-1][1], HEAD) + t.head(HEAD, 10)
            return t.nn.Sequential(*layers)

        return build, (3, 32, 32), 10

    # --- LLMatic: the network as code, read back with ast ---

    def to_code(self, arch: str) -> str:
        init = [f"self.stem = ConvBNReLU(3, {STEM}, kernel=3, stride=1)"]
        for index, (name, op, shape) in enumerate(zip(POSITIONS, self._parse(arch), LAYERS)):
            if shape[2] == 2:
                stage = next(s for s, (start, _) in enumerate(SPANS, 1) if start == index)
                init.append(f"# stage {stage}: {shape[0]} -> {shape[1]} channels, half the resolution")
            init.append(f"self.{name} = {_snippet(op, *shape)}")
        init.append(f"self.head = ConvBNReLU({LAYERS[-1][1]}, {HEAD}, kernel=1, stride=1)")
        return net_source("NAS-Bench-Macro network for CIFAR-10; layer1 to layer8 are searched.", init,
                          ["stem", *POSITIONS, "head"], str(HEAD))

    def from_code(self, text: str) -> str:
        """The eight layers from `self.layerN = ...` in the network's __init__ (forward is not
        read: the skeleton fixes the order).  A stride-1 layer left out is an identity."""
        attrs, env = read_init(text, lambda names: len(names & set(POSITIONS)))
        extra = sorted(a for a in attrs if re.fullmatch(r"layer\d+", a) and a not in POSITIONS)
        if extra:
            raise ArchCodeError(f"the space has eight searchable layers, layer1 to layer8; {extra[0]} is not one of "
                                "them")
        return self._format([_layer_op(name, attrs.get(name), env, shape) for name, shape in zip(POSITIONS, LAYERS)])

    # The sentence around code_rules() in LLMatic prompts, for this space ({snippets}: one line per
    # rule).  agents/mutator.py still wraps every space's rules in NB201's sentence.
    CODE_RULES_TEMPLATE: ClassVar[str] = (
        "Rules for this network: each of layer1 to layer8 is exactly one of these modules, with the channels "
        "and stride the layer has above:\n{snippets}\nKeep the class Net, its stem, head and classifier, and "
        "the names layer1 to layer8.")

    def code_rules(self) -> dict[str, str]:
        return {"identity": "Identity(c_in, c_out, stride=1)  # no operation; at stride 2: 1x1 conv + batch norm",
                "mb3_k3": "MBConv(c_in, c_out, stride=1, expansion=3, kernel=3)",
                "mb6_k5": "MBConv(c_in, c_out, stride=1, expansion=6, kernel=5)"}

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, MBConv blocks): LLMatic's FLOPs and depth (seed 001, section 5)."""
        return self.cost(arch, dataset)[0], float(sum(op != "identity" for op in self._parse(arch)))

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        return [self.flops_range(), (0.0, float(len(LAYERS)))]


def _layer_op(name: str, expr: ast.expr | None, env: dict[str, int], shape: tuple[int, int, int]) -> str:
    c_in, c_out, stride = shape
    if expr is None:
        if stride == 1:
            return "identity"
        raise ArchCodeError(f"{name} is missing; it maps {c_in} to {c_out} channels at stride 2, so it cannot be left "
                            f"out (Identity({c_in}, {c_out}, stride=2) is its cheapest choice)")
    kind = call_name(expr)
    if kind == "Identity":
        _check_shape(name, call_slots(expr, ("c_in", "c_out", "stride")), env, shape)
        return "identity"
    if kind in ("MBConv", "InvertedResidual"):
        slots = call_slots(expr, ("c_in", "c_out", "stride", "expansion", "kernel"))
        _check_shape(name, slots, env, shape)
        block = (integer(slots.get("expansion"), env), integer(slots.get("kernel"), env))
        for op, params in BLOCKS.items():
            if block == params:
                return op
        raise ArchCodeError(f"{name} is an MBConv with expansion {block[0]} and kernel {block[1]}; this space has "
                            "only expansion 3 with kernel 3 and expansion 6 with kernel 5")
    raise ArchCodeError(f"{name} is `{ast.unparse(expr)[:60]}`, which is not Identity, MBConv(expansion=3, kernel=3) "
                        "or MBConv(expansion=6, kernel=5)")


def _check_shape(name: str, slots: dict[str, ast.expr], env: dict[str, int], shape: tuple[int, int, int]) -> None:
    """The channels and stride, where the code states them as numbers, must be the skeleton's."""
    for slot, want in zip(("c_in", "c_out", "stride"), shape):
        got = integer(slots.get(slot), env)
        if got is not None and got != want:
            raise ArchCodeError(f"{name} must map {shape[0]} to {shape[1]} channels with stride {shape[2]} (the "
                                f"skeleton is fixed), but the code gives {slot} {got}")


# The problem encoding (GENIUS section 3), in our words; the skeleton as the benchmark builds it.
PROBLEM = """\
You are choosing the blocks of a convolutional network for CIFAR-10 (32x32 colour images, 10 classes) \
in the NAS-Bench-Macro space. The network is fixed except for eight layers, layer1 to layer8:
- stem: 3x3 convolution from 3 to 32 channels, batch norm, ReLU (32x32 pixels);
- stage 1: layer1 (32 -> 64 channels, stride 2, to 16x16), layer2 (64 -> 64);
- stage 2: layer3 (64 -> 128 channels, stride 2, to 8x8), layer4 and layer5 (128 -> 128);
- stage 3: layer6 (128 -> 256 channels, stride 2, to 4x4), layer7 and layer8 (256 -> 256);
- head: 1x1 convolution to 1280 channels, batch norm, ReLU, global average pooling, linear layer to 10 classes.
Each layer takes exactly one operation from: identity, mb3_k3, mb6_k5.
'identity' adds nothing to the network (in layer1, layer3 and layer6, which change the channels and the \
resolution, it is a 1x1 convolution with stride 2 and batch norm). 'mb3_k3' is a MobileNetV2 inverted \
residual block: a 1x1 convolution widening the channels 3 times, a 3x3 depthwise convolution, a 1x1 \
convolution back to the output channels, with batch norm and ReLU between, and a skip connection when \
the layer keeps the shape. 'mb6_k5' is the same block widening 6 times with a 5x5 depthwise convolution; \
it costs more computation.
Every network was trained from scratch three times; its score is the mean CIFAR-10 accuracy.
Goal: the highest accuracy."""
