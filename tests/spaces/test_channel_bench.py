import pytest

from errors import UserError
from spaces import REGISTRY, Coded, Networked, Positional, Tabular, get
from spaces.channel_bench import WIDTHS
from spaces.macro import ArchCodeError
from tests.spaces.test_nas_bench_macro import (GRAPH_RUNS, check_neighbours_and_mutations, check_networks,
                                              check_prior_refused, run_graph, sample)

NAMES = ("channel-resnet", "channel-mobilenet")
RESNET, MOBILENET = get("channel-resnet"), get("channel-mobilenet")


@pytest.fixture(params=NAMES)
def space(request):
    return get(request.param)


# --- the tables ---------------------------------------------------------------------------------


def test_registered_with_every_capability_but_training(space):
    assert REGISTRY[space.name] is type(space)
    assert all(isinstance(space, cap) for cap in (Tabular, Positional, Coded, Networked))
    assert all(ops == WIDTHS for ops in space.positions().values()) and len(space.positions()) == 7


@pytest.mark.parametrize("name,best,acc", [("channel-resnet", "4344424", 93.8933),
                                           ("channel-mobilenet", "4444342", 91.8867)])
def test_rows_and_optimum_match_the_data_readme(name, best, acc):
    space = get(name)
    archs = space.all_archs()
    assert len(archs) == len(set(archs)) == space.size == 16384
    assert max(archs, key=lambda a: space.evaluate(a, "cifar10").val_acc) == best
    assert round(space.evaluate(best, "cifar10").val_acc, 4) == acc
    report = space.final_report(best, "cifar10")
    assert (report.rank, report.of, report.test_acc) == (1, 16384, report.val_acc)


def test_widths_are_the_benchmarks():
    """digit / 4 of the largest width: the numbers GENIUS's prompts list per layer."""
    assert list(RESNET.channels("1111111").values()) == [64, 64, 64, 128, 128, 128, 128]
    assert list(RESNET.channels("4444444").values()) == [256, 256, 256, 512, 512, 512, 512]
    assert list(MOBILENET.channels("1111111").values()) == [32, 192, 192, 192, 64, 384, 256]
    assert list(MOBILENET.channels("4444444").values()) == [128, 768, 768, 768, 256, 1536, 1024]
    assert RESNET.to_proposal("1234123") == dict(zip(RESNET.positions(), ("25%", "50%", "75%", "100%", "25%", "50%",
                                                                           "75%")))


def test_malformed_strings_are_user_errors(space):
    for bad in ("0111111", "11111115", "111111", "4344424 4"):
        with pytest.raises(UserError):
            space.validate(bad)


# --- encodings ----------------------------------------------------------------------------------


def test_round_trips(space):
    for arch in sample(space, 150):
        assert space.from_ops(space.ops(arch)) == arch
        assert space.from_proposal(space.to_proposal(arch)) == arch
        code = space.to_code(arch)
        assert space.from_code(code) == arch
        assert space.from_code(f"Wider is better:\n```python\n{code}```\nDone.") == arch
        assert space.from_code(f"```python\n{code}") == arch  # the closing fence cut off


def test_neighbours_and_mutations_stay_in_the_space(space):
    check_neighbours_and_mutations(space, 7 * 3)


def test_no_isomorphisms_and_nothing_at_chance(space):
    """Different widths are different networks, and every one learns (the worst
    score 91.6% on ResNet, 89.2% on MobileNet)."""
    for arch in sample(space, 50):
        assert space.canonical(arch) == arch and space.trivial(arch) is None
    assert min(space.evaluate(a, "cifar10").val_acc for a in space.all_archs()) > 85


# --- the code representation ----------------------------------------------------------------------


def test_code_is_read_through_variables_numbers_and_arithmetic():
    code = RESNET.to_code("4344424")
    assert RESNET.from_code(code.replace("ResBlock(stage1_width, block1_inner, stage1_width)",
                                         "ResBlock(256, 128, 256)")) == "4244424"
    assert RESNET.from_code(code.replace("block2_inner = 256", "block2_inner = 2 * 96")) == "4334424"
    assert RESNET.from_code(code.replace("ResBlock(stage1_width, block1_inner, stage1_width)",
                                         "ResBlock(c_in=stage1_width, c_out=stage1_width, c_mid=64)")) == "4144424"
    assert set(MOBILENET.snippets()) == {"ConvBNReLU", "InvertedResidual", "widths"}
    assert "seven width variables" in MOBILENET.code_rules()


def test_code_that_is_not_a_network_of_the_space_is_refused_in_one_sentence():
    code = RESNET.to_code("4344424")
    bad = {
        code.replace("block2_inner = 256", "block2_inner = 100"): "block2_inner is 100 channels",
        code.replace("ResBlock(stage1_width, block1_inner, stage1_width)",
                     "ResBlock(stage1_width, block1_inner, 128)"): "must be the same everywhere",
        code.replace(", stride=2)", ")", 1): "stride 2",
        code.replace("self.block5 = ResBlock(stage2_width, block5_inner, stage2_width)", ""): "block5 is missing",
        code.replace("self.block4 = ResBlock", "self.block4 = InvertedResidual"): "must be a ResBlock",
        code.replace("block3_inner = 512", "block3_inner = width"): "not given as a whole number",
        "Use wider layers everywhere.": "does not parse",
    }
    for text, reason in bad.items():
        with pytest.raises(ArchCodeError, match=reason) as err:
            RESNET.from_code(text)
        assert "\n" not in str(err.value)


def test_descriptors_lie_in_their_ranges(space):
    ranges = space.descriptor_ranges("cifar10")
    assert ranges == [(space.cost("1111111", "cifar10")[0], space.cost("4444444", "cifar10")[0]),
                      (space.cost("1111111", "cifar10")[1], space.cost("4444444", "cifar10")[1])]
    for arch in sample(space, 100):
        assert all(lo <= d <= hi for d, (lo, hi) in zip(space.descriptors(arch, "cifar10"), ranges))


def test_describe_lists_every_width_and_its_channels(space):
    text = space.describe("cifar10")
    assert all(position in text for position in space.positions())
    assert all(", ".join(map(str, space.choices(p))) in text for p in space.positions())


# --- the real network -----------------------------------------------------------------------------


@pytest.mark.slow
def test_networks_build_run_and_count_exactly_what_the_tables_say(space):
    check_networks(space, ["4344424", "1231412"])


# --- every graph runs on both spaces (scripted models) ----------------------------------------------


@pytest.mark.parametrize("label", GRAPH_RUNS)
@pytest.mark.parametrize("name", NAMES)
def test_every_graph_completes_three_evaluations(tmp_path, name, label):
    run_graph(tmp_path, name, label)


@pytest.mark.parametrize("name", NAMES)
def test_prior_has_no_source_task(tmp_path, name):
    check_prior_refused(tmp_path, name)
