from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agents import designer
from agents.structured import Asker
from memory.journal import Journal
from spaces import get
from spaces.base import Evaluation, Trial
from tests.fakes import Scripted, cell

SPACE = get("nb201")
A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
B = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"


def test_first_prompt_is_the_problem_encoding():
    messages = designer.conversation(SPACE, "cifar100", [])
    assert isinstance(messages[0], SystemMessage) and isinstance(messages[1], HumanMessage)
    assert "cifar100" in messages[1].content and "nor_conv_3x3" in messages[1].content


def test_feedback_carries_accuracy_and_rationale_history():
    trials = [Trial(step=1, arch=A, source="llm", rationale="deep convs", evaluation=SPACE.evaluate(A, "cifar10")),
              Trial(step=2, arch=A, source="llm", rationale="again", accepted=False, verdict="it is identical.")]
    messages = designer.conversation(SPACE, "cifar10", trials)
    assert isinstance(messages[2], AIMessage) and "deep convs" in messages[2].content
    assert "91.55" in messages[3].content and "beats every" in messages[3].content
    assert "not evaluated: it is identical." in messages[-1].content


def test_fallback_results_are_reported_not_attributed_to_the_model():
    trials = [Trial(step=1, arch=A, source="llm", rationale="mine", evaluation=SPACE.evaluate(A, "cifar10")),
              Trial(step=2, arch=B, source="fallback", rationale="seeded mutation", evaluation=SPACE.evaluate(B, "cifar10"))]
    messages = designer.conversation(SPACE, "cifar10", trials)
    assert sum(isinstance(m, AIMessage) for m in messages) == 1
    assert "not your proposal" in messages[-1].content and "88.48" in messages[-1].content
    assert "seeded mutation" not in " ".join(str(m.content) for m in messages)


def test_a_failed_training_goes_back_to_the_designer_with_its_reason():
    failed = Evaluation(arch=B, canonical=B, failure="shape_error", detail="mat1 and mat2 shapes cannot be multiplied")
    trials = [Trial(step=1, arch=A, source="llm", evaluation=SPACE.evaluate(A, "cifar10")),
              Trial(step=2, arch=B, source="llm", rationale="wider", evaluation=failed)]
    messages = designer.conversation(SPACE, "cifar10", trials)
    assert isinstance(messages[-2], AIMessage) and "wider" in messages[-2].content
    assert "could not be trained (shape_error): mat1 and mat2" in messages[-1].content


def test_old_exchanges_are_summarised():
    trials = [Trial(step=i, arch=SPACE.arch_at(i), source="llm", evaluation=SPACE.evaluate(SPACE.arch_at(i), "cifar10"))
              for i in range(designer.WINDOW + 5)]
    messages = designer.conversation(SPACE, "cifar10", trials)
    assert "Earlier experiments" in messages[2].content
    assert sum(isinstance(m, AIMessage) for m in messages) == designer.WINDOW


def test_propose_parses_the_architecture(tmp_path):
    asker = Asker(role="designer", label="fake", model=Scripted(answers=[cell(*["nor_conv_3x3"] * 6, rationale="x" * 999)]))
    arch, rationale, usage = designer.propose(asker, SPACE, "cifar10", [], Journal(tmp_path / "e"), 1)
    assert arch == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert len(rationale) == designer.RATIONALE_CHARS and usage.calls == 1


def test_invalid_operation_never_becomes_an_architecture(tmp_path):
    asker = Asker(role="designer", label="fake", model=Scripted(answers=[cell(*["conv_5x5"] * 6)]))
    arch, _, usage = designer.propose(asker, SPACE, "cifar10", [], Journal(tmp_path / "e"), 1)
    assert arch is None and usage.calls == 3  # retried twice, then given up


def test_retry_temperature_schedule():
    assert designer.retry_temperature(0.0, 0) == 0.0
    assert designer.retry_temperature(0.0, 2) == 0.8
    assert designer.retry_temperature(0.0, 9) == 1.2
    assert designer.retry_temperature(1.5, 3) == 1.5
