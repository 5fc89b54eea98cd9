import random

from agents.critic import check_rules, choose_with_llm, rank
from agents.structured import Asker
from memory.journal import Journal
from spaces import get
from spaces.base import Evaluation, Trial
from tests.fakes import Scripted

SPACE = get("nb201")
A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ISO_1 = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
ISO_2 = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"


def evaluated(*archs):
    return [Trial(step=i, arch=a, source="llm", evaluation=SPACE.evaluate(a, "cifar10")) for i, a in enumerate(archs, 1)]


def test_duplicate_is_rejected_with_the_step():
    verdict = check_rules(SPACE, "cifar10", A, evaluated(A), None, None)
    assert not verdict.accept and verdict.kind == "duplicate" and "step 1" in verdict.reason


def test_isomorphic_cell_is_rejected():
    verdict = check_rules(SPACE, "cifar10", ISO_2, evaluated(A, ISO_1), None, None)
    assert not verdict.accept and verdict.kind == "isomorphic" and ISO_1 in verdict.reason


def test_a_network_whose_evaluation_failed_is_not_evaluated_again():
    failed = Trial(step=3, arch=ISO_1, source="flops",
                   evaluation=Evaluation(arch=ISO_1, canonical=SPACE.canonical(ISO_1), failure="crashed"))
    for again in (ISO_1, ISO_2):  # the same string, and the same network written otherwise
        verdict = check_rules(SPACE, "cifar10", again, [failed], None, None)
        assert not verdict.accept and verdict.kind == "duplicate" and "failed" in verdict.reason and "step 3" in verdict.reason
    assert check_rules(SPACE, "cifar10", A, [failed], None, None).accept


def test_constraints():
    flops, params = SPACE.cost(A, "cifar10")
    assert check_rules(SPACE, "cifar10", A, [], flops - 1, None).kind == "constraint"
    assert check_rules(SPACE, "cifar10", A, [], None, params - 0.01).kind == "constraint"
    assert check_rules(SPACE, "cifar10", A, [], flops + 1, params + 0.01).accept


def test_new_cell_is_accepted():
    assert check_rules(SPACE, "cifar10", ISO_1, evaluated(A), None, None).accept


def test_a_cell_whose_output_is_always_zero_is_rejected_as_at_chance():
    zero = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"  # node 3 receives nothing
    verdict = check_rules(SPACE, "cifar10", zero, [], None, None)
    assert not verdict.accept and verdict.kind == "at_chance"
    assert SPACE.evaluate(zero, "cifar10").val_acc < 11  # the table agrees: chance on 10 classes


def test_rank_orders_by_mean_rank_of_every_kind_of_evidence():
    trials = [Trial(step=0, arch=a, source="baseline") for a in ("a", "b", "c")]
    evidence = [{"flops": 10.0, "naswot": 3.0}, {"flops": 30.0, "naswot": 2.0}, {"flops": 20.0, "naswot": 1.0}]
    ranked = rank(trials, evidence)
    # a: flops 0, naswot 1 -> 0.5; b: 1, 0.5 -> 0.75; c: 0.5, 0 -> 0.25
    assert [r.arch for r in ranked] == ["b", "a", "c"]
    assert [r.score for r in ranked] == [0.75, 0.5, 0.25]


def test_rank_ignores_a_kind_that_some_candidates_lack_and_averages_ties():
    trials = [Trial(step=0, arch=a, source="edit") for a in ("a", "b", "c")]
    ranked = rank(trials, [{"flops": 5.0, "synflow": 9.0}, {"flops": 5.0}, {"flops": 1.0}])
    assert [(r.arch, r.score) for r in ranked] == [("a", 0.75), ("b", 0.75), ("c", 0.0)]


def test_the_critic_model_picks_among_the_ranked_with_a_reason(tmp_path):
    trials = [Trial(step=0, arch=a, source="baseline") for a in (A, ISO_1, ISO_2)]
    ranked = rank(trials, [{"flops": 3.0}, {"flops": 2.0}, {"flops": 1.0}])
    asker = Asker(role="critic", label="fake", model=Scripted(answers=[{"reason": "deeper", "choice": 2}]))
    index, reason, usage = choose_with_llm(asker, SPACE, "cifar10", ranked, {}, evaluated(A), Journal(tmp_path / "e"), 3)
    assert (index, reason, usage.calls) == (1, "deeper", 1)
    prompt = asker.model.seen[0][-1].content
    assert "1. " in prompt and "flops 3" in prompt


def test_an_out_of_list_or_unreadable_choice_falls_back_to_the_ranking(tmp_path):
    ranked = rank([Trial(step=0, arch=A, source="baseline")], [{"flops": 1.0}])
    for answer in ({"reason": "x", "choice": 7}, "garbage"):
        asker = Asker(role="critic", label="fake", model=Scripted(answers=[answer]))
        index, reason, _ = choose_with_llm(asker, SPACE, "cifar10", ranked, {}, [], Journal(tmp_path / "e"), 3)
        assert index == 0 and "ranking decided" in reason


def test_standings_kept_up_to_date_equal_those_counted_from_scratch():
    import random

    import pytest

    from agents.critic import Standings, group_of
    from spaces.base import Evaluation, Trial

    rng = random.Random(3)
    trials = [Trial(step=i, arch=f"a{i}", source=rng.choice(["llm", "edit", "rea", "random"]),
                    evaluation=Evaluation(arch=f"a{i}", canonical=f"a{i}", val_acc=float(rng.randint(0, 9))))
              for i in range(60)]  # many ties
    kept = Standings()
    for n, trial in enumerate(trials, 1):
        kept.add(trial)
        values = sorted(t.val_acc for t in trials[:n])
        for group in ("model", "rea", "random"):
            mine = [t.val_acc for t in trials[:n] if group_of(t.source) == group]
            # (0-based average rank + 1/2) / n, from scratch
            expected = [((values.index(v) + n - 1 - values[::-1].index(v)) / 2 + 0.5) / n for v in mine]
            assert kept.mean(group) == (pytest.approx(sum(expected) / len(expected)) if mine else None)
    single = Standings(trials[:1])
    assert single.mean(group_of(trials[0].source)) == 0.5


def test_a_batch_is_not_won_whole_by_one_untried_source():
    from agents.critic import allocate

    rng = random.Random(0)
    cells = sorted({SPACE.sample_random(rng) for _ in range(60)})[:40]
    tried = [Trial(step=1, arch=cells[0], source="random", evaluation=SPACE.evaluate(cells[0], "cifar10")),
             Trial(step=2, arch=cells[1], source="random", evaluation=SPACE.evaluate(cells[1], "cifar10"))]
    pool = [Trial(step=3, arch=a, source="rea" if i % 2 else "random") for i, a in enumerate(cells[2:34])]
    evidence = [{"flops": float(i)} for i in range(len(pool))]  # evidence alone favours the later ones
    one, _ = allocate(pool, evidence, tried)
    assert {r.source for r in one[:8]} == {"rea"}  # one at a time: the untried source's optimism wins each pick
    batch, _ = allocate(pool, evidence, tried, batch=8)
    sources = [r.source for r in batch[:8]]
    assert sources.count("rea") >= 1 and sources.count("random") >= 2, sources  # the batch is shared
    assert sorted(r.arch for r in batch) == sorted(r.arch for r in one)  # nothing lost or repeated
