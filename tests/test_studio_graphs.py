"""The served graphs (studio.py) in process, with scripted models: LLMatic and LAPT as Studio runs
them, with and without approval (tests/test_studio.py drives the real server)."""

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import graphs.run
import studio
from agents.structured import Asker
from memory.runs import RunDir
from tests.fakes import Scripted
from tests.graphs.test_lapt import answer


@pytest.fixture
def scripted(monkeypatch, tmp_path):
    """Scripted role models for every served run, and runs in a tmp folder."""
    monkeypatch.setenv("ARCHAGENTS_RUNS_DIR", str(tmp_path))
    # LLMatic asks the embedded designer for structured edits: one answer fits a mutation and a combination
    edits = [{"changes": [{"position": "node1_from_0", "op": "nor_conv_3x3"}], "architecture": ["nor_conv_1x1"] * 6},
             {"changes": [{"position": "node3_from_2", "op": "avg_pool_3x3"}], "architecture": ["nor_conv_3x3"] * 6}]
    models = {"designer": Scripted(answers=edits), "learner": Scripted(answers=[answer])}
    monkeypatch.setattr(graphs.run, "make_askers", lambda settings, journal=None: {
        role: Asker(role=role, label="scripted", model=model) for role, model in models.items()})
    return tmp_path


def served(name):
    return studio.served(name).builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("name,options", [("lapt", {"budget": 6}),
                                          ("llmatic", {"budget": 6, "initial": 2, "batch": 2})])
def test_llmatic_and_lapt_run_to_a_best_architecture_without_pausing(scripted, name, options):
    app, config = served(name), {"configurable": {"thread_id": name}}
    final = app.invoke(options, config)
    assert final["evaluations"] == 6 and final["best"]["arch"] and not app.get_state(config).next
    assert RunDir.open(scripted, final["run_id"]).result()["best"] == final["best"]


def test_lapt_pauses_at_each_round_and_resumes_with_studios_value(scripted):
    app, config = served("lapt"), {"configurable": {"thread_id": "t"}}
    app.invoke({"approve": True}, config)  # the paper's budget: 20 evaluations in 3 rounds
    paused = app.get_state(config).interrupts[0].value
    assert paused["kind"] == "space" and paused["round"] == 1 and paused["principles"]
    app.invoke(Command(resume={"action": "edit", "refined": {"node1_from_0": ["nor_conv_3x3"]}}), config)
    assert app.get_state(config).interrupts[0].value["round"] == 2
    while app.get_state(config).next:
        app.invoke(Command(resume={"action": "accept"}), config)
    final = app.get_state(config).values
    run = RunDir.open(scripted, final["run_id"])
    assert run.result()["lapt"]["rounds"][0]["refined"]["allowed"]["node1_from_0"] == ["nor_conv_3x3"]
    assert [e.data["kind"] for e in run.journal().events() if e.role == "human"][0] == "edit"


def test_llmatic_pauses_at_each_batch_and_studios_edit_decides_what_is_evaluated(scripted):
    app, config = served("llmatic"), {"configurable": {"thread_id": "t"}}
    app.invoke({"budget": 6, "initial": 2, "batch": 2, "approve": True, "critic": "rules"}, config)
    paused = app.get_state(config).interrupts[0].value
    assert paused["kind"] == "batch" and paused["generation"] == 1 and len(paused["batch"]) == 2
    kept = paused["batch"][0]["arch"]
    app.invoke(Command(resume={"action": "edit", "batch": [kept]}), config)  # drop the second offspring
    while app.get_state(config).next:
        app.invoke(Command(resume={"action": "accept"}), config)
    run = RunDir.open(scripted, app.get_state(config).values["run_id"])
    first = [e.data for e in run.journal().events() if e.kind == "offspring" and e.data["generation"] == 1]
    assert len({c["arch"] for c in paused["batch"]}) == 2  # two different cells were offered
    assert sorted((c["arch"] == kept, c["outcome"] == "ranked_out") for c in first) == [(False, True), (True, False)]
