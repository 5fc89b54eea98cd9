"""The DARTS space: DARTS's notation (published genotypes paste in and round-trip), bad input,
the canonical form, positions, the evaluation networks and their parameter counts."""

import random
import pytest

from errors import UserError
from spaces import darts_genotype as G
from spaces import get

SPACE = get("darts")

# Published genotypes, as their repositories print them (quark0/darts cnn/genotypes.py; yuhuixu1993/PC-DARTS
# genotypes.py, whose concatenations are written range(2, 6)).
DARTS_V1 = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
            "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, 3, "
            "4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), "
            "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, 3, "
            "4, 5])")
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, "
            "4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), "
            "('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, "
            "4, 5])")
PC_DARTS = ("PC_DARTS_cifar = Genotype(normal=[('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 0), "
            "('dil_conv_3x3', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1)], "
            "normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_5x5', 1), "
            "('sep_conv_5x5', 2), ('sep_conv_3x3', 0), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2)], "
            "reduce_concat=range(2, 6))")
PUBLISHED = {"DARTS_V1": DARTS_V1, "DARTS_V2": DARTS_V2, "PC-DARTS": PC_DARTS}
# Parameters (M, without the auxiliary head) the papers report: DARTS Table 1 (second order, 3.3 M; the
# repository's count 3.35 M), PC-DARTS Table 1 (3.6 M; 3.63 M in its log).
REPORTED = {"DARTS_V2": 3.35, "PC-DARTS": 3.63}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_genotypes_round_trip(name):
    genotype = G.parse(PUBLISHED[name])
    text = SPACE.validate(PUBLISHED[name])
    assert text.startswith("Genotype(normal=[") and "range" not in text
    assert G.parse(text) == genotype and SPACE.validate(text) == text
    assert SPACE.canonical(text) == SPACE.canonical(SPACE.from_ops(SPACE.ops(text)))


def test_canonical_form_ignores_the_order_of_a_nodes_inputs():
    genotype = G.parse(DARTS_V2)
    swapped = list(genotype.normal)
    swapped[4], swapped[5] = swapped[5], swapped[4]  # node 4: (sep_conv_3x3, 1), (skip_connect, 0)
    other = G.write(genotype._replace(normal=tuple(swapped)))
    assert other != SPACE.validate(DARTS_V2) and SPACE.canonical(other) == SPACE.canonical(DARTS_V2)
    changed = list(genotype.normal)
    changed[4] = ("sep_conv_5x5", 1)
    assert SPACE.canonical(G.write(genotype._replace(normal=tuple(changed)))) != SPACE.canonical(DARTS_V2)


@pytest.mark.parametrize("text, says", [
    (DARTS_V2.replace("'dil_conv_3x3'", "'conv_7x1_1x7'"), "unknown operation 'conv_7x1_1x7'"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "points forward"),
    (DARTS_V2.replace(", ('dil_conv_3x3', 2)]", "]"), "a node has one input"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]"), "outside the intermediate nodes"),
    (DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(1, 6)"), "outside the intermediate nodes"),
    ("normal=[('sep_conv_3x3', 0)]", "not a DARTS genotype"),
    (DARTS_V2[:-1], "not closed"),
])
def test_bad_genotypes_are_one_sentence(text, says):
    with pytest.raises(UserError, match=says):
        SPACE.validate(text)


def test_positions_name_each_layers_operation_and_input():
    positions = SPACE.positions()
    assert len(positions) == 32
    assert positions["normal_n2a_from"] == ("c_k-2", "c_k-1")
    assert positions["reduce_n5b_from"] == ("c_k-2", "c_k-1", "node2", "node3", "node4")
    assert positions["normal_n3a_op"] == G.OPS and len(G.OPS) == 8
    ops = dict(zip(positions, SPACE.ops(DARTS_V2)))
    # node 4 of DARTS_V2's normal cell: (sep_conv_3x3, 1), (skip_connect, 0) -> layer a reads c_k-2
    assert (ops["normal_n4a_op"], ops["normal_n4a_from"], ops["normal_n4b_op"], ops["normal_n4b_from"]) == \
        ("skip_connect", "c_k-2", "sep_conv_3x3", "c_k-1")
    assert SPACE.from_proposal(SPACE.to_proposal(DARTS_V2)) == SPACE.canonical(DARTS_V2)


def test_sampling_mutation_and_crossover_stay_inside_an_allowed_set():
    rng = random.Random(0)
    allowed = G.full()
    allowed["normal_n2a_op"] = allowed["normal_n2b_op"] = ["sep_conv_3x3"]
    allowed["reduce_n5a_from"] = allowed["reduce_n5b_from"] = ["node3", "node4"]
    archs = [SPACE.sample_in(allowed, rng) for _ in range(30)]
    assert all(SPACE.contains_in(allowed, a) for a in archs)
    assert not SPACE.contains_in(allowed, DARTS_V2)
    for arch in archs[:5]:
        assert all(SPACE.contains_in(allowed, n) for n in SPACE.neighbours_in(arch, allowed))
        assert SPACE.contains_in(allowed, SPACE.crossover(arch, archs[-1], rng))
    # over the whole space a node's two inputs differ (DARTS's derivation; LAPT's count)
    for _ in range(50):
        genotype = G.parse(SPACE.sample_random(rng))
        assert all(a[1] != b[1] for a, b in G.node_pairs(genotype.normal) + G.node_pairs(genotype.reduce))
    assert SPACE.size == (1 * 3 * 6 * 10 * 8 ** 8) ** 2  # ~9.1e18 (LAPT section 4.1: (10^9)^2)


def test_a_normal_cell_of_zeros_is_at_chance():
    cell = [("none", 0), ("none", 1), ("skip_connect", 2), ("none", 1), ("max_pool_3x3", 3), ("none", 0),
            ("avg_pool_3x3", 4), ("skip_connect", 2)]
    text = G.write(G.Genotype(tuple(cell), G.CONCAT, G.parse(DARTS_V2).reduce, G.CONCAT))
    assert "constant" in SPACE.trivial(text)
    assert SPACE.trivial(DARTS_V2) is None


def test_cost_is_the_darts_cifar_and_imagenet_networks():
    flops, params = SPACE.cost(DARTS_V2, "cifar10")
    assert abs(params - REPORTED["DARTS_V2"]) / REPORTED["DARTS_V2"] < 0.005 and 500 < flops < 560
    assert abs(SPACE.cost(PC_DARTS, "cifar10")[1] - REPORTED["PC-DARTS"]) / REPORTED["PC-DARTS"] < 0.005
    assert SPACE.cost(DARTS_V2, "cifar100")[1] > params  # a wider classifier
    assert 4.6 < SPACE.cost(DARTS_V2, "imagenet")[1] < 4.8  # DARTS Table 2: 4.7 M


def test_llmatic_reads_genotypes_from_answers():
    answer = f"Here is a better one:\n```python\nbest = {DARTS_V2}\n```\nIt uses more separable convolutions."
    assert SPACE.from_code(answer) == SPACE.validate(DARTS_V2)
    assert SPACE.from_code(SPACE.to_code(PC_DARTS)) == SPACE.validate(PC_DARTS)
    assert len(SPACE.encode(DARTS_V2)) == sum(len(c) for c in SPACE.positions().values())
    low, high = SPACE.descriptor_ranges("cifar10")[0]
    assert low < SPACE.descriptors(DARTS_V2, "cifar10")[0] < high
    assert SPACE.descriptors(DARTS_V2, "cifar10")[1] == 2.0  # normal node 5 reads node 2


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_genotypes_build_for_cifar_and_imagenet(name):
    import torch

    from spaces.darts_model import Network, count_parameters

    genotype = G.parse(PUBLISHED[name])
    for layout, c, layers, classes, size, dataset in [("cifar", 36, 20, 10, 32, "cifar10"),
                                                      ("imagenet", 48, 14, 1000, 224, "imagenet")]:
        net = Network(genotype, c, classes, layers, layout, auxiliary=True).train()
        assert count_parameters(net) == round(SPACE.cost(PUBLISHED[name], dataset)[1] * 1e6)
        assert sum(p.numel() for p in net.auxiliary_head.parameters()) > 0  # built, but not counted
        with torch.no_grad():
            logits = net(torch.randn(2, 3, size, size))
        assert logits.shape == (2, classes) and net.aux_logits.shape == (2, classes)
        if name in REPORTED and layout == "cifar":
            assert abs(count_parameters(net) / 1e6 - REPORTED[name]) / REPORTED[name] < 0.005


def test_parameters_and_flops_of_a_small_network_by_hand():
    """C 2, 3 cells (reductions at cells 1 and 2), 8x8 input, 10 classes; every normal node two
    skip connections, every reduction node a 3x3 separable conv of c_k-2 and a max pool."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from spaces.darts_cost import network_cost
    from spaces.darts_model import Network, count_parameters

    normal = tuple(p for _ in G.NODES for p in (("skip_connect", 0), ("skip_connect", 1)))
    reduce = tuple(p for _ in G.NODES for p in (("sep_conv_3x3", 0), ("max_pool_3x3", 1)))
    genotype = G.Genotype(normal, G.CONCAT, reduce, G.CONCAT)
    def sep(c: int) -> int:  # twice: depthwise 3x3, pointwise 1x1, BatchNorm (weight and bias)
        return 2 * (9 * c + c * c + 2 * c)

    stem = 3 * 3 * 3 * 6 + 2 * 6                        # 3x3 conv to 3C = 6, BatchNorm
    cell0 = 2 * (6 * 2 + 2 * 2)                         # normal, C 2: two 1x1 ReLU-conv-BN 6->2; skips are free
    cell1 = (6 * 4 + 2 * 4) + (8 * 4 + 2 * 4) + 4 * sep(4)  # reduction, C 4: 1x1 6->4, 1x1 8->4, 4 sep convs
    cell2 = (2 * 8 * 4 + 2 * 8) + (16 * 8 + 2 * 8) + 4 * sep(8)  # C 8: factorized 8->8 of c_k-2, 1x1 16->8
    classifier = 32 * 10 + 10                           # 4 nodes x 8 channels
    assert count_parameters(Network(genotype, 2, 10, 3)) == stem + cell0 + cell1 + cell2 + classifier == 2528
    count = network_cost(genotype, 2, 10, 3, "cifar", 8)
    assert count.params == 2528
    # multiply-accumulates: the stem and cell 0 at 8x8; cell 1's preprocessing at 8x8, its sep convs (stride 2)
    # at 4x4; cell 2's factorized reduction of c_k-2 (8x8) and its 1x1 at 4x4, its sep convs at 2x2; the classifier
    macs = 27 * 6 * 64 + 2 * (6 * 2 * 64) + (6 * 4 + 8 * 4) * 64 + 4 * 2 * (9 * 4 + 16) * 16 \
        + (2 * 8 * 4 + 16 * 8) * 16 + 4 * 2 * (9 * 8 + 64) * 4 + 320
    assert count.macs == macs
    with FlopCounterMode(display=False) as counter:
        Network(genotype, 2, 10, 3).eval()(torch.zeros(1, 3, 8, 8))
    assert counter.get_total_flops() == 2 * macs
