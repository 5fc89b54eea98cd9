import itertools
import random

import pytest

from errors import UserError
from spaces import get
from spaces.transnas101 import OPS, TASKS, format_arch, parse

SPACE = get("transnas101")


def test_parse_and_format_round_trip():
    arch = "64-41414-3_02_130"
    ops = parse(arch)
    assert ops == ("nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "nor_conv_3x3", "none")
    assert format_arch(ops) == arch
    assert SPACE.from_proposal(SPACE.proposal_schema(**SPACE.to_proposal(arch))) == arch
    for bad in ("64-41414-4_00_000", "3_02_130", "64-41414-3_021_30"):
        with pytest.raises(UserError):
            parse(bad)


def test_only_the_cells_of_the_table_are_sampled_and_mutated():
    table = set(SPACE.all_archs())
    assert len(table) == 711
    rng = random.Random(0)
    for _ in range(50):
        arch = SPACE.sample_random(rng)
        assert arch in table
        child = SPACE.mutate(arch, rng)
        assert child in table and child != arch
        for neighbour in SPACE.neighbours(arch):
            assert neighbour in table
            assert sum(a != b for a, b in zip(parse(arch), parse(neighbour))) == 1


def test_per_task_metric_and_rank():
    for task in TASKS:
        scores = {a: SPACE.evaluate(a, task).val_acc for a in SPACE.all_archs()}
        best = max(scores, key=scores.get)
        report = SPACE.final_report(best, task)
        assert report.rank == 1 and report.of == 711 and report.test_acc is None
    assert max(SPACE.evaluate(a, "jigsaw").val_acc for a in SPACE.all_archs()) == pytest.approx(94.994, abs=1e-3)
    assert max(SPACE.evaluate(a, "room_layout").val_acc for a in SPACE.all_archs()) == pytest.approx(-0.6095, abs=1e-4)


def test_a_cell_outside_the_table_is_out_of_space():
    table = set(SPACE.all_archs())
    missing = next(format_arch(ops) for ops in itertools.product(OPS, repeat=6) if format_arch(ops) not in table)
    evaluation = SPACE.evaluate(missing, "class_object")
    assert evaluation.failure == "out_of_space" and evaluation.val_acc is None


def test_tasks_by_alias_and_isomorphs_share_a_canonical_form():
    assert SPACE.resolve_dataset("seg") == "segmentsemantic"
    with pytest.raises(UserError):
        SPACE.resolve_dataset("cifar10")
    # node 1 is cut off from the input, so whatever node2_from_1 does adds zero
    assert SPACE.canonical("64-41414-0_30_333") == SPACE.canonical("64-41414-0_33_333")
    assert SPACE.canonical("64-41414-3_33_333") != SPACE.canonical("64-41414-0_33_333")
