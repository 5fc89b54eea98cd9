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

What it shares with Channel-Bench-Macro (the table, the code readers, the PyTorch blocks) is in
spaces/macro.py.
"""

from __future__ import annotations

import ast
import re
from typing import ClassVar

from pydantic import BaseModel

from spaces.macro import (ArchCodeError, TableSpace, call_name, call_slots, integer, net_source, read_init,
                          torch_blocks)
from spaces.positional import positions_schema

__all__ = ["NASBenchMacroSpace"]


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

    # The rules quoted in LLMatic prompts ({snippets}: one line per operation).
    CODE_RULES_TEMPLATE: ClassVar[str] = (
        "Rules for this network: each of layer1 to layer8 is exactly one of these modules, with the channels "
        "and stride the layer has above:\n{snippets}\nKeep the class Net, its stem, head and classifier, and "
        "the names layer1 to layer8.")

    def code_rules(self) -> str:
        return self.CODE_RULES_TEMPLATE.format(snippets="\n".join(f"- {op}: {code}" for op, code in self.snippets().items()))

    def snippets(self) -> dict[str, str]:
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
