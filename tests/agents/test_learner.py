import pytest

from agents import learner
from agents.structured import Asker
from memory.journal import Journal
from memory.store import Principle
from spaces import get
from tests.fakes import Scripted
from tools import op_stats

SPACE = get("nb201")
POSITIONS = ("node1_from_0", "node2_from_0", "node2_from_1", "node3_from_0", "node3_from_1", "node3_from_2")
C3, C1, SK, AP, NO = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"
SCORED = op_stats.top_of(SPACE, "imagenet16", SPACE.size)  # the whole table, best first
STATS = op_stats.op_table(SPACE, SCORED, 50)


def ask(tmp_path, answer, **kwargs):
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[answer]))
    result, usage = learner.learn(asker, SPACE, "imagenet16", SCORED, 50, Journal(tmp_path / "e"), 0, **kwargs)
    return result, usage, asker.model.seen[0][-1].content


def test_the_learner_sees_the_architectures_and_their_statistics(tmp_path):
    answer = {"principles": ["Prefer nor_conv_3x3 on node2_from_1 edges."],
              "refined": {p: [C3, SK, C3] for p in POSITIONS}}
    result, usage, prompt = ask(tmp_path, answer, max_ops=3)
    assert result.texts() == ["Prefer nor_conv_3x3 on node2_from_1 edges."] and not result.statistical
    assert set(result.refined["node3_from_2"]) == {C3, SK}
    assert "layer_list = [node1_from_0, node2_from_0" in prompt and f"1. {learner.as_layer_list(SPACE, SCORED[0][0])}" in prompt
    assert "Statistics of the top 50 against the other 15575" in prompt and "node2_from_1: nor_conv_3x3 74%/20%" in prompt


@pytest.mark.parametrize("text,reason", [
    ("] {", "too short"), ("1.1.1.1.1.1.1.1", "too short"), ("conv conv conv conv conv", "repeats"),
    ("Use sep_conv_5x5 on node1_from_0 for more context.", "does not have"),
    ("Deeper networks generalise better in general.", "names no operation"),
    ("Put avg_pool_3x3 on node1_from_0 to smooth the input.", "contradicts the statistics"),
    ("Avoid skip_connect on node3_from_0, it hurts accuracy.", "contradicts the statistics"),
    # the top 50 never hold it there (0 of 50): once read as "too few to tell"
    ("Put skip_connect on node1_from_0 for a shortcut.", "contradicts the statistics"),
    # the table's form with numbers of the model's own (a LAPT run stored one like it)
    ("On node2_from_1, prefer nor_conv_3x3: it is in 20% of the top 50 against 20% of the rest.",
     "quotes 20% of the top; the statistics say 74%"),
    ("On node1_from_0, prefer nor_conv_3x3: it is in 66% of the top 50 against 80% of the rest.",
     "quotes 80% of the rest"),
])
def test_degenerate_and_contradicted_principles_are_dropped_with_a_reason(text, reason):
    kept, dropped = learner.vet(SPACE, [text], STATS)
    assert not kept and reason in dropped[0]["reason"]


def test_a_small_top_is_counted_once_per_position_the_principle_names():
    """Top 3 at two positions: 6 placements, enough to contradict (MIN_COUNT) praise of an operation
    the top holds at 1 of 3 against 15 of 20 in the rest, at each position."""
    def row(position):
        return op_stats.OpStat(position=position, op=C3, top_count=1, top_freq=1 / 3, rest_count=15,
                               rest_freq=0.75, enrichment=0.44, mean_with=50.0, mean_without=60.0,
                               n_with=16, n_without=7)
    stats = [row("node1_from_0"), row("node2_from_0")]
    kept, dropped = learner.vet(SPACE, ["Prefer nor_conv_3x3 on node1_from_0 and node2_from_0."], stats)
    assert not kept and "contradicts the statistics" in dropped[0]["reason"]


def test_a_principle_that_holds_keeps_the_statistics_it_rests_on():
    kept, dropped = learner.vet(SPACE, ["Avoid avg pooling on node1_from_0; it is almost never in the best."], STATS)
    assert not dropped and kept[0].origin == "model"
    assert "node1_from_0 avg_pool_3x3: top 1 (2%)" in kept[0].evidence


def test_a_quote_that_matches_the_statistics_is_kept_without_its_list_marker():
    kept, dropped = learner.vet(SPACE, ["1. 1. On node2_from_1, prefer nor_conv_3x3: it is in 74% of the top 50 "
                                        "against 20% of the rest."], STATS)
    assert not dropped
    assert kept[0].text == "On node2_from_1, prefer nor_conv_3x3: it is in 74% of the top 50 against 20% of the rest."


def test_when_nothing_survives_the_statistics_write_the_principles(tmp_path):
    junk = {"principles": ["] {", "", "1.1.1.1.1"], "refined": {p: [NO] for p in POSITIONS}}
    result, usage, _ = ask(tmp_path, junk, min_cells=48)
    assert result.statistical and len(result.dropped) == 3
    assert all(p.origin == "statistics" and p.evidence for p in result.principles)
    assert "On node2_from_1, prefer nor_conv_3x3: it is in 74% of the top 50 against 20% of the rest." in result.texts()
    cells = 1
    for ops in result.refined.values():
        cells *= len(ops)
    assert cells >= 48 and NO not in result.refined["node1_from_0"]  # the statistics chose, not the junk
    event = next(e for e in Journal(tmp_path / "e").events() if e.kind == "principles")
    assert event.data["statistical"] and event.data["cells"] == cells


def test_an_unreadable_answer_also_gets_the_statistics(tmp_path):
    result, usage, _ = ask(tmp_path, "nonsense")
    assert result.statistical and usage.calls == 3 and result.principles


def test_a_thin_space_is_widened_with_the_operations_the_statistics_rank_first(tmp_path):
    thin = {"principles": ["Prefer nor_conv_3x3 on node2_from_1 edges."], "refined": {p: [C3] for p in POSITIONS}}
    result, _, _ = ask(tmp_path, thin, min_cells=16)
    assert all(C3 in ops for ops in result.refined.values())
    assert set(result.refined["node3_from_0"]) == {C3, SK}  # skip_connect: 70% of the top there
    cells = 1
    for ops in result.refined.values():
        cells *= len(ops)
    assert 16 <= cells < 32


def current():
    return learner.Principles(principles=[Principle(text="Prefer nor_conv_3x3 on every edge of the cell.")],
                              refined={p: [C3, SK] for p in POSITIONS})


def test_adaptation_updates_from_the_top_architectures_when_the_search_improved(tmp_path):
    new = {"principles": ["Use nor_conv_3x3 on node2_from_1 and node3_from_2."], "refined": {p: [C3] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[new]))
    found = [(SPACE.arch_at(6111), 91.6), (SPACE.arch_at(1), 80.1), (SPACE.arch_at(2), 70.0)]
    adapted, _ = learner.adapt(asker, SPACE, "cifar100", current(), found, 2, True, Journal(tmp_path / "e"), 1)
    prompt = asker.model.seen[0][-1].content
    assert "Update the design principles" in prompt and "P1. Prefer nor_conv_3x3 on every edge" in prompt
    assert "-> 91.60" in prompt and "Statistics of the top 2 found against the other 1" in prompt
    assert adapted.texts() == ["Use nor_conv_3x3 on node2_from_1 and node3_from_2."]


def test_adaptation_explores_the_left_out_operations_when_it_did_not(tmp_path):
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[
        {"principles": ["Try avg_pool_3x3 on node1_from_0 to smooth the input."], "refined": {p: [AP] for p in POSITIONS}}]))
    adapted, _ = learner.adapt(asker, SPACE, "cifar100", current(), [(SPACE.arch_at(6111), 91.6)], 1, False,
                               Journal(tmp_path / "e"), 1)
    prompt = asker.model.seen[0][-1].content
    assert "found nothing better" in prompt and "Update the design principles" not in prompt
    assert "avg_pool_3x3 (left out at node1_from_0" in prompt and "nor_conv_1x1 (left out" in prompt
    assert "nor_conv_3x3 (left out" not in prompt
    assert adapted.refined["node1_from_0"] == [AP]


def test_translation_keeps_the_transferred_principles(tmp_path):
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[{p: [C1, C3] for p in POSITIONS}]))
    kept = [Principle(text="Prefer nor_conv_1x1 where a convolution is cheap enough.")]
    translated, _ = learner.translate(asker, SPACE, "cifar100", kept, SCORED, 50, Journal(tmp_path / "e"), 0)
    assert translated.principles == kept and translated.refined["node2_from_1"] == [C1, C3]
    assert "P1. Prefer nor_conv_1x1" in asker.model.seen[0][-1].content
