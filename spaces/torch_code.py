"""The PyTorch code space (LLMatic, seed 001, sections 3-4): an architecture IS the source
of an `nn.Module` subclass for 3x32x32 inputs and 10 classes, trained for real.

Before anything runs, `validate` reads the code with `ast` only: it must parse, import
nothing but torch, torch.nn, torch.nn.functional and math, use no forbidden name
(`eval`, `exec`, `open`, `__import__`, `getattr`, ...) and no dunder attribute (the
`().__class__.__subclasses__()` escapes), and define an nn.Module subclass; the reason
for a refusal is one sentence the Critic relays to the Designer.  What passes is
trained in a sandboxed child process (training/: sandbox, jobs, executors).

The canonical form is the `ast.dump` of the code without docstrings (comments never
reach the tree), hashed: re-formatted or re-commented duplicates merge.  LLMatic's
network-archive descriptors are FLOPs and the width-to-depth ratio, within the paper's
bounds (section 4: 200 MFLOPs to 5 GFLOPs, ratio 0-200), configurable in
`training.flops_bounds_m` / `training.width_depth_bounds`.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from concurrent.futures import Future
from dataclasses import dataclass
from functools import wraps
from typing import ClassVar

from pydantic import BaseModel, Field

from errors import UserError
from spaces import codeblock
from spaces.base import Evaluation, FailureKind, FinalReport
from spaces.trained import TrainedSpace

ALLOWED_IMPORTS = ("torch", "torch.nn", "torch.nn.functional", "math", "__future__")
FORBIDDEN_NAMES = frozenset({
    "__import__", "eval", "exec", "compile", "open", "input", "breakpoint", "globals", "locals", "vars",
    "getattr", "setattr", "delattr", "exit", "quit", "help", "memoryview", "__builtins__", "__loader__",
    "__spec__", "dir", "type"})
# torch entry points that load native code, pickles or files, or spawn compilers; and the
# standard modules torch itself imported, reachable as attributes (`torch.os.system`).
FORBIDDEN_ATTRIBUTES = frozenset({"hub", "load", "save", "ops", "_C", "classes", "cpp_extension", "compile",
                                  "from_file", "load_library", "system", "popen", "os", "sys", "subprocess",
                                  "builtins", "importlib", "ctypes", "socket", "pickle", "shutil", "io",
                                  "pathlib", "tempfile", "multiprocessing",
                                  # the interpreter's frames: from a generator or traceback to the trainer's
                                  # locals and every module's globals (tests/training/hostile/cheat_frames.py)
                                  "gi_frame", "gi_code", "cr_frame", "ag_frame", "tb_frame", "tb_next", "f_back",
                                  "f_globals", "f_locals", "f_builtins", "f_code",
                                  # standard modules torch imported, under the names torch's modules give them
                                  # (torch._guards.threading, torch.accelerator.graphs.gc, ...)
                                  "threading", "_thread", "signal", "gc", "inspect", "atexit", "mp",
                                  "python_multiprocessing", "reduction", "reducer", "tarfile", "zipfile", "glob",
                                  "linecache", "platform", "uuid",
                                  # torch and numpy APIs that write files, connect or start processes
                                  "serialization", "package", "distributed", "DataLoader", "tofile", "dump"})
# The module names the sandbox pre-binds: their attributes (torch's classes and functions) may be
# used, never replaced (tests/training/hostile/patch_training.py).
MODULE_NAMES = frozenset({"torch", "nn", "F", "math"})
ALLOWED_DUNDERS = frozenset({"__init__"})

# LLMatic's mutation instructions for PyTorch code (seed 001, section 3 and appendix A), in our
# own words.  The index is the prompt id the prompt archive uses as its first descriptor.
EDITS = (
    "Add a layer to improve the network above.",
    "Remove a layer to improve the network above.",
    "Improve the network above.",
    "Improve the network above by making it much smaller.",
    "Improve the network above by making it much larger.",
    "Add a fully connected layer to improve the network above.",
    "Add a convolutional layer to improve the network above.",
    "Add a pooling layer to improve the network above.",
    "Add a residual connection to improve the network above.",
    "Add several residual connections to improve the network above.",
    "Add a dropout layer to improve the network above.",
    "Add a normalisation layer to improve the network above.",
    "Add a recurrent layer to improve the network above.",
)

# Free-form networks: the constraints the sandbox and the trainer enforce, stated up front in every
# LLMatic prompt so that an offspring is not wasted on a refused import or a wrong output shape.
# The last sentence is the one torch fact small models trip on: 2 of Qwen2.5-Coder-0.5B's 10 answers
# to "add a recurrent layer" passed the GRU's (output, state) pair on (bench/llmatic_parse_rate.py).
CODE_RULES = """\
Rules: one class `Net(nn.Module)` whose constructor takes no arguments; input a batch of 3x{side}x{side} \
tensors, output {classes} class scores; import only torch, torch.nn, torch.nn.functional and math; no files. \
nn.LSTM, nn.GRU and nn.RNN return a pair: `x, _ = self.rnn(x)`."""

# The form of a code answer, for models that take a grammar (the embedded ones): the imports the
# sandbox allows, one class Net(nn.Module) whose __init__ only assigns torch.nn layers and whose
# forward assigns names and returns (comments and blank lines allowed: Qwen writes them).
# SmolLM2-135M under the plain one-fenced-block grammar wrote no class, no forward or refused
# imports in 5 of 10 answers (bench/llmatic_parse_rate.py); under a grammar of that form only,
# none, but it then failed on how it called torch: `F.max_pool2d(x)` without a kernel size (4 of
# 10), an unbalanced parenthesis.  So the expressions are torch's calls with the arguments they
# require and balanced parentheses; every design choice (layers, widths, kernels, order,
# activations, poolings, skips) stays the model's.  (llama.cpp reads a rule over several lines
# only inside parentheses; a grammar it cannot parse crashes the process, hence the slow test.)
NET_GBNF = r"""root ::= head layer+ "\n    def forward(self, x):\n" step+ "        return " expr "\n```"
head ::= ( "```python\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
           "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n" )
layer ::= ( "        self." name " = " module | note ) "\n"
module ::= "nn." [A-Z] [A-Za-z0-9]* "(" ( arg ( ", " arg )* )? ")"
arg ::= ( name "=" )? ( module | number | "True" | "False" | "(" number ", " number ")" )
number ::= "-"? [0-9]+ ( "." [0-9]+ )? ( " " [*/+-] " " [0-9]+ )*
step ::= ( "        " name ( ", " name )? " = " expr | note ) "\n"
note ::= "        #" [^\n`]* | ""
name ::= [a-z_] [a-z0-9_]*
expr ::= term ( " + " term )*
term ::= ( name | "self." name "(" expr ")" | "F." act "(" expr ")" | "F." pool "(" expr ", " number ")"
         | "F.dropout(" expr ( ", " name "=" number )? ")" | "F." soft "(" expr ", dim=1)"
         | "torch.flatten(" expr ", 1)" | "torch.cat([" expr ( ", " expr )* "], 1)"
         | name ".view(" name ".size(0), -1)" )
act ::= "relu" | "gelu" | "silu" | "elu" | "leaky_relu" | "sigmoid" | "tanh"
pool ::= "max_pool2d" | "avg_pool2d" | "adaptive_avg_pool2d" | "adaptive_max_pool2d"
soft ::= "softmax" | "log_softmax"
"""

# LLMatic seed network (section 4 and appendix A): a 1x1 convolution from 3 channels to 1,
# flattened to 1,024 features, a linear layer to the 10 classes; ReLU everywhere, as printed.
SEED_TEMPLATE = '''import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 1, 1)
        self.fc1 = nn.Linear({features}, {classes})

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return x
'''


def seed_network(side: int = 32, classes: int = 10) -> str:
    """LLMatic's seed network for side x side inputs and `classes` classes (the paper's: 32, 10)."""
    return SEED_TEMPLATE.format(features=side * side, classes=classes)


SEED_NETWORK = seed_network()

ACTIVATIONS = ("relu", "gelu", "silu", "elu")
MODULE_ACTIVATIONS = ("ReLU", "GELU", "SiLU", "ELU")
KERNELS = (1, 3, 5)
VOCABULARY = ("Conv2d", "Linear", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Dropout",
              "Sequential", "LSTM", "GRU", "relu", "gelu", "silu", "elu", "ReLU", "GELU", "SiLU", "ELU", "cat", "+")


# CPython 3.11's ast module keeps its recursion-depth counter in global state: ast.parse in two
# threads at once (the search's event loop and an executor thread vetting code) raised
# "SystemError: AST constructor recursion depth mismatch" here.  Every ast use below takes this lock.
_AST_LOCK = codeblock.AST_LOCK


def _serialised(function):
    @wraps(function)
    def locked(*args, **kwargs):
        with _AST_LOCK:
            return function(*args, **kwargs)
    return locked


class CodeError(UserError):
    """Code the sandbox will not run, with the evaluation's failure kind."""

    def __init__(self, kind: FailureKind, reason: str):
        super().__init__(reason)
        self.kind = kind


class CodeProposal(BaseModel):
    """What the GENIUS designer answers in this space."""

    code: str = Field(description="complete Python source of an nn.Module subclass named Net; input "
                                  "(batch, 3, side, side), output (batch, classes), as the problem states")


def extract(text: str) -> str:
    """The code itself: the first fenced block, an unclosed one (cut by max_tokens), else the text;
    an answer cut mid-line is read as far as it parses (spaces/codeblock.py)."""
    try:
        return codeblock.parse(text)[1].strip() + "\n"
    except SyntaxError:
        return codeblock.extract(text)


@_serialised
def check(code: str) -> ast.Module:
    """Parse and vet the code (never executes it); raises CodeError with the reason."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise CodeError("syntax", f"the code does not parse: {err.msg} (line {err.lineno})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _allowed_import(alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            _allowed_import(module)
            for alias in node.names:
                if alias.name == "*":
                    raise CodeError("import_refused", f"`from {module} import *` is not allowed; import names")
                if module == "torch" and f"torch.{alias.name}" not in ALLOWED_IMPORTS:
                    raise CodeError("import_refused", f"`from torch import {alias.name}` is not allowed; "
                                                      f"only {', '.join(ALLOWED_IMPORTS[:4])} may be imported")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise CodeError("refused", f"the code uses `{node.id}`, which the sandbox does not allow")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
                raise CodeError("refused", f"the code reads the attribute `{node.attr}`, which is not allowed")
            if node.attr in FORBIDDEN_ATTRIBUTES:
                raise CodeError("refused", f"the code uses `.{node.attr}`, which can load files or native code")
            if node.attr.startswith("_") and not _own_attribute(node):
                raise CodeError("refused", f"the code reads the private attribute `.{node.attr}` of something "
                                           "other than self; use public torch APIs")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            for target in node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]:
                if isinstance(target, ast.Attribute) and _root(target) in MODULE_NAMES:
                    raise CodeError("refused", f"the code replaces `{ast.unparse(target)}`; torch's own classes "
                                               "and functions may not be changed")
    if not any(isinstance(node, ast.ClassDef) and any(_base_name(b) == "Module" for b in node.bases)
               for node in tree.body):
        raise CodeError("build_error", "the code defines no class that inherits from nn.Module")
    return tree


def _own_attribute(node: ast.Attribute) -> bool:
    """`self._x`, `cls._x` or `super()._x`: a class's own private attribute."""
    value = node.value
    return (isinstance(value, ast.Name) and value.id in ("self", "cls")) or \
        (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super")


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain starts from (`nn` in `nn.Linear.forward`)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _allowed_import(module: str) -> None:
    if module not in ALLOWED_IMPORTS:
        raise CodeError("import_refused", f"importing `{module}` is not allowed; only "
                                          f"{', '.join(ALLOWED_IMPORTS[:4])} may be imported")


def _base_name(base: ast.expr) -> str | None:
    return base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else None


@_serialised
def canonical_form(code: str) -> str:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return "code-" + hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def vet(arch: str) -> tuple[str, str]:
    """(code, canonical form) of text the sandbox may run; raises CodeError with the reason."""
    code = extract(arch)
    check(code)
    return code, canonical_form(code)


class TorchCodeSpace(TrainedSpace):
    """PyTorch source code, trained in the sandbox (the LLMatic CIFAR-10 setting)."""

    name: ClassVar[str] = "torch-code"
    datasets: ClassVar[tuple[str, ...]] = ("cifar10", "mnist", "digits", "custom")
    aliases: ClassVar[dict[str, str]] = {"cifar-10": "cifar10", "CIFAR-10": "cifar10", "CIFAR10": "cifar10"}
    proposal_schema: ClassVar[type[BaseModel]] = CodeProposal
    evaluator_name: ClassVar[str] = "train_on_gpu"
    edits: ClassVar[tuple[str, ...]] = EDITS
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "width/depth")
    code_grammar: ClassVar[str | None] = NET_GBNF
    RECIPE: ClassVar[dict] = {"steps": 0, "schedule": "constant", "image_size": 32}  # LLMatic: epochs, 32 x 32
    cost_reference: ClassVar[str] = "one forward pass in the sandbox at the run's input (multiply-accumulates)"

    def io(self) -> tuple[int, int]:
        """(image side, classes) the networks are written for: the run's data (custom data's classes
        are read from its cache), else LLMatic's 32 x 32 and 10 classes."""
        classes = self.data_info(self.dataset)["classes"] if self.dataset == "custom" else 10
        return self.training.image_size, classes

    def describe(self, dataset: str) -> str:
        side, classes = self.io()
        return PROBLEM.format(dataset=dataset, allowed=", ".join(ALLOWED_IMPORTS[:4]), seed=seed_network(side, classes),
                              epochs=self.training.epochs, recipe=recipe_text(self.training), side=side,
                              classes=classes)

    def validate(self, arch: str) -> str:
        code = extract(arch)
        check(code)
        return code

    def from_proposal(self, proposal: BaseModel) -> str:
        code = proposal.code if isinstance(proposal, CodeProposal) else CodeProposal.model_validate(proposal).code
        try:
            return self.from_code(code)
        except CodeError:  # the Critic refuses it, with the reason, in the run's journal
            return extract(code)

    def to_proposal(self, arch: str) -> dict:
        return {"code": arch}

    def canonical(self, arch: str) -> str:
        try:
            return canonical_form(extract(arch))
        except SyntaxError:  # unparseable text is its own class
            return "text-" + hashlib.sha256(arch.encode()).hexdigest()[:16]

    # --- sampling and local edits without an LLM (initial networks, fallbacks) ---

    def sample_random(self, rng: random.Random) -> str:
        side, classes = self.io()
        return random_network(rng, classes, side)

    def mutate(self, arch: str, rng: random.Random) -> str:
        """One shape-preserving edit (kernel size of a 'same' convolution, activation,
        dropout rate); a random network when the code offers no such site."""
        options = self.neighbours(arch)
        return rng.choice(options) if options else self.sample_random(rng)

    @_serialised
    def neighbours(self, arch: str) -> list[str]:
        try:
            tree = ast.parse(extract(arch))
        except SyntaxError:
            return []
        return [ast.unparse(edited) + "\n" for edited in _edits(tree)]

    # --- evaluation: training in the sandbox ---

    def submit(self, arch: str, dataset: str, training=None) -> Future:
        """Start training `arch` (or reuse its saved report); a Future of the report dict.  Code
        that fails the static check is refused at once, without a child process."""
        from training import jobs

        dataset = self.resolve_dataset(dataset)
        try:
            code, canonical = vet(arch)
        except CodeError as err:
            done: Future = Future()
            done.set_result(jobs.refused(arch, dataset, err.kind, str(err)))
            return done
        return self.submit_code(code, canonical, dataset, training)

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        return Evaluation.model_validate(self.submit(arch, dataset).result())

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        """Test accuracy of the trained candidate (its saved report; trained now if missing)."""
        report = self.submit(arch, dataset).result()
        return FinalReport(arch=arch, val_acc=report["val_acc"] or 0.0, test_acc=report["test_acc"], rank=None,
                           of=None, flops_m=report["flops_m"], params_m=report["params_m"])

    def measure(self, arch: str, dataset: str) -> dict:
        """FLOPs, params, width and depth without training (a sandboxed forward pass)."""
        tiny = self.training.model_copy(update={"epochs": 1, "train_subset": 1, "eval_subset": 1})
        return self.submit(arch, dataset, tiny).result()

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        report = self.measure(arch, dataset)
        if report["failure"]:
            raise CodeError(report["failure"], report["detail"])
        return report["flops_m"], report["params_m"]

    # --- LLMatic: code representation and archive descriptors (seed 001, section 3) ---

    def to_code(self, arch: str) -> str:
        return arch

    def from_code(self, text: str) -> str:
        code = self.validate(text)
        return self.fit_head(code) if self.dataset is not None else code

    def fit_head(self, code: str) -> str:
        """`code` after a forward pass in the sandbox, with each layer that received another
        input width than it was written for given the width it received (fit_width).
        The measurement is the one the Critic reads next (jobs cache it), so a network that
        builds costs nothing more."""
        for _ in range(4):  # e.g. a BatchNorm, then a head of two Linear layers, one at a time
            report = self.measure(code, self.dataset)
            fitted = fit_width(code, report["detail"] or "") if report["failure"] == "shape_error" else None
            if fitted is None:
                return code
            code = fitted
        return code

    def code_rules(self) -> str:
        side, classes = self.io()
        return CODE_RULES.format(side=side, classes=classes)

    @_serialised
    def encode(self, arch: str) -> list[float]:
        """Counts of layer types and residual sums: for cosine similarity between networks."""
        try:
            tree = ast.parse(extract(arch))
        except SyntaxError:
            return [0.0] * len(VOCABULARY)
        names = [n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
                 if isinstance(n, (ast.Attribute, ast.Name))]
        adds = sum(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) for n in ast.walk(tree))
        return [float(adds if word == "+" else names.count(word)) for word in VOCABULARY]

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, width-to-depth ratio); measured in the sandbox when not trained yet."""
        report = self.measure(arch, dataset)
        return tuple(report["descriptors"]) if report["descriptors"] else (0.0, 0.0)

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        return [tuple(self.training.flops_bounds_m), tuple(self.training.width_depth_bounds)]


def recipe_text(training) -> str:
    """The optimiser as the designer's prompt states it (settings.TrainingSettings)."""
    if training.optimizer == "adam":
        return f"Adam (learning rate {training.lr:g}, batch size {training.batch_size})"
    return f"SGD (learning rate {training.lr:g}, momentum {training.momentum:g}, batch size {training.batch_size})"


def random_network(rng: random.Random, classes: int = 10, side: int = 32) -> str:
    """A random small conv net: 1-3 conv blocks (width, kernel, optional batch norm and
    2x2 max pooling), flatten, linear head; sizes computed so it always builds."""
    init, forward, channels = [], [], 3
    for i in range(1, rng.randint(1, 3) + 1):
        width, kernel = rng.choice((4, 8, 16, 32)), rng.choice(KERNELS)
        init.append(f"self.conv{i} = nn.Conv2d({channels}, {width}, {kernel}, padding={kernel // 2})")
        layer = f"self.conv{i}(x)"
        if rng.random() < 0.5:
            init.append(f"self.bn{i} = nn.BatchNorm2d({width})")
            layer = f"self.bn{i}({layer})"
        layer = f"F.{rng.choice(ACTIVATIONS)}({layer})"
        if side > 4 and rng.random() < 0.6:
            layer, side = f"F.max_pool2d({layer}, 2)", side // 2
        forward.append(f"x = {layer}")
        channels = width
    init.append(f"self.fc = nn.Linear({channels * side * side}, {classes})")
    body = "\n".join(f"        {line}" for line in init)
    steps = "\n".join(f"        {line}" for line in forward)
    return (f"import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
            f"class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n{body}\n\n"
            f"    def forward(self, x):\n{steps}\n        x = torch.flatten(x, 1)\n        return self.fc(x)\n")


# The most frequent failure of a small model's network (4 of Qwen2.5-Coder-0.5B's 7 shape errors
# and 3 of SmolLM2's 10 answers in bench/llmatic_parse_rate.py): a layer written for another input
# width than the layer before it produces: the first nn.Linear after the flatten (following the
# spatial size through convolutions and poolings is arithmetic a small model gets wrong), a
# BatchNorm or a Conv2d after a convolution whose width the model changed.  The input width is
# not a design choice (the layer before decides it) and the forward pass reports the true one in
# torch's message; writing it in keeps every design decision of the model (widths out, kernels,
# order, skips).
@dataclass(frozen=True)
class _Misfit:
    message: re.Pattern  # groups: got, written, and the out size (or None) identifying the layer
    layers: tuple[str, ...]
    argument: str  # the input width's keyword; it is also the first positional argument


_MISFITS = (
    _Misfit(re.compile(r"mat1 and mat2 shapes cannot be multiplied \(\d+x(?P<got>\d+) and "
                       r"(?P<want>\d+)x(?P<out>\d+)\)"), ("Linear",), "in_features"),
    _Misfit(re.compile(r"running_mean should contain (?P<got>\d+) elements not (?P<want>\d+)"),
            ("BatchNorm2d", "BatchNorm1d"), "num_features"),
    _Misfit(re.compile(r"weight of size \[(?P<out>\d+), \d+[^\]]*\], expected input\[[^\]]*\] to have "
                       r"(?P<want>\d+) channels, but got (?P<got>\d+) channels"), ("Conv2d",), "in_channels"),
)


_FITTED = "by the sandbox's forward pass"


@_serialised
def fit_width(code: str, detail: str) -> str | None:
    """`code` with the layer a forward pass failed on (`detail`: torch's message, _MISFITS)
    written for the input width it received, and a comment saying so.  None when `detail` is
    another error, or when not exactly one such layer with those constant sizes is in the code:
    with two the message does not say which one failed (fitting the first in source order once
    sent a network back and forth between two wrong fits)."""
    for misfit in _MISFITS:
        match = misfit.message.search(detail)
        if match is not None:
            break
    else:
        return None
    got, want = int(match["got"]), int(match["want"])
    out = int(match["out"]) if "out" in match.re.groupindex else None
    sites = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and _call_name(node) in misfit.layers:
            named = {k.arg: k.value for k in node.keywords}
            size_in = node.args[0] if node.args else named.get(misfit.argument)
            size_out = node.args[1] if len(node.args) > 1 else named.get("out_features", named.get("out_channels"))
            if size_in is not None and _constant(size_in) == want and (out is None or _constant(size_out) == out):
                sites.append(size_in)
    if len(sites) != 1:
        return None
    site = sites[0]
    if _FITTED in code.splitlines()[site.end_lineno - 1]:
        # Fitted once and failing again: the width is not what is wrong (a layer applied twice,
        # `self.fc(self.fc(x))`, sent one network between two fits until the loop's end).
        return None
    lines = code.encode().splitlines(keepends=True)  # ast offsets count UTF-8 bytes
    start = sum(map(len, lines[:site.lineno - 1])) + site.col_offset
    end = sum(map(len, lines[:site.end_lineno - 1])) + site.end_col_offset
    raw = code.encode()
    fitted = (raw[:start] + str(got).encode() + raw[end:]).decode().splitlines()
    row = site.end_lineno - 1
    fitted[row] += f"  # {misfit.argument} fitted to {got} {_FITTED} (written: {want})"
    try:
        ast.parse("\n".join(fitted))
    except SyntaxError:  # e.g. the line ends in a backslash continuation: leave the code as written
        return None
    return "\n".join(fitted) + "\n"


def _constant(expr) -> int | None:
    """The value of an integer expression of literals (`16 * 5 * 5`), else None."""
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    if isinstance(expr, ast.BinOp):
        left, right = _constant(expr.left), _constant(expr.right)
        operate = {ast.Mult: lambda a, b: a * b, ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                   ast.FloorDiv: lambda a, b: a // b if b else None}.get(type(expr.op))
        if left is not None and right is not None and operate is not None:
            return operate(left, right)
    return None


def _edits(tree: ast.Module):
    """Every single shape-preserving edit of the tree, each as a new tree."""
    sites = [n for n in ast.walk(tree) if isinstance(n, (ast.Call, ast.Attribute))]
    for index, node in enumerate(sites):
        for variant in _variants(node):
            copy = ast.parse(ast.unparse(tree))
            target = [n for n in ast.walk(copy) if isinstance(n, (ast.Call, ast.Attribute))][index]
            variant(target)
            yield copy


def _variants(node):
    """Edits applicable at one node, as functions that apply them to a copy of it."""
    if isinstance(node, ast.Attribute) and node.attr in ACTIVATIONS and isinstance(node.value, ast.Name):
        for other in ACTIVATIONS:
            if other != node.attr:
                yield lambda n, o=other: setattr(n, "attr", o)
    elif isinstance(node, ast.Call) and _call_name(node) in MODULE_ACTIVATIONS and not node.args:
        for other in MODULE_ACTIVATIONS:
            if other != _call_name(node):
                yield lambda n, o=other: setattr(n.func, "attr", o) if isinstance(n.func, ast.Attribute) \
                    else setattr(n.func, "id", o)
    elif isinstance(node, ast.Call) and _call_name(node) == "Conv2d":
        kernel, padding, stride = _conv_args(node)
        if kernel in KERNELS and padding == kernel // 2 and stride == 1:
            for other in KERNELS:
                if other != kernel:
                    yield lambda n, k=other: _set_conv(n, k)
    elif isinstance(node, ast.Call) and _call_name(node) == "Dropout":
        for p in (0.1, 0.25, 0.5):
            yield lambda n, p=p: setattr(n, "args", [ast.Constant(p)]) or setattr(n, "keywords", [])


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _conv_args(node: ast.Call) -> tuple:
    values = {k.arg: k.value for k in node.keywords}
    positional = dict(zip(("in", "out", "kernel_size", "stride", "padding"), node.args))
    get = lambda name, default: _int(values.get(name, positional.get(name)), default)  # noqa: E731
    return get("kernel_size", None), get("padding", 0), get("stride", 1)


def _int(expr, default):
    if expr is None:
        return default
    return expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, int) else None


def _set_conv(node: ast.Call, kernel: int) -> None:
    """Kernel `kernel` with 'same' padding; positional stride/padding go (stride 1 is the default)."""
    keywords = [k for k in node.keywords if k.arg not in ("kernel_size", "padding", "stride")]
    node.args = list(node.args[:2]) + [ast.Constant(kernel)]
    node.keywords = keywords + [ast.keyword("padding", ast.Constant(kernel // 2))]


PROBLEM = """\
You are designing a convolutional network in PyTorch for {dataset} images (input: a batch of \
3x{side}x{side} tensors; output: {classes} class scores). Write one class `Net(nn.Module)` whose constructor \
takes no arguments. You may import only {allowed}. Each network is trained for {epochs} epoch(s) \
with {recipe}. The starting point (LLMatic's seed network):
{seed}
Goal: the highest validation accuracy."""
