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
    principles, usage = learner.learn(asker, SPACE, "cifar10", top, Journal(tmp_path / "e"), 0)
    assert principles.principles[0] == "prefer 3x3 convolutions"
    assert principles.refined["node3_from_2"] == ["nor_conv_3x3", "skip_connect"]
    prompt = asker.model.seen[0][-1].content
    assert "node1_from_0 = " in prompt and "91.50%" in prompt


def test_refined_space_needs_an_op_per_position(tmp_path):
    empty = {"principles": ["x"], "refined": {p: [] for p in POSITIONS}}
    asker = Asker(role="learner", label="fake", model=Scripted(answers=[empty]))
    principles, usage = learner.learn(asker, SPACE, "cifar10", [(SPACE.arch_at(0), 80.0)], Journal(tmp_path / "e"), 0)
    assert principles is None and usage.calls == 3
