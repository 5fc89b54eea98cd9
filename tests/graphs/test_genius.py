import json

import pytest

from agents.structured import Asker
from graphs import nodes
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from tests.fakes import Scripted, cell

C3, C1, SK, AP, NO = "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"
DISTINCT = [cell(C3, C3, C3, SK, C3, C3), cell(C3, C1, C3, SK, C3, C3), cell(C1, C1, C1, SK, C1, C1),
            cell(AP, C3, C3, SK, C3, C3), cell(C3, C3, SK, SK, C3, C3), cell(C3, C3, C3, C3, C3, C3)]


def start(tmp_path, **overrides):
    settings = prepare(load_settings(runs_dir=tmp_path, **overrides))
    return RunDir.create(settings)


def designer(model):
    return {"designer": Asker(role="designer", label="scripted", model=model)}


def events(run, kind):
    return [e for e in run.journal().events() if e.kind == kind]


def test_genius_end_to_end(tmp_path):
    run = start(tmp_path, budget=5)
    model = Scripted(answers=DISTINCT)
    states = []
    result = execute(run, designer(model), on_state=states.append)
    assert result["evaluations"] == 5 and result["proposals"]["llm"] == 5 and result["proposals"]["fallback"] == 0
    assert result["best"]["val_acc"] == max(result["best_so_far"])
    assert result["best"]["rank"] >= 1 and result["best"]["test_acc"] > 90
    assert result["usage"]["designer"]["calls"] == 5
    assert json.loads(run.result_path.read_text()) == result
    assert states[-1].done and states[-1].evaluations == 5
    # the feedback loop: the second prompt shows the first proposal and its measured accuracy
    second_prompt = model.seen[1]
    first_acc = states[-1].trials[0].val_acc
    assert f"{first_acc:.2f}%" in second_prompt[-1].content
    kinds = {e.kind for e in run.journal().events()}
    assert {"run", "prompt", "answer", "critic", "tool_call", "evaluation", "archive", "result"} <= kinds


def test_repeats_are_rejected_then_replaced_by_a_logged_fallback(tmp_path):
    run = start(tmp_path, budget=3, max_rejections=2)
    model = Scripted(answers=[DISTINCT[0]])  # the same cell forever
    result = execute(run, designer(model))
    assert result["evaluations"] == 3
    assert result["proposals"]["llm_accepted"] == 1
    assert result["proposals"]["fallback"] == 2
    assert result["proposals"]["rejected_by_critic"] == 4
    fallbacks = events(run, "fallback")
    assert len(fallbacks) == 2 and "rejected" in fallbacks[0].data["reason"]
    # temperature rises with each rejection, and every call has its own seed
    temps = [t for t, _ in model.sampling]
    assert temps == [0.0, 0.0, 0.4, 0.0, 0.4]  # accepted, then two rejections, fallback, again
    assert len({s for _, s in model.sampling}) == len(model.sampling)


def test_unparseable_answers_fall_back(tmp_path):
    run = start(tmp_path, budget=2)
    result = execute(run, designer(Scripted(answers=["not json"])))
    assert result["evaluations"] == 2
    assert result["proposals"]["unparseable_llm_answers"] == 2 and result["proposals"]["fallback"] == 2


def test_critic_off_evaluates_duplicates(tmp_path):
    run = start(tmp_path, budget=3, critic="off")
    result = execute(run, designer(Scripted(answers=[DISTINCT[0]])))
    archs = [e.data["arch"] for e in events(run, "evaluation")]
    assert len(archs) == 3 and len(set(archs)) == 1 and result["archive_size"] == 1


def test_llm_critic_rejections_cost_no_evaluation(tmp_path):
    run = start(tmp_path, budget=2, critic="llm")
    askers = designer(Scripted(answers=DISTINCT))
    askers["critic"] = Asker(role="critic", label="scripted", model=Scripted(answers=[
        {"accept": False, "reason": "looks like the last one"}, {"accept": True, "reason": "ok"}]))
    result = execute(run, askers)
    assert result["evaluations"] == 2 and result["proposals"]["rejected_by_critic"] == 1
    assert result["usage"]["critic"]["calls"] == 3
    verdicts = [e.data["kind"] for e in events(run, "critic")]
    assert verdicts[0] == "llm_rejected"


def test_constraints_are_respected(tmp_path):
    run = start(tmp_path, budget=3, max_flops_m=60.0)
    result = execute(run, designer(Scripted(answers=DISTINCT)))
    assert all(e.data["flops_m"] <= 60.0 for e in events(run, "evaluation"))
    assert result["proposals"]["fallback"] >= 1


def test_resume_after_a_crash_repeats_no_evaluation(tmp_path):
    run = start(tmp_path, budget=4)
    crashing = Scripted(answers=DISTINCT, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        execute(run, designer(crashing))
    assert len(events(run, "evaluation")) == 2
    model = Scripted(answers=DISTINCT[2:])
    result = execute(RunDir.open(tmp_path, run.id), designer(model))
    steps = [e.step for e in events(run, "evaluation")]
    assert result["evaluations"] == 4 and steps == [1, 2, 3, 4]
    assert model.calls == 2  # only the proposals that were missing
    assert [e.data["event"] for e in events(run, "run")] == ["started", "resumed"]
    # a finished run resumes to its result without calling anything
    again = Scripted(answers=DISTINCT)
    assert execute(RunDir.open(tmp_path, run.id), designer(again)) == result and again.calls == 0


def test_interrupted_evaluation_is_not_paid_twice(tmp_path, monkeypatch):
    """The crash comes after the evaluation was journaled but before the node finished:
    LangGraph re-runs the node, which must reuse the journaled result."""
    run = start(tmp_path, budget=2)
    real_insert, calls = nodes.archive_insert.archive_insert, {"insert": 0}

    def crash_once(*args, **kwargs):
        calls["insert"] += 1
        if calls["insert"] == 2:
            raise KeyboardInterrupt("crash inside evaluate")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(nodes.archive_insert, "archive_insert", crash_once)
    with pytest.raises(KeyboardInterrupt):
        execute(run, designer(Scripted(answers=DISTINCT)))
    tool_calls_before = len(events(run, "tool_call"))
    result = execute(RunDir.open(tmp_path, run.id), designer(Scripted(answers=DISTINCT[2:])))
    assert result["evaluations"] == 2
    assert len(events(run, "tool_call")) == tool_calls_before == 2
    assert [e.step for e in events(run, "evaluation")] == [1, 2]
