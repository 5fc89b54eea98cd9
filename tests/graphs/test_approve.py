import pytest

from agents.structured import Asker
from errors import UserError
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from tests.fakes import Scripted
from tests.graphs.test_genius import DISTINCT, events

EDITED = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def designer():
    return {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=DISTINCT))}


def test_user_rejects_edits_and_accepts_proposals(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, budget=2, approve=True)))
    shown, decisions = [], iter([{"action": "reject"}, {"action": "edit", "arch": EDITED}, {"action": "accept"}])

    def decide(proposal):
        shown.append(proposal)
        return next(decisions)

    # without an answer the run pauses at the first proposal, evaluates nothing, and is resumable
    assert execute(run, designer()) == {} and not events(run, "evaluation") and run.status() == "interrupted"
    states = []
    result = execute(run, designer(), on_state=states.append, on_interrupt=decide)
    assert result["evaluations"] == 2 and states[-1].done  # the pauses' own stream chunks are skipped
    assert [p["step"] for p in shown] == [1, 2, 3] and shown[0]["proposal"]["node1_from_0"] == "nor_conv_3x3"
    human = [e.data for e in events(run, "critic") if e.role == "human"]
    assert [(d["kind"], d["accept"]) for d in human] == [("reject", False), ("edit", True), ("accept", True)]
    evaluated = [(e.step, e.data["arch"]) for e in events(run, "evaluation")]
    assert evaluated[0] == (2, EDITED) and evaluated[1][0] == 3
    assert human[1]["proposed"] != EDITED and result["proposals"]["rejected_by_critic"] == 1


def test_an_invalid_edit_counts_as_a_rejection(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, budget=1, approve=True)))
    decisions = iter([{"action": "edit", "arch": "|conv~0|"}, {"action": "accept"}])
    execute(run, designer(), on_interrupt=lambda proposal: next(decisions))
    human = [e.data for e in events(run, "critic") if e.role == "human"]
    assert not human[0]["accept"] and "not a valid architecture" in human[0]["reason"]


def test_approve_is_refused_where_the_graph_cannot_pause_per_proposal():
    with pytest.raises(UserError, match="--approve is not available for --graph llmatic"):
        prepare(load_settings(graph="llmatic", approve=True))
