"""The Inspector's regression set (tests/data/inspector/questions.json): 35 questions with frozen
answers over three recorded runs (GENIUS, LLMatic, LAPT), plus 20 held-out paraphrases.

A scripted model that picks the expected query and copies the facts must get every answer right
with its phrasing kept; a scripted model that picks nonsense and invents numbers must still get
every answer right (the router and the faithfulness check stand in) and never be quoted.  The
embedded model must get at least 90% of the set (the issue's 27 of 30), in a few minutes."""

from __future__ import annotations

import math
import re

import pytest

from agents.inspector import Inspector
from agents.structured import Asker
from bench.inspector_qa import FROZEN, load_set, right, run_set
from memory.journal import Journal
from memory.runs import RunDir
from tests.fakes import Scripted
from tools.inspect_run import RunLog

QUESTIONS, PARAPHRASES = load_set("questions"), load_set("paraphrases")
RUNS = sorted({item.run for item in QUESTIONS})


def test_the_set_is_large_enough_and_covers_the_three_graphs():
    assert len(QUESTIONS) >= 30 and RUNS == ["genius", "lapt", "llmatic"]
    assert sum(item.absent for item in QUESTIONS) >= 3 and sum(bool(item.cites) for item in QUESTIONS) >= 3
    assert len({item.id for item in QUESTIONS + PARAPHRASES}) == len(QUESTIONS) + len(PARAPHRASES)


def test_expected_values_are_in_the_recorded_files():
    """The frozen answers were read from the runs: each expected value is in the run's files, or
    is a token total summed from its answers."""
    for item in QUESTIONS + PARAPHRASES:
        files = "".join((FROZEN / item.run / name).read_text() for name in ("events.jsonl", "result.json"))
        totals = {}
        for e in RunLog(RunDir(FROZEN / item.run)).of("answer"):
            totals[e.role] = totals.get(e.role, 0) + e.tokens_in + e.tokens_out
        for value in item.expect:
            number = re.fullmatch(r"(?:step|generation) (\d+)", value)
            assert (number.group(1) if number else value) in files or value in map(str, totals.values()), (item.id, value)


def oracle(item_of):
    """Picks the query the set expects (when offered) and phrases by copying the facts."""
    def answer(messages):
        prompt = messages[-1].content
        if prompt.startswith("Question:"):  # the pick: the menu lists "- name: description"
            offered = re.findall(r"^- (\w+):", prompt, re.M)
            question = re.match(r"Question: (.*)", prompt).group(1)
            wanted = item_of[question].query
            return {"query": wanted if wanted in offered else offered[0]}
        return {"answer": re.search(r"^Facts: (.*)$", prompt, re.M).group(1)}
    return answer


def adversary(messages):
    """Picks a query that does not exist and answers with an invented number."""
    if messages[-1].content.startswith("Question:"):
        return {"query": "delete_everything"}
    return {"answer": "The answer is 42.42 at step 99."}


def scripted_set(items, behaviour, tmp_path):
    inspectors = {}

    def inspector(run: str) -> Inspector:
        if run not in inspectors:
            model = Scripted(answers=[behaviour])
            inspectors[run] = Inspector(Asker(role="inspector", label="scripted", model=model),
                                        RunLog(RunDir(FROZEN / run)), Journal(tmp_path / f"{run}.jsonl"))
        return inspectors[run]

    return run_set(items, inspector)


@pytest.mark.parametrize("items", [QUESTIONS, PARAPHRASES], ids=["questions", "paraphrases"])
def test_every_answer_is_right_with_a_model_that_picks_well(items, tmp_path):
    verdicts = scripted_set(items, oracle({item.question: item for item in items}), tmp_path)
    assert [v.item.id for v in verdicts if not v.right] == []
    # a copy of the facts is faithful, so the model's phrasing is kept (at_step answers have no values to check)
    assert all(v.reply["phrased_by"] == "model" for v in verdicts if v.reply["found"] and "at_step" not in v.reply["query"])


@pytest.mark.parametrize("items", [QUESTIONS, PARAPHRASES], ids=["questions", "paraphrases"])
def test_every_answer_is_right_with_a_model_that_picks_nonsense_and_invents(items, tmp_path):
    verdicts = scripted_set(items, adversary, tmp_path)
    assert [v.item.id for v in verdicts if not v.right] == []
    assert not any(v.reply["phrased_by"] == "model" or "42.42" in v.reply["answer"] for v in verdicts)


def test_right_checks_whole_values_and_citations():
    from types import SimpleNamespace as Reply

    item = next(i for i in QUESTIONS if i.id == "g07")  # fallbacks at steps 4, 7, 10, 13, 16
    assert right(item, Reply(found=True, answer="at steps 4, 7, 10, 13, 16", cited_steps=[4]))
    assert not right(item, Reply(found=True, answer="at steps 4, 17, 10, 13, 16", cited_steps=[4]))
    assert not right(item, Reply(found=False, answer="at steps 4, 7, 10, 13, 16", cited_steps=[4]))
    why = next(i for i in QUESTIONS if i.id == "g10")  # cites step 5
    assert right(why, Reply(found=True, answer="...", cited_steps=[5]))
    assert not right(why, Reply(found=True, answer="...", cited_steps=[2, 3, 5]))


@pytest.mark.slow
def test_the_embedded_model_gets_nine_in_ten(tmp_path):
    """Measured on the shared 2-core machine at load ~5: SmolLM2-135M 35 of 35 in 288 s (118 s of CPU);
    Qwen2.5-Coder-0.5B (--model inspector=embedded:qwen2.5-coder-0.5b) 35 of 35 in 344 s (158 s of CPU)."""
    from bench.inspector_qa import inspector_for
    from settings import load_settings

    settings = load_settings()
    inspectors = {run: inspector_for(RunDir(FROZEN / run), settings, tmp_path) for run in RUNS}
    verdicts = run_set(QUESTIONS, inspectors.__getitem__)
    wrong = [(v.item.id, v.reply["answer"]) for v in verdicts if not v.right]
    assert len(verdicts) - len(wrong) >= math.ceil(0.9 * len(verdicts)), wrong
