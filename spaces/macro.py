"""What the two macro benchmarks share (NAS-Bench-Macro, spaces/nas_bench_macro.py, and its
companion Channel-Bench-Macro, spaces/channel_bench.py, by the same authors): `TableSpace`, a
one-dataset table keyed by a digit string; the `ast` readers of their code representation
(generated code is never run); the PyTorch building blocks of their networks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Callable, ClassVar, Sequence


from errors import UserError
from spaces import codeblock
from spaces.base import Evaluation, FinalReport, LAPTDefaults, rank_in, table_rows
from spaces.positional import PositionalSpace

__all__ = ["TableSpace", "ArchCodeError", "read_init", "call_slots", "call_name", "integer", "net_source",
           "torch_blocks"]


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    acc: float  # mean_acc: mean CIFAR-10 test accuracy (%) of the three trainings
    flops_m: float
    params_m: float


@cache
def load(filename: str) -> dict[str, Row]:
    """arch -> row of one of the macro tables in data/ (loaded once)."""
    return {r["arch"]: Row(float(r["mean_acc"]), int(r["flops"]) / 1e6, int(r["params"]) / 1e6)
            for r in table_rows(filename)}


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
        rank = rank_in(accs, row.acc)
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
def read_init(text: str, wanted: Callable[[set[str]], int]) -> tuple[dict[str, ast.expr], dict[str, int]]:
    """The `self.NAME = ...` assignments of the __init__ of the class that `wanted` scores
    highest (the count of attribute names it expects: a model may define helper classes too),
    and the integer variables assigned there.  Raises ArchCodeError when nothing fits."""
    error = None
    for block in codeblock.candidates(text):
        try:
            with codeblock.AST_LOCK:
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

