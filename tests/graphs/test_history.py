"""Checkpoints that do not grow with the run (graphs/history.py)."""

import sqlite3
from contextlib import closing

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from graphs.history import History
from graphs.run import checkpoint_types, execute, prepare
from memory.runs import RunDir
from settings import load_settings
from spaces.base import Evaluation, Trial


def serde():
    return JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types())


def trial(i: int) -> Trial:
    return Trial(step=i, arch=f"a{i}", source="random", evaluation=Evaluation(arch=f"a{i}", canonical=f"a{i}",
                                                                             val_acc=float(i)))


def test_the_checkpoint_of_step_1000_is_no_bigger_than_that_of_step_100(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, graph="random", budget=1000)))
    result = execute(run, {})
    assert result["evaluations"] == 1000 and result["archive_size"] == 1000
    with closing(sqlite3.connect(run.checkpoint_path)) as db:
        rows = db.execute("SELECT length(checkpoint) FROM checkpoints ORDER BY rowid").fetchall()
        writes = db.execute("SELECT max(length(value)) FROM writes").fetchone()[0]
    sizes = [size for (size,) in rows]
    # 3 super-steps per evaluation; a checkpoint's counters grow by a few digits, nothing else does
    assert max(sizes[-30:]) - max(sizes[270:300]) < 64, (sizes[270:300], sizes[-30:])
    assert writes < 4096  # a node's write holds the history's length, not the history
    history = History(run.path / "history.jsonl", serde())
    assert [t.arch for t in history.items["trials"]] == [e.data["arch"] for e in run.journal().events()
                                                         if e.kind == "evaluation"]


def test_a_later_line_for_a_position_replaces_the_attempt_a_kill_cut_short(tmp_path):
    path = tmp_path / "history.jsonl"
    first = History(path, serde())
    marker = first.store("trials", [trial(0), trial(1), trial(2)])
    assert marker == {"__history__": "trials", "n": 3}
    # killed after writing 3 items while the last checkpoint counts 1; the re-run writes others at 1
    again = History(path, serde())
    assert [t.arch for t in again.load({"__history__": "trials", "n": 1})] == ["a0"]
    again.store("trials", [trial(0), trial(5)])
    with path.open("a") as f:
        f.write('{"name": "trials", "index": 2, "type": "msgpack", "val')  # a line cut mid-write
    reopened = History(path, serde())
    assert [t.arch for t in reopened.load({"__history__": "trials", "n": 2})] == ["a0", "a5"]
    assert len(reopened.items["trials"]) == 2  # the old a2 went with the attempt it belonged to
    # an unchanged prefix is not written again, and the cut line does not swallow the next one
    lines = [line for line in path.read_text().splitlines() if line]
    reopened.store("trials", reopened.load({"__history__": "trials", "n": 2}) + [trial(6)])
    assert len([line for line in path.read_text().splitlines() if line]) == len(lines) + 1
    assert [t.arch for t in History(path, serde()).items["trials"]] == ["a0", "a5", "a6"]


def test_a_checkpoint_counting_more_than_the_file_holds_is_refused(tmp_path):
    import pytest

    history = History(tmp_path / "history.jsonl", serde())
    with pytest.raises(ValueError, match="incomplete"):
        history.load({"__history__": "trials", "n": 1})


def test_the_pool_is_written_once_per_item_and_a_checkpoint_names_its_keys(tmp_path):
    path = tmp_path / "history.jsonl"
    history = History(path, serde())
    pool = [trial(0), trial(1), trial(2)]
    first = history.intern("pool", pool)
    carried = history.intern("pool", pool[1:] + [trial(3)])  # two carried over, one new
    assert first == {"__interned__": "pool", "keys": [0, 1, 2]} and carried["keys"] == [1, 2, 3]
    assert len(path.read_text().splitlines()) == 4
    reopened = History(path, serde())
    assert [t.arch for t in reopened.interned(carried)] == ["a1", "a2", "a3"]
    assert reopened.interned(first)[0] == pool[0]
    # loaded items are known again: storing them writes nothing; a new one gets a key after the file's
    lines = len(path.read_text().splitlines())
    again = reopened.interned(carried)
    assert reopened.intern("pool", again + [trial(4)])["keys"] == [1, 2, 3, 4]
    assert len(path.read_text().splitlines()) == lines + 1
    import pytest

    with pytest.raises(ValueError, match="incomplete"):
        History(path, serde()).interned({"__interned__": "pool", "keys": [99]})


def test_genius_checkpoints_hold_the_pool_by_keys_and_do_not_grow(tmp_path):
    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, graph="genius", designer="none", budget=300,
                                              evidence=["flops"])))
    result = execute(run, {})
    assert result["evaluations"] == 300
    with closing(sqlite3.connect(run.checkpoint_path)) as db:
        sizes = [size for (size,) in db.execute("SELECT length(checkpoint) FROM checkpoints ORDER BY rowid")]
        writes = db.execute("SELECT max(length(value)) FROM writes").fetchone()[0]
    assert max(sizes[-30:]) - max(sizes[270:300]) < 64 and max(sizes) < 4096, (sizes[270:300], sizes[-30:])
    assert writes < 4096  # the pool's keys, not its ~75 candidates
    # and the latest checkpoints give their pools back whole, as a resumed run reads them
    import itertools

    import graphs
    from graphs.run import checkpointer, open_checkpoints

    connection = open_checkpoints(run)
    try:
        app = graphs.get("genius").build(prepare(run.settings())).compile(checkpointer=checkpointer(connection, run))
        states = list(itertools.islice(app.get_state_history({"configurable": {"thread_id": run.id}}), 12))
    finally:
        connection.close()
    pools = [s.values["pool"] for s in states if s.values.get("pool")]
    assert pools and all(isinstance(t, Trial) and t.arch for pool in pools for t in pool)
    assert len({t.arch for t in pools[0]}) == len(pools[0]) > 10
