import sqlite3
from contextlib import closing

import pytest

from agents.structured import Asker
from errors import UserError
from graphs import genius
from graphs.fork import fork, state_at
from graphs.run import checkpointer, execute
from tests.fakes import Scripted
from tests.recorded import ANSWERS, record


def snapshot(run):
    with closing(sqlite3.connect(run.checkpoint_path)) as connection:
        app = genius.build(run.settings()).compile(checkpointer=checkpointer(connection, run))
        return app.get_state({"configurable": {"thread_id": run.id}})


def parent_state_at(run, step):
    """Independently of graphs/fork.py: the newest state in LangGraph's history at `step`."""
    with closing(sqlite3.connect(run.checkpoint_path)) as connection:
        app = genius.build(run.settings()).compile(checkpointer=checkpointer(connection, run))
        return next(s for s in app.get_state_history({"configurable": {"thread_id": run.id}})
                    if s.values.get("step") == step)


def comparable(events):
    return [(e.step, e.kind, e.role, e.data) for e in events]


def test_fork_reproduces_the_state_at_that_step_and_continues(tmp_path):
    parent = record(tmp_path)
    original = parent_state_at(parent, 4)
    child = fork(parent, 4, ["designer=hf:some/other-model"])
    forked = snapshot(child)
    assert forked.values == original.values and forked.next == original.next == ("propose",)
    assert forked.values["evaluations"] == 2 and state_at(child, 4) == state_at(parent, 4)
    assert child.settings().models.designer.label() == "hf:some/other-model"
    assert child.settings().models.critic == parent.settings().models.critic
    parent_events = list(parent.journal().events())
    child_events = list(child.journal().events())
    copied = [e for e in parent_events if e.step <= 4 and e.kind != "result"]
    assert comparable(child_events[:len(copied)]) == comparable(copied)
    assert child_events[len(copied)].data == {"event": "forked", "parent": parent.id, "forked_at": 4,
                                               "models": {r: s.label() for r, s in child.settings().models}}
    info = child.info()
    assert (info.parent, info.forked_at, info.status) == (parent.id, 4, "interrupted")
    # with the same designer answers after the fork point, the fork repeats the parent
    result = execute(child, {"designer": Asker(role="designer", label="scripted", model=Scripted(answers=ANSWERS[3:]))})
    assert result["best_so_far"] == parent.result()["best_so_far"] and child.status() == "finished"
    evaluations = lambda run: [(e.step, e.data["arch"]) for e in run.journal().events() if e.kind == "evaluation"]  # noqa: E731
    assert evaluations(child) == evaluations(parent)
    assert parent.result()["run_id"] == parent.id  # the parent is untouched


def test_fork_at_a_step_without_checkpoint_is_a_user_error(tmp_path):
    parent = record(tmp_path)
    with pytest.raises(UserError, match="no checkpoint at step 42"):
        fork(parent, 42)
    assert [p.name for p in tmp_path.iterdir()] == [parent.id]


def test_fork_of_llmatic_starts_at_a_generation_and_breeds_the_same_offspring(tmp_path):
    from tests.graphs.test_llmatic import designer, editing_model, start

    parent = start(tmp_path, generations=2, batch=4, initial=4)
    execute(parent, designer(editing_model()))
    child = fork(parent, 1)
    assert state_at(child, 1) == state_at(parent, 1) and state_at(child, 1)["generation"] == 1
    execute(child, designer(editing_model()))
    offspring = lambda run: sorted((e.data["generation"], e.data["index"], e.data["arch"])  # noqa: E731
                                   for e in run.journal().events() if e.kind == "offspring")
    assert offspring(child) == offspring(parent)  # same seed, same plans: the fork repeats generation 2
    assert len([o for o in offspring(child) if o[0] == 2]) == 4
