"""GENIUS's ImageNet search space (seed 002, section 5, appendix B.1): a MobileNetV2 network of
thirty searchable layers in five stages, seven operations each, trained for real on the user's
data in the sandbox, under a FLOPs bound counted as GENIUS counted it.

An architecture is the list of its thirty operation ids, layers 2 to 31 in GENIUS's numbering
(`[1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, ...]`: 0 skip, 1-3 an inverted residual with a 3/5/7
kernel and expansion 4, 4-6 the same with expansion 6); the network, its FLOPs and its source
are in spaces/mobilenetv2_net.py.  Answers are read the way GENIUS's GPT-4 wrote them: the
whole list, or one line per stage (`Stage 1 (Layer 2 to Layer 7): [1, 0, 0, 0, 0, 0]`), with
prose around; a list of the wrong length or an id outside 0-6 is one clear line.

A skip after a stage's first layer is no operation, so within a stage only the order of the
blocks matters: the canonical form moves those skips to the end of their stage (GENIUS's own
network builder drops them the same way).  A stage's first layer is never moved: its skip is a
strided 1x1 convolution.

`cost` is GENIUS's reference (224 x 224, 1,000 classes, width 1), analytic and exact (no torch):
what the FLOPs bounds and the Critic's evidence mean.  The network trained is the same layout at
the run's image size and width multiplier (TrainingSettings; the CPU default: 32 px, width 0.5,
300 Adam steps with a cosine schedule, bench/training_signal.py).
"""

from __future__ import annotations

import json
import random
import re
from concurrent.futures import Future
from typing import Annotated, ClassVar, Literal, Sequence

from pydantic import BaseModel, Field

from errors import UserError
from spaces import mobilenetv2_net as net
from spaces.base import Evaluation, FinalReport
from spaces.positional import PositionalSpace
from spaces.trained import TrainedSpace

__all__ = ["MobileNetV2Space", "read_ids"]

# A position's operations are named by GENIUS's ids ("0" to "6"), so a layer list the designer reads
# or writes is GENIUS's own notation ([1, 0, 0, ...]) and short: 30 descriptive names (ir_k7_e6, ...)
# made a small model's answer of four architectures run past its token limit.
OPS = tuple(str(i) for i in range(len(net.OPS)))
IDS_HELP = ("0 skip, 1-3 inverted residual with kernel 3/5/7 and expansion 4, 4-6 kernel 3/5/7 and expansion 6")
POSITIONS = {f"layer{i}": OPS for i in range(2, 2 + net.LAYERS)}
STAGE_LINE = re.compile(r"stage\s*([1-5])\b[^\[\]\n]*?\[([^\[\]]*)\]", re.IGNORECASE)
BRACKETS = re.compile(r"\[([^\[\]]*)\]")
NUMBER = re.compile(r"-?\d+")

StageIds = Annotated[list[Literal[0, 1, 2, 3, 4, 5, 6]], Field(min_length=net.DEPTH, max_length=net.DEPTH)]


class StageAnswer(BaseModel):
    """The designer's answer, one list of six operation ids per stage (as GENIUS's GPT-4 wrote it)."""

    stage1: StageIds = Field(description="layers 2 to 7 (16 -> 24 channels)")
    stage2: StageIds = Field(description="layers 8 to 13 (24 -> 40 channels)")
    stage3: StageIds = Field(description="layers 14 to 19 (40 -> 80 channels)")
    stage4: StageIds = Field(description="layers 20 to 25 (80 -> 96 channels)")
    stage5: StageIds = Field(description="layers 26 to 31 (96 -> 192 channels)")


def read_ids(text: str) -> tuple[int, ...]:
    """The thirty operation ids in `text`: five `Stage k ...: [...]` lines (the first complete set),
    else a bracketed list of thirty (or five of six), else bare numbers; UserError otherwise."""
    ids = _stage_lines(text) or _bracketed(text) or _bare(text)
    if ids is None:
        raise UserError(f"no list of operation ids found in {_quote(text)}; an architecture is {net.LAYERS} ids "
                        f"({IDS_HELP}), e.g. {json.dumps([1, 0, 0, 0, 0, 0] * 5)}")
    if len(ids) != net.LAYERS:
        raise UserError(f"an architecture is {net.LAYERS} operation ids, {net.DEPTH} per stage (layers 2 to 31); "
                        f"this one has {len(ids)}")
    for index, value in enumerate(ids):
        if not 0 <= value < len(OPS):
            raise UserError(f"operation id {value} at layer {index + 2} (stage {index // net.DEPTH + 1}) is not one "
                            f"of 0-6 ({IDS_HELP})")
    return tuple(ids)


def _numbers(inner: str) -> list[int] | None:
    tokens = [t for t in re.split(r"[,\s]+", inner.strip()) if t]
    return [int(t) for t in tokens] if tokens and all(NUMBER.fullmatch(t) for t in tokens) else None


def _stage_lines(text: str) -> list[int] | None:
    found: dict[int, list[int]] = {}
    for match in STAGE_LINE.finditer(text):
        stage, ids = int(match[1]), _numbers(match[2])
        if ids is None:
            continue
        if stage == 1:
            found = {}
        found[stage] = ids
        if sorted(found) == [1, 2, 3, 4, 5]:
            for s, values in found.items():
                if len(values) != net.DEPTH:
                    first = 2 + (s - 1) * net.DEPTH
                    raise UserError(f"stage {s} has {len(values)} operation ids; each stage has {net.DEPTH} (layers "
                                    f"{first} to {first + net.DEPTH - 1})")
            return [i for s in range(1, 6) for i in found[s]]
    return None


def _bracketed(text: str) -> list[int] | None:
    lists = [ids for ids in (_numbers(m) for m in BRACKETS.findall(text)) if ids is not None]
    whole = [ids for ids in lists if len(ids) == net.LAYERS]
    if whole:
        return whole[0]
    for start in range(len(lists) - 4):
        if all(len(ids) == net.DEPTH for ids in lists[start:start + 5]):
            return [i for ids in lists[start:start + 5] for i in ids]
    return max(lists, key=len) if lists else None


def _bare(text: str) -> list[int] | None:
    return _numbers(text.replace("[", " ").replace("]", " "))


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:60] + ("..." if len(flat) > 60 else ""))


class MobileNetV2Space(TrainedSpace, PositionalSpace):
    """GENIUS's MobileNetV2 space: 7^30 networks, trained in the sandbox."""

    name: ClassVar[str] = "mobilenetv2"
    datasets: ClassVar[tuple[str, ...]] = ("mnist", "digits", "cifar10", "custom")
    aliases: ClassVar[dict[str, str]] = {"cifar-10": "cifar10", "CIFAR-10": "cifar10", "CIFAR10": "cifar10"}
    POSITIONS: ClassVar[dict[str, tuple[str, ...]]] = POSITIONS
    proposal_schema: ClassVar[type[BaseModel]] = StageAnswer
    evaluator_name: ClassVar[str] = "train_on_gpu"
    # GENIUS states no REA setting for this space: NB201's (LAPT Table 1), so that at a budget of 10
    # half the evaluations are children of tournament winners rather than the initial random population.
    rea: ClassVar[tuple[int, int]] = (5, 2)
    cost_reference: ClassVar[str] = "GENIUS's reference: 224x224 input, 1,000 classes, width 1 (thop's count)"
    cheap_evidence: ClassVar[bool] = True  # FLOPs counted analytically; proxies on the network at 32 px
    # The CPU default (bench/training_signal.py): 32 px, width 0.5, 300 Adam steps, cosine decay.
    RECIPE: ClassVar[dict] = {"steps": 300, "schedule": "cosine", "image_size": 32, "width": 0.5}

    def __init__(self):
        super().__init__()
        self.bound: tuple[float | None, float | None] = (None, None)

    # --- notation ---

    def ids(self, arch: str) -> tuple[int, ...]:
        return read_ids(arch)

    def _parse(self, arch: str) -> tuple[str, ...]:
        return tuple(OPS[i] for i in read_ids(arch))  # "0" to "6"

    def _format(self, ops: Sequence[str]) -> str:
        unknown = [op for op in ops if op not in OPS]
        if len(ops) != net.LAYERS or unknown:
            raise UserError(f"not a {self.name} architecture: want {net.LAYERS} operations of {', '.join(OPS)}")
        return json.dumps([OPS.index(op) for op in ops])

    def canonical(self, arch: str) -> str:
        """Skips after a stage's first layer moved to the end of the stage (see the module docstring)."""
        ids, out = read_ids(arch), []
        for start in range(0, net.LAYERS, net.DEPTH):
            rest = ids[start + 1:start + net.DEPTH]
            blocks = [i for i in rest if i != 0]
            out += [ids[start], *blocks, *[0] * (len(rest) - len(blocks))]
        return json.dumps(out)

    def from_proposal(self, proposal: BaseModel | dict) -> str:
        answer = proposal if isinstance(proposal, StageAnswer) else StageAnswer.model_validate(
            proposal.model_dump() if isinstance(proposal, BaseModel) else proposal)
        return json.dumps([i for s in range(1, 6) for i in getattr(answer, f"stage{s}")])

    def to_proposal(self, arch: str) -> dict:
        ids = read_ids(arch)
        return {f"stage{s + 1}": list(ids[s * net.DEPTH:(s + 1) * net.DEPTH]) for s in range(len(net.STAGES))}

    def sample_random(self, rng: random.Random) -> str:
        """Depth first, then operations: each stage's number of blocks after its first layer is
        uniform (0-5), each block's operation uniform (1-6), the first layer's uniform (0-6).
        Uniform per layer would make 1 layer in 7 a skip: none of 20,000 such samples had fewer
        than 361 MFLOPs, so no random architecture would meet GENIUS's bound of 330; this way
        20% fall in [270, 330] and 25% in [370, 430]."""
        ids: list[int] = []
        for _ in net.STAGES:
            depth = rng.randint(0, net.DEPTH - 1)
            rest = [rng.randint(1, len(OPS) - 1) for _ in range(depth)] + [0] * (net.DEPTH - 1 - depth)
            rng.shuffle(rest)
            ids += [rng.randint(0, len(OPS) - 1), *rest]
        return json.dumps(ids)

    # --- the problem, the cost ---

    def describe(self, dataset: str) -> str:
        dataset = self.resolve_dataset(dataset)
        table = net.layer_table()
        rows = "\n".join(f"stage {s + 1}, first layer: {list(table[2 * s])}\nstage {s + 1}, other layers: "
                         f"{list(table[2 * s + 1])}" for s in range(len(net.STAGES)))
        fixed = {k: v.flops / 1e6 for k, v in net.fixed_parts(net.Shape()).items()}
        low, high = self.bound
        bound = (f"The whole network must have between {low:g} and {high:g} MFLOPs." if low is not None and high is not None
                 else f"The whole network must have at most {high:g} MFLOPs." if high is not None
                 else f"The whole network must have at least {low:g} MFLOPs." if low is not None else "")
        training = self.training
        return PROBLEM.format(stem=fixed["stem"], first=fixed["first bottleneck"],
                              head=sum(fixed[k] for k in ("head conv", "pooling", "feature conv", "classifier")),
                              fixed=sum(fixed.values()), rows=rows, bound=bound, dataset=dataset,
                              size=training.image_size, width=training.width,
                              steps=f"{training.steps} steps" if training.steps else f"{training.epochs} epochs")

    def cost(self, arch: str, dataset: str) -> tuple[float, float]:
        """(MFLOPs, M params) at GENIUS's reference: 224 x 224, 1,000 classes, width 1."""
        count = net.total(read_ids(arch))
        return count.flops / 1e6, count.params / 1e6

    def flops_range(self) -> tuple[float, float]:
        return net.flops_range()

    def configure(self, settings, run_path) -> None:
        super().configure(settings, run_path)
        self.bound = (settings.min_flops_m, settings.max_flops_m)

    # --- training ---

    def source(self, arch: str, dataset: str) -> str:
        """The network's PyTorch source for this run's data and width (what the sandbox trains)."""
        return net.source(read_ids(arch), self.data_info(dataset)["classes"], self.training.width)

    def network(self, arch: str, dataset: str):
        code, size = self.source(arch, dataset), self.training.image_size
        classes = self.data_info(dataset)["classes"]

        def build():
            namespace: dict = {}
            exec(compile(code, "<mobilenetv2>", "exec"), namespace)  # our own source, not a model's
            return namespace["Net"]()

        return build, (3, size, size), classes

    def submit(self, arch: str, dataset: str, training=None) -> Future:
        from training import jobs

        dataset = self.resolve_dataset(dataset)
        try:
            code = self.source(arch, dataset)
        except UserError as err:
            done: Future = Future()
            done.set_result(jobs.refused(arch, dataset, "malformed", str(err)))
            return done
        return self.submit_code(code, self.canonical(arch), dataset, training)

    def evaluate(self, arch: str, dataset: str) -> Evaluation:
        report = self.submit(arch, dataset).result()
        flops, params = self.cost(arch, dataset) if report.get("failure") != "malformed" else (None, None)
        return Evaluation(arch=arch, canonical=report.get("canonical") or arch, val_acc=report.get("val_acc"),
                          flops_m=flops, params_m=params, failure=report.get("failure"), detail=report.get("detail", ""))

    def final_report(self, arch: str, dataset: str) -> FinalReport:
        """Test accuracy of the trained candidate (its saved report; trained now if missing)."""
        report = self.submit(arch, dataset).result()
        flops, params = self.cost(arch, dataset)
        return FinalReport(arch=arch, val_acc=report["val_acc"] or 0.0, test_acc=report["test_acc"], rank=None, of=None,
                           flops_m=flops, params_m=params)

    def measure(self, arch: str, dataset: str) -> dict:
        flops, params = self.cost(arch, dataset)
        return {"flops_m": flops, "params_m": params, "failure": None, "detail": ""}


# The problem encoding of GENIUS's ImageNet search (its prompt, section 5), in our words; its FLOPs
# table is reproduced exactly (spaces/mobilenetv2_net.py).
PROBLEM = """\
You are choosing the operations of a MobileNetV2 network. Layers 0, 1 and 32 to 35 are fixed; layers 2 to 31 \
are yours, in five stages of six layers:
- layer 0: 3x3 convolution, 3 -> 16 channels, stride 2 ({stem:.3f} MFLOPs); layer 1: 3x3 depthwise and 1x1 \
convolution, 16 -> 16 channels ({first:.3f} MFLOPs);
- stage 1, layers 2-7: 16 -> 24 channels, layer 2 with stride 2; stage 2, layers 8-13: 24 -> 40, layer 8 with \
stride 2; stage 3, layers 14-19: 40 -> 80, layer 14 with stride 2; stage 4, layers 20-25: 80 -> 96, stride 1; \
stage 5, layers 26-31: 96 -> 192, layer 26 with stride 2;
- layers 32-35: 1x1 convolution 192 -> 320, average pooling, 1x1 convolution 320 -> 1280, classifier \
({head:.3f} MFLOPs).
Operation ids: 0 skip (nothing; in a stage's first layer a 1x1 convolution to the stage's channels and stride), \
1 inverted residual with a 3x3 kernel and expansion 4, 2 kernel 5 expansion 4, 3 kernel 7 expansion 4, \
4 kernel 3 expansion 6, 5 kernel 5 expansion 6, 6 kernel 7 expansion 6 (each with squeeze-and-excitation). \
Skips after a stage's first layer make that stage shallower.
MFLOPs of operations 0 to 6 in each layer (224x224 input):
{rows}
A network's MFLOPs: {fixed:.3f} for the fixed layers plus one table entry per layer 2 to 31. {bound}
Every network is trained on {dataset} ({size}x{size} images, width multiplier {width:g}) for {steps}; its score \
is the validation accuracy. Answer with the six operation ids of each stage. Goal: the highest accuracy."""
