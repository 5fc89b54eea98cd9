from agents import learner
from agents.structured import Asker
from memory.journal import Journal
from spaces import get
from tests.fakes import Scripted

SPACE = get("nb201")
POSITIONS = ("node1_from_0", "node2_from_0", "node2_from_1", "node3_from_0", "node3_from_1", "node3_from_2")


def test_principles_and_refined_space(tmp_path):
    answer = {"principles": ["prefer 3x3 convolutions", "keep a skip to the output"],
              "refined": {p: ["nor_conv_3x3", "skip_connect", "nor_conv_3x3"] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[answer]))
    top = [(SPACE.arch_at(6111), 91.5), (SPACE.arch_at(1), 90.7)]
    principles, usage = learner.learn(asker, SPACE, "cifar10", top, Journal(tmp_path / "e"), 0, max_ops=3)
    assert principles.principles[0] == "prefer 3x3 convolutions"
    assert principles.refined["node3_from_2"] == ["nor_conv_3x3", "skip_connect"]
    prompt = asker.model.seen[0][-1].content
    assert "layer_list = [node1_from_0, node2_from_0" in prompt and "-> 91.50" in prompt
    assert f"1. {learner.as_layer_list(SPACE, SPACE.arch_at(6111))}" in prompt


def test_refined_space_needs_an_op_per_position(tmp_path):
    empty = {"principles": ["x"], "refined": {p: [] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[empty]))
    principles, usage = learner.learn(asker, SPACE, "cifar10", [(SPACE.arch_at(0), 80.0)], Journal(tmp_path / "e"), 0)
    assert principles is None and usage.calls == 3


def test_at_most_max_ops_per_position(tmp_path):
    three = {"principles": ["x"], "refined": {p: ["nor_conv_3x3", "skip_connect", "none"] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[three]))
    principles, _ = learner.learn(asker, SPACE, "cifar10", [(SPACE.arch_at(0), 80.0)], Journal(tmp_path / "e"), 0,
                                  max_ops=2)
    assert principles is None
    principles, _ = learner.learn(asker, SPACE, "cifar10", [(SPACE.arch_at(0), 80.0)], Journal(tmp_path / "e"), 0,
                                  max_ops=3)
    assert principles.refined["node1_from_0"] == ["none", "nor_conv_3x3", "skip_connect"]


def current():
    return learner.Principles(principles=["prefer 3x3 convolutions"],
                              refined={p: ["nor_conv_3x3", "skip_connect"] for p in POSITIONS})


def test_adaptation_updates_from_the_top_architectures_when_the_search_improved(tmp_path):
    new = {"principles": ["3x3 everywhere"], "refined": {p: ["nor_conv_3x3"] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[new]))
    top = [(SPACE.arch_at(6111), 91.6), (SPACE.arch_at(1), 80.1)]
    adapted, _ = learner.adapt(asker, SPACE, "cifar100", current(), top, True, Journal(tmp_path / "e"), 1)
    prompt = asker.model.seen[0][-1].content
    assert "Update the design principles" in prompt and "P1. prefer 3x3 convolutions" in prompt and "-> 91.60" in prompt
    assert adapted.principles == ["3x3 everywhere"] and adapted.refined["node3_from_2"] == ["nor_conv_3x3"]


def test_adaptation_explores_the_left_out_operations_when_it_did_not(tmp_path):
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[
        {"principles": ["pooling smooths"], "refined": {p: ["avg_pool_3x3"] for p in POSITIONS}}]))
    adapted, _ = learner.adapt(asker, SPACE, "cifar100", current(), [(SPACE.arch_at(6111), 91.6)], False,
                               Journal(tmp_path / "e"), 1)
    prompt = asker.model.seen[0][-1].content
    assert "found nothing better" in prompt and "Update the design principles" not in prompt
    assert "avg_pool_3x3 (left out at node1_from_0" in prompt and "nor_conv_1x1 (left out" in prompt
    assert "nor_conv_3x3 (left out" not in prompt
    assert adapted.refined["node1_from_0"] == ["avg_pool_3x3"]


def test_translation_keeps_the_transferred_principles(tmp_path):
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[{p: ["nor_conv_1x1"] for p in POSITIONS}]))
    translated, _ = learner.translate(asker, SPACE, "cifar100", ["prefer 1x1"], Journal(tmp_path / "e"), 0)
    assert translated.principles == ["prefer 1x1"] and translated.refined["node2_from_1"] == ["nor_conv_1x1"]
    assert "P1. prefer 1x1" in asker.model.seen[0][-1].content
