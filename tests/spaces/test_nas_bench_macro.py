import csv
import gzip
import random
import re
from collections import defaultdict

import pytest

from agents.structured import Asker
from errors import UserError
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces import REGISTRY, Coded, Networked, Positional, Tabular, get
from spaces.macro import ArchCodeError
from spaces.nb201 import DATA
from tests.fakes import Scripted

SPACE = get("nas-bench-macro")
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def sample(space, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [space.sample_random(rng) for _ in range(n)]


# --- the table ----------------------------------------------------------------------------------


def test_registered_with_every_capability_but_training():
    assert REGISTRY["nas-bench-macro"] is type(SPACE)
    assert all(isinstance(SPACE, cap) for cap in (Tabular, Positional, Coded, Networked))
    assert SPACE.resolve_dataset("CIFAR-10") == "cifar10"
    with pytest.raises(UserError):
        SPACE.resolve_dataset("cifar100")


def test_rows_and_optimum_match_the_data_readme():
    archs = SPACE.all_archs()
    assert len(archs) == len(set(archs)) == SPACE.size == 6561
    best = max(archs, key=lambda a: SPACE.evaluate(a, "cifar10").val_acc)
    assert best == "22212202" and round(SPACE.evaluate(best, "cifar10").val_acc, 4) == 93.1267
    report = SPACE.final_report(best, "cifar10")
    assert (report.rank, report.of, report.test_acc) == (1, 6561, report.val_acc)
    assert SPACE.cost("00000000", "cifar10") == (7.71328, 0.387882)  # MFLOPs, M params from the table
    assert SPACE.final_report("00000000", "cifar10").rank == 6561  # the all-identity network is the worst


def test_malformed_strings_are_user_errors():
    for bad in ("2221220", "222122023", "22212203", "abcdefgh", ""):
        with pytest.raises(UserError):
            SPACE.validate(bad)


# --- encodings ----------------------------------------------------------------------------------


def test_round_trips():
    for arch in sample(SPACE, 150):
        assert SPACE.from_ops(SPACE.ops(arch)) == arch
        assert SPACE.from_proposal(SPACE.to_proposal(arch)) == arch
        assert SPACE.from_proposal(SPACE.proposal_schema(**SPACE.to_proposal(arch))) == arch
        code = SPACE.to_code(arch)
        assert SPACE.from_code(code) == arch
        assert SPACE.from_code(f"Here is the network:\n```python\n{code}```\nIt should do well.") == arch
        assert SPACE.from_code(f"```python\n{code}") == arch  # the closing fence cut off
    assert SPACE.to_proposal("01200000")["layer2"] == "mb3_k3"


def check_neighbours_and_mutations(space, n_neighbours: int) -> None:
    """Every one-position change is a neighbour, and every one is in the table; so is a mutation."""
    rng = random.Random(1)
    for arch in sample(space, 50):
        neighbours = space.neighbours(arch)
        assert len(neighbours) == len(set(neighbours)) == n_neighbours and all(space.contains(n) for n in neighbours)
        child = space.mutate(arch, rng)
        assert space.contains(child) and sum(a != b for a, b in zip(arch, child)) == 1


def test_neighbours_and_mutations_stay_in_the_space():
    check_neighbours_and_mutations(SPACE, 8 * 2)


def test_canonical_merges_exactly_the_networks_the_table_trained_identically():
    """An identity that keeps the shape is no operation, so its place within a stage does not
    matter; the table's three runs are identical for exactly those classes."""
    with gzip.open(DATA / "nas_bench_macro_cifar10.csv.gz", "rt") as f:
        runs = {r["arch"]: (r["test_acc_run1"], r["test_acc_run2"], r["test_acc_run3"]) for r in csv.DictReader(f)}
    classes = defaultdict(set)
    for arch, triple in runs.items():
        classes[SPACE.canonical(arch)].add(triple)
    assert len(classes) == len(set(runs.values())) == 3969
    assert all(len(triples) == 1 for triples in classes.values())
    assert SPACE.canonical("00001000") == SPACE.canonical("00010000") == "00010000"
    assert SPACE.canonical("01000000") == "01000000"  # a stage's first layer (a strided conv) never moves
    assert SPACE.canonical("00012000") != SPACE.canonical("00021000")  # the order of two blocks matters
    assert SPACE.trivial("00000000") is None


# --- the code representation ----------------------------------------------------------------------


def test_code_that_is_not_a_network_of_the_space_is_refused_in_one_sentence():
    code = SPACE.to_code("22212202")
    bad = {
        "I would add more layers.": "does not parse",
        code.replace("expansion=3, kernel=3", "expansion=4, kernel=3"): "expansion 4",
        code.replace("MBConv(128, 128, stride=1, expansion=3", "MBConv(128, 160, stride=1, expansion=3"): "c_out 160",
        code.replace("self.layer3 = MBConv(64, 128, stride=2, expansion=6, kernel=5)", ""): "layer3 is missing",
        code.replace("        self.head", "        self.layer9 = Identity(256, 256)\n        self.head"): "layer9",
        code.replace("self.layer2 = MBConv(64, 64, stride=1, expansion=6, kernel=5)",
                     "self.layer2 = nn.Conv2d(64, 64, 3, padding=1)"): "nn.Conv2d",
    }
    for text, reason in bad.items():
        with pytest.raises(ArchCodeError, match=reason) as err:
            SPACE.from_code(text)
        assert isinstance(err.value, UserError) and "\n" not in str(err.value)


def test_code_is_read_leniently_where_the_meaning_is_certain():
    code = SPACE.to_code("22212202")
    # nn.Identity(), or a stride-1 layer left out, is the identity
    identity = code.replace("MBConv(128, 128, stride=1, expansion=6, kernel=5)", "nn.Identity()")
    assert SPACE.from_code(identity) == "22210202"
    assert SPACE.from_code(code.replace("        self.layer4 = MBConv(128, 128, stride=1, expansion=3, kernel=3)\n",
                                        "")) == "22202202"
    # positional arguments, another block name and helper classes beside the network
    helper = "class MBConv(nn.Module):\n    def __init__(self, a, b):\n        self.x = a\n\n"
    assert SPACE.from_code(helper + code.replace("MBConv(128, 128, stride=1, expansion=3, kernel=3)",
                                                 "InvertedResidual(128, 128, 1, 3, 3)")) == "22212202"
    assert set(SPACE.snippets()) == set(SPACE.positions()["layer1"])
    assert "layer1 to layer8" in SPACE.code_rules() and "MBConv" in SPACE.code_rules()


def test_descriptors_lie_in_their_ranges():
    (flops_lo, flops_hi), (depth_lo, depth_hi) = SPACE.descriptor_ranges("cifar10")
    assert (round(flops_lo, 2), round(flops_hi, 2)) == (7.71, 105.66)  # data/README.md
    for arch in sample(SPACE, 100):
        flops, depth = SPACE.descriptors(arch, "cifar10")
        assert flops_lo <= flops <= flops_hi and depth_lo <= depth <= depth_hi and depth == 8 - arch.count("0")


def test_describe_names_every_layer_and_operation():
    text = SPACE.describe("cifar10")
    assert all(name in text for name in SPACE.positions()) and all(op in text for op in SPACE.positions()["layer1"])


# --- the real network -----------------------------------------------------------------------------


def check_networks(space, archs):
    """Forward pass of a batch of two, and the counts of the table: multiply-accumulates of
    convolutions and linear layers (FlopCounterMode counts 2 per MAC) and every parameter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    for arch in archs:
        build, shape, classes = space.network(arch, "cifar10")
        net = build().eval()
        with torch.no_grad():
            out = net(torch.randn(2, *shape))
            with FlopCounterMode(display=False) as counter:
                net(torch.randn(1, *shape))
        assert out.shape == (2, classes) and torch.isfinite(out).all()
        flops_m, params_m = space.cost(arch, "cifar10")
        assert counter.get_total_flops() == 2 * round(flops_m * 1e6)
        assert sum(p.numel() for p in net.parameters()) == round(params_m * 1e6)


@pytest.mark.slow
def test_network_builds_runs_and_counts_exactly_what_the_table_says():
    check_networks(SPACE, ["22212202", "01020100"])


# --- every graph runs on the space (scripted models) ----------------------------------------------


def start(tmp_path, space: str, graph: str, **overrides) -> RunDir:
    return RunDir.create(prepare(load_settings(runs_dir=tmp_path, space=space, graph=graph, budget=3, **overrides)))


def whole_answers(space) -> list[dict]:
    """GENIUS answers: whole architectures of distinct canonical classes."""
    archs = list(dict.fromkeys(sample(space, 40, seed=7)))
    distinct = list({space.canonical(a): a for a in archs}.values())
    return [{"rationale": "because", "architecture": space.to_proposal(a)} for a in distinct[:6]]


def edits_answer(space):
    """The edits designer: k new architectures first, then edits of the best parent shown."""
    whole = [list(a["architecture"].values()) for a in whole_answers(space)]  # layer lists
    positions = list(space.positions())

    def answer(messages):
        prompt = messages[-1].content
        if "Evaluated so far" not in prompt:
            return {"rationale": "start wide", "architectures": whole[:3]}
        parent = int(prompt.split("Evaluated so far")[1].split("\n")[1].split(":")[0])
        edits = [{"parent": parent, "position": p, "op": space.positions()[p][-1]} for p in positions[:3]]
        return {"rationale": "the largest choice", "edits": edits, "architecture": whole[4]}

    return answer


def llmatic_answer(space):
    """LLMatic's designer: the first network in the prompt with one block changed (seeded by the
    prompt), sometimes without its closing fence."""

    def answer(messages):
        prompt = str(messages[-1].content)
        rng = random.Random(prompt)
        child = space.mutate(space.from_code(CODE_BLOCK.search(prompt).group(1)), rng)
        return "Here you go:\n```python\n" + space.to_code(child) + ("```" if rng.random() < 0.5 else "")

    return answer


def learner_answer(space):
    """LAPT's learner: keep the first and last operation of every position."""
    refined = {p: [ops[0], ops[-1]] for p, ops in space.positions().items()}
    return lambda messages: {"principles": ["keep the extremes"], "refined": refined}


# label -> (graph, role of the scripted model, its answers for a space, settings)
GRAPH_RUNS = {
    "genius": ("genius", "designer", whole_answers, {"designer": "genius", "critic": "rules"}),
    "genius-default": ("genius", "designer", lambda space: [edits_answer(space)],
                       {"candidates": 3, "pool_rea": 2, "pool_random": 4}),
    "llmatic": ("llmatic", "designer", lambda space: [llmatic_answer(space)],
                {"llmatic": {"initial": 1, "p_mutation": 1.0, "answer": "code"}}),
    "lapt": ("lapt", "learner", lambda space: [learner_answer(space)],
             {"lapt": {"population": 1, "generations": 1, "tournament": 1, "iterations": 2}}),
    **{baseline: (baseline, None, lambda space: [], {}) for baseline in ("random", "rea", "local", "random+flops")},
}


def run_graph(tmp_path, space_name: str, label: str) -> dict:
    """One graph for 3 evaluations on the space, with its scripted model; checks the result."""
    graph, role, answers, overrides = GRAPH_RUNS[label]
    run = start(tmp_path, space_name, graph, **overrides)
    model = Scripted(answers=answers(get(space_name)))
    result = execute(run, {role: Asker(role=role, label="scripted", model=model)} if role else {})
    assert result["evaluations"] == 3
    assert result["best"]["rank"] >= 1 and result["best"]["test_acc"] == result["best"]["val_acc"]
    if label == "genius":
        assert result["proposals"]["llm"] == 3 and result["proposals"]["fallback"] == 0
    elif label == "genius-default":
        assert result["usage"]["designer"]["calls"] == 3
    elif label == "llmatic":
        assert result["llmatic"]["parsed_fraction"] == 1.0 and result["usage"]["designer"]["calls"] >= 1
    elif label == "lapt":
        rounds = result["lapt"]["rounds"]
        assert len(rounds) == 2 and rounds[0]["adaptation"] == "learn" and result["usage"]["learner"]["calls"] == 1
        assert all(len(ops) == 2 for ops in rounds[1]["refined"]["allowed"].values())
    return result


def check_prior_refused(tmp_path, space_name: str) -> None:
    """A one-task space has no source task: prepare refuses before the run folder is made."""
    with pytest.raises(UserError, match="another task") as err:
        prepare(load_settings(runs_dir=tmp_path, space=space_name, graph="prior", budget=3))
    assert "\n" not in str(err.value) and not any(tmp_path.iterdir())


@pytest.mark.parametrize("label", GRAPH_RUNS)
def test_every_graph_completes_three_evaluations(tmp_path, label):
    run_graph(tmp_path, "nas-bench-macro", label)


def test_prior_has_no_source_task(tmp_path):
    check_prior_refused(tmp_path, "nas-bench-macro")
