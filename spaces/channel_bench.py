"""Channel-Bench-Macro (Su et al., BCNet 2021; GENIUS, seed 002, section 4.1 and appendix A.2):
the channel widths of a fixed ResNet and a fixed MobileNet on CIFAR-10, 16,384 networks each,
every one trained from scratch three times.

Seven widths are searched; each is 25%, 50%, 75% or 100% of that width's largest value (the
table's digits 1-4: width = digit / 4 x largest).  The skeletons and the largest widths are the
benchmark's own (xiusu/Channel-Bench-Macro, model.py; GENIUS's prompts quote the same widths):
a stride-2 3x3 stem takes the 32x32 input to 16x16, a stride-2 block takes it to 8x8.  Built
that way, `network` counts exactly the table's FLOPs and params.  As on NAS-Bench-Macro, the
score is the mean test accuracy of the three runs (there is no validation split; GENIUS reads
the same number).  No two width strings build the same network, so the canonical form is the
string itself.

A variant is declared by its positions (name -> largest width) and its modules (`Module`),
from which the description, the code, its reading and the PyTorch network all follow.
"""

from __future__ import annotations

import ast
from typing import ClassVar, NamedTuple

from spaces.macro import (ArchCodeError, TableSpace, call_name, call_slots, column_range, integer, net_source,
                                    read_init, torch_blocks)
from spaces.positional import positions_schema

__all__ = ["ChannelResNetSpace", "ChannelMobileNetSpace", "WIDTHS"]

WIDTHS = ("25%", "50%", "75%", "100%")


class Module(NamedTuple):
    """One module of the skeleton: attribute name, kind, and per argument slot either a width
    position (str) or a fixed number (int)."""

    name: str
    kind: str
    args: dict[str, str | int]


# Positional argument order per kind, as the code writes it; code_rules quotes these.
KINDS = {"ConvBNReLU": ("c_in", "c_out", "kernel", "stride"),
         "ResBlock": ("c_in", "c_inner", "c_out", "stride"),
         "InvertedResidual": ("c_in", "c_inner", "c_out", "stride"),
         "Linear": ("c_in", "c_out")}
DEFAULTS = {"stride": 1}  # the signatures' default, when the code leaves it out


class ChannelBenchSpace(TableSpace):
    """The verbs both variants share; a variant sets LARGEST and MODULES (and name, TABLE, texts)."""

    DIGITS: ClassVar[str] = "1234"
    OPS: ClassVar[tuple[str, ...]] = WIDTHS
    LARGEST: ClassVar[dict[str, int]]
    MODULES: ClassVar[tuple[Module, ...]]
    PROBLEM: ClassVar[str]
    NET_DOC: ClassVar[str]
    evaluator_name: ClassVar[str] = "query_channel_bench"
    size: ClassVar[int] = len(WIDTHS) ** 7
    descriptor_names: ClassVar[tuple[str, str]] = ("MFLOPs", "M params")
    edits: ClassVar[tuple[str, ...]] = (
        "Improve the network above by widening one width to the next larger value in its comment.",
        "Improve the network above by narrowing one width to the next smaller value in its comment.",
        "Improve the network above by setting one width to the largest value in its comment.",
        "Improve the network above by widening the inner width of one block.",
        "Improve the network above by widening the width that one stage keeps between its blocks.",
        "Improve the network above by narrowing one width and widening another by the same step.",
        "Improve the network above by widening the layers after the downsampling block.",
        "Improve the network above by making it cheaper: narrow the width that costs the most computation.",
    )

    def __init_subclass__(cls, **kwargs):
        """A variant's positions and proposal schema follow from its LARGEST widths."""
        super().__init_subclass__(**kwargs)
        cls.POSITIONS = {position: WIDTHS for position in cls.LARGEST}
        cls.proposal_schema = positions_schema(f"{cls.__name__.removesuffix('Space')}Widths",
                                               tuple(cls.POSITIONS.items()))

    def channels(self, arch: str) -> dict[str, int]:
        """Position -> number of channels: digit / 4 x the largest (rounded as the benchmark does)."""
        return {p: round(int(d) * self.LARGEST[p] / 4) for p, d in zip(self.POSITIONS, self.validate(arch))}

    def choices(self, position: str) -> tuple[int, ...]:
        return tuple(round(d * self.LARGEST[position] / 4) for d in range(1, len(WIDTHS) + 1))

    def describe(self, dataset: str) -> str:
        self.resolve_dataset(dataset)
        options = "\n".join(f"- {p}: {', '.join(map(str, self.choices(p)))} channels"
                            for p in self.POSITIONS)
        return self.PROBLEM.format(options=options)

    def network(self, arch: str, dataset: str):
        """The benchmark's network for these widths (module by module from MODULES)."""
        self.resolve_dataset(dataset)
        widths = self.channels(arch)

        def build():
            t = torch_blocks()
            layers = []
            for module in self.MODULES:
                a = {slot: widths[v] if isinstance(v, str) else v for slot, v in module.args.items()}
                stride = a.get("stride", 1)
                if module.kind == "ConvBNReLU":
                    layers += t.conv_bn(a["c_in"], a["c_out"], a["kernel"], stride)
                elif module.kind == "ResBlock":
                    layers.append(t.residual_block(a["c_in"], a["c_inner"], a["c_out"], stride))
                elif module.kind == "InvertedResidual":
                    layers.append(t.inverted_residual(a["c_in"], a["c_inner"], a["c_out"], 3, stride))
                else:
                    layers += t.head(a["c_in"], a["c_out"])
            return t.nn.Sequential(*layers)

        return build, (3, 32, 32), 10

    # --- LLMatic: the widths as code, read back with ast ---

    def to_code(self, arch: str) -> str:
        widths = self.channels(arch)
        init = [f"{p} = {widths[p]}  # {', '.join(map(str, self.choices(p)))}" for p in self.POSITIONS] + [""]
        init += [f"self.{m.name} = {_call(m)}" for m in self.MODULES if m.kind != "Linear"]
        classifier = next(m for m in self.MODULES if m.kind == "Linear")
        return net_source(self.NET_DOC, init, [m.name for m in self.MODULES if m.kind != "Linear"],
                          str(classifier.args["c_in"]))

    def from_code(self, text: str) -> str:
        """The seven widths from the modules' arguments (numbers, or variables set to numbers in
        __init__); every module that repeats a width must agree with the others."""
        names = {m.name for m in self.MODULES}
        attrs, env = read_init(text, lambda found: len(found & names))
        widths: dict[str, int] = {}
        for module in self.MODULES:
            _read_module(module, attrs.get(module.name), env, widths)
        ops = []
        for position in self.POSITIONS:
            allowed = self.choices(position)
            if widths[position] not in allowed:
                raise ArchCodeError(f"{position} is {widths[position]} channels; it must be one of "
                                    f"{', '.join(map(str, allowed))}")
            ops.append(WIDTHS[allowed.index(widths[position])])
        return self._format(ops)

    # The rules quoted in LLMatic prompts ({snippets}: one line per module kind).
    CODE_RULES_TEMPLATE: ClassVar[str] = (
        "Rules for this network: only the seven width variables at the top of __init__ change, each to one of "
        "the values in its comment; the modules stay as they are:\n{snippets}\nKeep the class Net and its "
        "module names.")

    def code_rules(self) -> str:
        return self.CODE_RULES_TEMPLATE.format(snippets="\n".join(f"- {k}: {v}" for k, v in self.snippets().items()))

    def snippets(self) -> dict[str, str]:
        """The modules of the code and what a width may be (quoted in LLMatic prompts)."""
        rules = {kind: SNIPPETS[kind] for kind in dict.fromkeys(m.kind for m in self.MODULES) if kind != "Linear"}
        rules["widths"] = "each width variable takes one of the four values in its comment; nothing else changes"
        return rules

    def descriptors(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, M params).  Depth is fixed, so LLMatic's width-to-depth ratio would only
        restate the width; params separate late wide layers (many weights, at 8x8) from early
        ones (much computation, at 16x16) of the same FLOPs."""
        return self.cost(arch, dataset)

    def descriptor_ranges(self, dataset: str) -> list[tuple[float, float]]:
        return [self.flops_range(), column_range(self.TABLE, "params_m")]


SNIPPETS = {
    "ConvBNReLU": "ConvBNReLU(c_in, c_out, kernel, stride=1)  # conv, batch norm, ReLU",
    "ResBlock": "ResBlock(c_in, c_inner, c_out, stride=1)  # 3x3 conv c_in->c_inner, 3x3 conv c_inner->c_out, "
                "plus the input when stride is 1, ReLU",
    "InvertedResidual": "InvertedResidual(c_in, c_inner, c_out, stride=1)  # 1x1 conv c_in->c_inner, 3x3 depthwise, "
                        "1x1 conv c_inner->c_out, plus the input when the shape is kept",
}


def _call(module: Module) -> str:
    """A module's constructor call: widths and channels positionally, kernel and stride by name."""
    args = module.args
    positional = ", ".join(str(args[slot]) for slot in KINDS[module.kind] if slot in args and slot not in
                           ("kernel", "stride"))
    named = "".join(f", {slot}={args[slot]}" for slot in ("kernel", "stride") if slot in args)
    return f"{module.kind}({positional}{named})"


def _read_module(module: Module, expr: ast.expr | None, env: dict[str, int], widths: dict[str, int]) -> None:
    """Check one module of the code against the skeleton and record the widths it states."""
    where = f"self.{module.name}"
    if expr is None:
        raise ArchCodeError(f"{where} is missing; the network's modules are fixed, only their widths change")
    kind = call_name(expr)
    if kind != module.kind:
        raise ArchCodeError(f"{where} must be a {module.kind}, not `{ast.unparse(expr)[:60]}`: only widths change")
    slots = call_slots(expr, KINDS[kind])
    for slot, want in module.args.items():
        value = integer(slots[slot], env) if slot in slots else DEFAULTS.get(slot)
        if value is None:
            raise ArchCodeError(f"the {slot} of {where} is not given as a whole number")
        if isinstance(want, int):
            if value != want:
                raise ArchCodeError(f"{where} must have {slot} {want} (the skeleton is fixed), not {value}")
        elif widths.setdefault(want, value) != value:
            raise ArchCodeError(f"{where} gives {want} as {value} channels but an earlier module gives "
                                f"{widths[want]}; a width must be the same everywhere it is used")


# --- the two variants -------------------------------------------------------------------------------


class ChannelResNetSpace(ChannelBenchSpace):
    """Channel-Bench-Macro, ResNet skeleton (five basic blocks)."""

    name: ClassVar[str] = "channel-resnet"
    TABLE: ClassVar[str] = "channel_bench_macro_resnet_cifar10.csv.gz"
    LARGEST: ClassVar[dict[str, int]] = {"stage1_width": 256, "block1_inner": 256, "block2_inner": 256,
                                         "block3_inner": 512, "stage2_width": 512, "block4_inner": 512,
                                         "block5_inner": 512}
    MODULES: ClassVar[tuple[Module, ...]] = (
        Module("stem", "ConvBNReLU", {"c_in": 3, "c_out": "stage1_width", "kernel": 3, "stride": 2}),
        Module("block1", "ResBlock", {"c_in": "stage1_width", "c_inner": "block1_inner", "c_out": "stage1_width"}),
        Module("block2", "ResBlock", {"c_in": "stage1_width", "c_inner": "block2_inner", "c_out": "stage1_width"}),
        Module("block3", "ResBlock", {"c_in": "stage1_width", "c_inner": "block3_inner", "c_out": "stage2_width",
                                      "stride": 2}),
        Module("block4", "ResBlock", {"c_in": "stage2_width", "c_inner": "block4_inner", "c_out": "stage2_width"}),
        Module("block5", "ResBlock", {"c_in": "stage2_width", "c_inner": "block5_inner", "c_out": "stage2_width"}),
        Module("classifier", "Linear", {"c_in": "stage2_width", "c_out": 10}),
    )
    NET_DOC: ClassVar[str] = "Channel-Bench-Macro ResNet for CIFAR-10; the seven widths at the top are searched."
    PROBLEM: ClassVar[str] = """\
You are choosing the channel widths of a ResNet for CIFAR-10 (32x32 colour images, 10 classes) in the \
Channel-Bench-Macro space. The layers are fixed; seven widths are searched, and each is 25%, 50%, 75% or \
100% of its largest value:
- stage1_width: output channels of the stem (a 3x3 convolution with stride 2, 32x32 -> 16x16 pixels), \
kept through residual blocks 1 and 2;
- block1_inner, block2_inner: the channels between the two 3x3 convolutions of residual blocks 1 and 2;
- block3_inner: the inner channels of block 3, which halves the resolution to 8x8 (stride 2) and has no \
skip connection;
- stage2_width: output channels of block 3, kept through residual blocks 4 and 5 and fed to the classifier;
- block4_inner, block5_inner: the inner channels of residual blocks 4 and 5.
Every block is a 3x3 convolution (input -> inner channels), batch norm, ReLU, a 3x3 convolution (inner -> \
output channels), batch norm, plus the block's input (except block 3), then ReLU. After block 5: global \
average pooling and a linear layer to 10 classes.
Channels for 25%, 50%, 75%, 100% of each width:
{options}
Every network was trained from scratch three times; its score is the mean CIFAR-10 accuracy.
Goal: the highest accuracy."""


class ChannelMobileNetSpace(ChannelBenchSpace):
    """Channel-Bench-Macro, MobileNetV2 skeleton (four inverted residual blocks)."""

    name: ClassVar[str] = "channel-mobilenet"
    TABLE: ClassVar[str] = "channel_bench_macro_mobilenet_cifar10.csv.gz"
    LARGEST: ClassVar[dict[str, int]] = {"stage1_width": 128, "block1_hidden": 768, "block2_hidden": 768,
                                         "block3_hidden": 768, "stage2_width": 256, "block4_hidden": 1536,
                                         "head_width": 1024}
    MODULES: ClassVar[tuple[Module, ...]] = (
        Module("stem", "ConvBNReLU", {"c_in": 3, "c_out": "stage1_width", "kernel": 3, "stride": 2}),
        Module("block1", "InvertedResidual", {"c_in": "stage1_width", "c_inner": "block1_hidden",
                                              "c_out": "stage1_width"}),
        Module("block2", "InvertedResidual", {"c_in": "stage1_width", "c_inner": "block2_hidden",
                                              "c_out": "stage1_width"}),
        Module("block3", "InvertedResidual", {"c_in": "stage1_width", "c_inner": "block3_hidden",
                                              "c_out": "stage2_width", "stride": 2}),
        Module("block4", "InvertedResidual", {"c_in": "stage2_width", "c_inner": "block4_hidden",
                                              "c_out": "stage2_width"}),
        Module("head", "ConvBNReLU", {"c_in": "stage2_width", "c_out": "head_width", "kernel": 1, "stride": 1}),
        Module("classifier", "Linear", {"c_in": "head_width", "c_out": 10}),
    )
    NET_DOC: ClassVar[str] = "Channel-Bench-Macro MobileNet for CIFAR-10; the seven widths at the top are searched."
    PROBLEM: ClassVar[str] = """\
You are choosing the channel widths of a MobileNetV2-style network for CIFAR-10 (32x32 colour images, \
10 classes) in the Channel-Bench-Macro space. The layers are fixed; seven widths are searched, and each is \
25%, 50%, 75% or 100% of its largest value:
- stage1_width: output channels of the stem (a 3x3 convolution with stride 2, 32x32 -> 16x16 pixels), \
kept through blocks 1 and 2;
- block1_hidden, block2_hidden, block3_hidden: the expanded (hidden) channels inside blocks 1, 2 and 3; \
block 3 halves the resolution to 8x8 (stride 2) and has no skip connection;
- stage2_width: output channels of block 3, kept through block 4;
- block4_hidden: the hidden channels inside block 4;
- head_width: output channels of the 1x1 convolution after block 4, fed to the classifier.
Every block is an inverted residual: a 1x1 convolution (input -> hidden channels), a 3x3 depthwise \
convolution, a 1x1 convolution (hidden -> output channels), with batch norm and ReLU between, plus the \
block's input when it keeps the shape. After the head: global average pooling and a linear layer to 10 classes.
Channels for 25%, 50%, 75%, 100% of each width:
{options}
Every network was trained from scratch three times; its score is the mean CIFAR-10 accuracy.
Goal: the highest accuracy."""
