import pytest

from memory.archive import AddStatus, Archive
from memory.journal import Journal


def test_journal_appends_and_reopens(tmp_path):
    path = tmp_path / "events.jsonl"
    journal = Journal(path)
    journal.append(1, "prompt", role="designer", model="m", data={"x": 1})
    journal.append(1, "evaluation", data={"arch": "a", "val_acc": 90.0})
    reopened = Journal(path)
    event = reopened.append(2, "evaluation", data={"arch": "b"})
    assert event.seq == 2
    assert [e.kind for e in reopened.events()] == ["prompt", "evaluation", "evaluation"]
    assert reopened.find("evaluation", 1).data["arch"] == "a"
    assert reopened.find("evaluation", 3) is None


def test_journal_skips_a_line_cut_by_a_crash(tmp_path):
    path = tmp_path / "events.jsonl"
    Journal(path).append(0, "run")
    with path.open("a") as f:
        f.write('{"seq": 1, "step": 0, "ki')
    assert len(list(Journal(path).events())) == 1


def test_archive_keeps_the_better_elite_per_niche():
    archive = Archive()
    assert archive.insert("n1", "a", 80.0, 1) is AddStatus.NEW
    assert archive.insert("n1", "b", 79.0, 2) is AddStatus.NOT_ADDED
    assert archive.insert("n1", "b", 80.0, 2) is AddStatus.NOT_ADDED  # ties keep the incumbent
    assert archive.insert("n1", "c", 85.0, 3) is AddStatus.IMPROVE_EXISTING
    assert archive.insert("n2", "d", 70.0, 4) is AddStatus.NEW
    assert archive.elites["n1"].arch == "c" and archive.best().arch == "c"


def test_a_tool_call_journaled_before_a_kill_is_not_paid_for_again(tmp_path, monkeypatch):
    """kill -9 between the evaluator's tool_call line and the evaluation line: on resume the
    evaluation is made from the journaled result, the tool is not called again."""
    from types import SimpleNamespace

    import graphs.nodes as nodes
    import spaces

    space = spaces.get("nb201")
    arch = space.arch_at(7)
    first = Journal(tmp_path / "events.jsonl")
    result = space.evaluate(arch, "cifar10").model_dump()
    first.append(3, "tool_call", data={"tool": "query_nb201", "args": {"arch": arch, "dataset": "cifar10"},
                                       "result": result, "seconds": 0.01})
    resumed = Journal(tmp_path / "events.jsonl")  # the journal as a resumed run reads it
    assert resumed.tool_result_of(arch, "cifar10") is not None and resumed.evaluation_of(arch, "cifar10") is None
    monkeypatch.setattr(nodes, "evaluator", lambda space: pytest.fail("the tool was called again"))
    ctx = SimpleNamespace(settings=SimpleNamespace(dataset="cifar10"), journal=resumed, space=space)
    evaluation = nodes.evaluate_arch(ctx, arch, 3)
    assert evaluation.val_acc == result["val_acc"]
    kinds = [e.kind for e in resumed.events()]
    assert kinds == ["tool_call", "evaluation"]


def test_events_of_some_kinds_and_the_last_event(tmp_path):
    journal = Journal(tmp_path / "events.jsonl")
    assert journal.last() is None
    journal.append(0, "run", data={"event": "started"})
    for step in range(1, 300):  # past the 64 KiB the tail is first read in
        journal.append(step, "prompt", data={"messages": "x" * 500})
    journal.append(300, "error", data={"fault": "timeout"})
    journal.append(301, "answer", data={"content": '"kind":"run" said inside a line of another kind'})
    assert [e.kind for e in journal.events(("run", "error"))] == ["run", "error"]
    assert journal.last().step == 301
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('{"seq": 999, "ts": 1.0, "step": 302, "kind": "ans')  # cut by a crash mid-write
    assert journal.last().step == 301
