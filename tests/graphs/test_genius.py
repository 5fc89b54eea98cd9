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
    """A run in the paper's mode unless told otherwise: one whole proposal per call, rule critic."""
    settings = prepare(load_settings(runs_dir=tmp_path, **{"designer": "genius", "critic": "rules", **overrides}))
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
    assert f"{first_acc:.2f}" in second_prompt[-1].content
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
    """Every proposal costs an evaluation; a repeat reads its result back from the journal."""
    run = start(tmp_path, budget=3, critic="off")
    result = execute(run, designer(Scripted(answers=[DISTINCT[0]])))
    assert result["evaluations"] == 3 and result["archive_size"] == 1
    assert len({e.data["arch"] for e in events(run, "evaluation")}) == 1


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
    real_insert, calls = nodes.archive_insert, {"insert": 0}

    def crash_once(*args, **kwargs):
        calls["insert"] += 1
        if calls["insert"] == 2:
            raise KeyboardInterrupt("crash inside evaluate")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(nodes, "archive_insert", crash_once)
    with pytest.raises(KeyboardInterrupt):
        execute(run, designer(Scripted(answers=DISTINCT)))
    tool_calls_before = len(events(run, "tool_call"))
    result = execute(RunDir.open(tmp_path, run.id), designer(Scripted(answers=DISTINCT[2:])))
    assert result["evaluations"] == 2
    assert len(events(run, "tool_call")) == tool_calls_before == 2
    assert [e.step for e in events(run, "evaluation")] == [1, 2]


# --- the default: edits designer, evidence critic ---------------------------------------------


def edits_answer(messages):
    """Three edits of the best parent shown (its step is the first number of the list), one new cell."""
    prompt = messages[-1].content
    if "Evaluated so far" not in prompt:
        return {"rationale": "start wide", "architectures": [list(DISTINCT[i]["architecture"].values()) for i in range(3)]}
    parent = int(prompt.split("Evaluated so far")[1].split("\n")[1].split(":")[0])
    edits = [{"parent": parent, "position": p, "op": C3} for p in ("node2_from_1", "node3_from_0", "node3_from_1")]
    return {"rationale": "more 3x3 convolutions", "edits": edits,
            "architecture": list(DISTINCT[5]["architecture"].values())}


def test_edits_designer_and_evidence_critic_end_to_end(tmp_path):
    run = start(tmp_path, budget=4, designer="edits", critic="evidence", candidates=3, pool_rea=2, pool_random=4)
    model = Scripted(answers=[edits_answer])
    result = execute(run, designer(model))
    assert result["evaluations"] == 4 and result["usage"]["designer"]["calls"] == 4
    verdicts = [e.data for e in events(run, "critic") if e.data.get("kind") == "ranked"]
    assert len(verdicts) == 4
    for verdict in verdicts:  # the evidence and the reason are journaled, the chosen one ranked first
        # auto on NB201 without --transfer-from: knowledge-free evidence only
        assert verdict["ranking"][0]["arch"] == verdict["arch"] and set(verdict["evidence"]) == {"flops", "synflow"}
        assert verdict["pool"] >= 6 and verdict["reason"].startswith("best of")
        totals = [r["total"] for r in verdict["ranking"]]
        assert totals == sorted(totals, reverse=True)
        assert all(r["total"] == pytest.approx(r["score"] + r["credit"], abs=1e-3) for r in verdict["ranking"])
        assert set(verdict["credits"]) >= {"model"}
    # the designer's schema only offers the parents it was shown
    second = model.seen[1][-1].content
    assert "Not evaluated" not in second or "rejected" in second
    assert result["proposals"]["by_source"]  # which candidates were evaluated, by where they came from


def test_a_designer_that_never_answers_cannot_make_the_search_worse_than_its_baseline(tmp_path):
    """Garbage from the model: every round falls back to the contained search, counted."""
    run = start(tmp_path, budget=3, designer="edits", critic="evidence", pool_rea=2, pool_random=4)
    result = execute(run, designer(Scripted(answers=["not json"])))
    assert result["evaluations"] == 3 and result["proposals"]["unparseable_llm_answers"] == 3
    assert result["proposals"]["fallback"] == 3
    assert {t for t in result["proposals"]["by_source"]} <= {"rea", "random", "fallback"}


def test_llm_critic_picks_among_the_ranked_and_a_bad_pick_cannot_escape_the_list(tmp_path):
    run = start(tmp_path, budget=2, designer="edits", critic="llm", pool_rea=1, pool_random=3)
    askers = designer(Scripted(answers=[edits_answer]))
    askers["critic"] = Asker(role="critic", label="scripted", model=Scripted(answers=[
        {"reason": "the second has more convolutions", "choice": 2}, "unreadable"]))
    result = execute(run, askers)
    assert result["evaluations"] == 2 and result["usage"]["critic"]["calls"] >= 2
    ranked = [e.data for e in events(run, "critic") if e.data.get("kind") == "ranked"]
    assert ranked[0]["rank"] == 2 and ranked[0]["reason"] == "the second has more convolutions"
    assert ranked[1]["rank"] == 1 and "ranking decided" in ranked[1]["reason"]


def test_at_chance_cells_are_never_evaluated(tmp_path):
    zero = cell(NO, NO, NO, NO, NO, NO)
    run = start(tmp_path, budget=2, designer="genius", critic="evidence", pool_rea=0, pool_random=0)
    result = execute(run, designer(Scripted(answers=[zero])))
    assert all(e.data["val_acc"] > 20 for e in events(run, "evaluation"))
    assert any(e.data.get("kind") == "at_chance" for e in events(run, "critic"))
    assert result["evaluations"] == 2


def test_the_designer_can_be_asked_every_few_rounds(tmp_path):
    run = start(tmp_path, budget=6, designer="edits", critic="evidence", designer_every=3, candidates=3, pool_rea=1,
                pool_random=2)
    model = Scripted(answers=[edits_answer])
    result = execute(run, designer(model))
    assert result["evaluations"] == 6 and model.calls == 2 and result["proposals"]["fallback"] == 0
