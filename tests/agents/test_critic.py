from agents.critic import check_rules, review_with_llm
from agents.structured import Asker
from memory.journal import Journal
from spaces import get
from spaces.base import Trial
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


def test_constraints():
    flops, params = SPACE.cost(A, "cifar10")
    assert check_rules(SPACE, "cifar10", A, [], flops - 1, None).kind == "constraint"
    assert check_rules(SPACE, "cifar10", A, [], None, params - 0.01).kind == "constraint"
    assert check_rules(SPACE, "cifar10", A, [], flops + 1, params + 0.01).accept


def test_new_cell_is_accepted():
    assert check_rules(SPACE, "cifar10", ISO_1, evaluated(A), None, None).accept


def test_llm_review_can_reject_and_says_why(tmp_path):
    asker = Asker(role="critic", label="fake", model=Scripted(answers=[{"accept": False, "reason": "too shallow"}]))
    verdict, usage = review_with_llm(asker, SPACE, "cifar10", ISO_1, "r", evaluated(A), Journal(tmp_path / "e"), 3)
    assert (verdict.accept, verdict.kind, verdict.reason) == (False, "llm_rejected", "too shallow")
    assert usage.calls == 1


def test_unreadable_llm_review_does_not_block(tmp_path):
    asker = Asker(role="critic", label="fake", model=Scripted(answers=["garbage"]))
    verdict, _ = review_with_llm(asker, SPACE, "cifar10", ISO_1, "r", [], Journal(tmp_path / "e"), 3)
    assert verdict.accept
