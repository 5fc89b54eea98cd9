"""The no-LLM baselines on a tiny synthetic space defined in tests/tiny_space.py alone (registered
there, no other file touched): each finds the optimum, with its own logic visible in what it does."""

import pytest

import tests.tiny_space  # noqa: F401  (registers the space "tiny")
from errors import UserError
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings

OPTIMUM = {"a": "large-large-large", "b": "large-small-large"}


def run(tmp_path, graph, dataset="a", **overrides):
    settings = prepare(load_settings(runs_dir=tmp_path, graph=graph, space="tiny", dataset=dataset, **overrides))
    run_dir = RunDir.create(settings)
    result = execute(run_dir, {})
    evaluated = [e.data["arch"] for e in run_dir.journal().events() if e.kind == "evaluation"]
    return result, evaluated


def test_random_search_covers_the_space_without_repeats(tmp_path):
    result, evaluated = run(tmp_path, "random", budget=27)
    assert len(evaluated) == len(set(evaluated)) == 27
    assert result["best"]["arch"] == OPTIMUM["a"] and result["best"]["rank"] == 1


def test_random_flops_spends_its_first_evaluation_on_the_largest(tmp_path):
    result, evaluated = run(tmp_path, "random+flops", budget=1, flops_pool=27)
    assert evaluated == [OPTIMUM["a"]] and result["stop_reason"] == "budget reached"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_local_search_climbs_to_the_optimum(tmp_path, seed):
    result, evaluated = run(tmp_path, "local", budget=20, seed=seed)
    assert result["best"]["arch"] == OPTIMUM["a"]
    assert len(set(evaluated)) == len(evaluated)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rea_finds_the_optimum_and_mutates_tournament_winners(tmp_path, seed):
    result, evaluated = run(tmp_path, "rea", budget=20, seed=seed)
    assert result["best"]["arch"] == OPTIMUM["a"]
    assert result["proposals"]["by_source"] == {"rea": 20}
    # after the random population of 3, every child differs from an earlier architecture in one position
    for child in evaluated[3:]:
        assert any(sum(x != y for x, y in zip(child.split("-"), parent.split("-"))) == 1
                   for parent in evaluated[:evaluated.index(child)])


def test_prior_samples_what_the_source_tasks_best_have_in_common(tmp_path):
    # source a's top 5 all have first=large: the prior puts most of its mass there
    result, evaluated = run(tmp_path, "prior", dataset="b", budget=27, transfer_from="tiny/a",
                                 lapt={"learn_samples": 5})
    assert result["best"]["arch"] == OPTIMUM["b"]
    assert sum(arch.startswith("large") for arch in evaluated[:6]) >= 4


def test_prior_refuses_the_target_as_its_own_source(tmp_path):
    with pytest.raises(UserError, match="target task itself"):
        run(tmp_path, "prior", dataset="a", transfer_from="tiny/a")


def test_the_llm_graphs_run_on_the_synthetic_space_too(tmp_path):
    from agents.structured import Asker
    from tests.fakes import Scripted

    settings = prepare(load_settings(runs_dir=tmp_path, space="tiny", dataset="a", budget=3))
    answer = {"rationale": "bigger", "architectures": [["large", "large", "small"]] * 4}
    result = execute(RunDir.create(settings), {"designer": Asker(role="designer", label="s",
                                                                  model=Scripted(answers=[answer, "garbage"]))})
    assert result["evaluations"] == 3 and result["best"]["val_acc"] >= 96


def test_a_draw_of_several_candidates_holds_no_two_isomorphic_cells():
    """LLMatic's 10 random starting cells once held two NB201 cells that compute the same network
    (an unused node's edges differ): one network evaluated twice.  A draw compares canonical forms."""
    import itertools
    from types import SimpleNamespace

    from graphs import search
    from graphs.state import SearchState
    from spaces.nb201 import NB201Space

    space = NB201Space()
    twin_a = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|none~2|"
    twin_b = "|none~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    other = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert twin_a != twin_b and space.canonical(twin_a) == space.canonical(twin_b)
    ctx = SimpleNamespace(space=space, settings=load_settings(dataset="cifar10"))
    drawn = search._draw(ctx, SearchState(), 2, itertools.cycle([twin_a, twin_b, other]).__next__, "random", "test")
    assert [t.arch for t in drawn] == [twin_a, other]
