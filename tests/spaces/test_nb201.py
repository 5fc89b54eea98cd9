import random

import pytest

from errors import UserError
from spaces import get
from spaces.nb201 import EDGES, OPS, format_arch, op_code, parse

# NB201 index of the best test cell and its test accuracy (NAS-Bench-201; data/README.md)
BEST = {"cifar10": (6111, 94.3733), "cifar100": (9930, 73.5133), "imagenet16": (857, 47.3111)}
RESNET_LIKE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def space():
    return get("nb201")


def test_parse_format_round_trip_for_every_cell(space):
    archs = space.all_archs()
    assert len(archs) == 15625 == space.size
    assert all(format_arch(parse(a)) == a for a in archs)


def test_op_code_follows_edge_order():
    assert op_code("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|") == "421211"
    assert len(EDGES) == 6 and OPS[0] == "none"


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16"])
def test_best_cells_per_dataset(space, dataset):
    index, test_acc = BEST[dataset]
    report = space.final_report(space.arch_at(index), dataset)
    assert report.test_acc == pytest.approx(test_acc, abs=1e-4)
    assert report.rank == 1 and report.of == 15625


def test_known_cell_values(space):
    evaluation = space.evaluate(RESNET_LIKE, "cifar10")
    assert evaluation.val_acc == pytest.approx(91.553333)
    assert evaluation.flops_m == pytest.approx(184.73025)
    assert evaluation.params_m == pytest.approx(1.288506)
    report = space.final_report(RESNET_LIKE, "cifar10")
    assert report.test_acc == pytest.approx(94.363333) and report.rank == 3


def test_evaluation_hides_test_accuracy(space):
    assert "test_acc" not in space.evaluate(RESNET_LIKE, "cifar100").model_dump()


def test_isomorphism_classes_match_nb201(space):
    archs = space.all_archs()
    classes = {space.canonical(a) for a in archs}
    assert len(classes) == 6466
    # and they agree with the table's iso_class column
    by_key = {}
    for a in archs:
        assert by_key.setdefault(space.canonical(a), space.iso_class(a)) == space.iso_class(a)


def test_isomorphic_cells_share_a_key(space):
    # node2 receives nothing useful either way: none on both of its inputs vs. none on one and a zero input
    a = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    b = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"
    assert space.canonical(a) == space.canonical(b)
    assert space.canonical(a) != space.canonical(RESNET_LIKE)


def test_mutate_changes_exactly_one_edge(space):
    rng = random.Random(0)
    arch = RESNET_LIKE
    for _ in range(50):
        child = space.mutate(arch, rng)
        assert sum(x != y for x, y in zip(parse(arch), parse(child))) == 1
        arch = child
    assert len(set(space.neighbours(RESNET_LIKE))) == 24


def test_sample_random_is_seeded(space):
    assert space.sample_random(random.Random(3)) == space.sample_random(random.Random(3))


@pytest.mark.parametrize("bad", ["", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~0|+|none~0|+|none~0|none~1|none~2|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_malformed_arch_is_a_user_error(space, bad):
    with pytest.raises(UserError):
        space.validate(bad)


def test_dataset_aliases_and_errors(space):
    assert space.resolve_dataset("ImageNet16-120") == "imagenet16"
    with pytest.raises(UserError, match="unknown dataset"):
        space.resolve_dataset("mnist")


def test_latency_lookup(space):
    assert space.latency(RESNET_LIKE, "pixel3") > 0
    with pytest.raises(UserError):
        space.latency(RESNET_LIKE, "toaster")


def test_unknown_space():
    with pytest.raises(UserError, match="unknown space"):
        get("nb999")
