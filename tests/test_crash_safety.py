"""kill -9 at random moments, then --resume, until the run finishes: no completed evaluation is lost,
none is repeated, and the journal, the result, the memory and the checkpoints agree (issue 16).
The models are a fake OpenAI-compatible server answering slowly, so the kills land mid-call too."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memory.journal import Journal
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
CELL = {"node1_from_0": "nor_conv_3x3", "node2_from_0": "nor_conv_3x3", "node2_from_1": "skip_connect",
        "node3_from_0": "skip_connect", "node3_from_1": "nor_conv_3x3", "node3_from_2": "nor_conv_1x1"}
POSITIONS = list(CELL)
ANSWERS = {
    "genius": {"rationale": "convolutions with a skip", "architecture": CELL},
    "llmatic": {"changes": [{"position": "node1_from_0", "op": "nor_conv_1x1"}], "architecture": list(CELL.values())},
    "lapt": {"principles": ["Prefer nor_conv_3x3 on node2_from_1 and node1_from_0."],
             "refined": {p: ["nor_conv_3x3", "skip_connect"] for p in POSITIONS}},
}
ARGS = {
    "genius": ["--graph", "genius", "--designer", "genius", "--budget", "8"],
    "llmatic": ["--graph", "llmatic", "--budget", "14", "--batch", "4"],
    "lapt": ["--graph", "lapt", "--dataset", "cifar100"],
    "rea": ["--graph", "rea", "--budget", "4000"],
}


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "search", *args, "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
@pytest.mark.parametrize("graph", ["genius", "llmatic", "lapt", "rea"])
def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path, monkeypatch, graph):
    monkeypatch.setenv("ARCHAGENTS_LLMATIC__ANSWER", "edit")
    monkeypatch.setenv("ARCHAGENTS_MEMORY_WRITE", "true")
    rng = random.Random(graph)
    with FakeOpenAI(["slow:0.3"], ANSWERS.get(graph)) as server:
        model = [] if graph == "rea" else ["--model", f"all=openai-compatible:fake@{server.url}"]
        runs = tmp_path / "runs"
        args = [*ARGS[graph], *model, "--runs-dir", str(runs)]
        kills = 0
        for attempt in range(5):  # three kills at random moments, then it may finish
            if attempt:
                found = list(runs.iterdir()) if runs.exists() else []
                if found:  # killed before the run folder was made: start again from scratch
                    args = ["--resume", found[0].name, "--runs-dir", str(runs)]
            child = start(args)
            try:
                child.wait(timeout=rng.uniform(2.5, 6.0) if attempt < 3 else 600)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                kills += 1
                continue
            assert child.returncode == 0, child.stderr.read()[-2000:]
            break
        else:
            pytest.fail("the run never finished")
    (run,) = runs.iterdir()
    result = json.loads((run / "result.json").read_text())
    events = list(Journal(run / "events.jsonl").events())
    evaluated = [e.data["arch"] for e in events if e.kind == "evaluation"]
    assert kills >= 1, "no kill landed before the run finished"
    assert len(evaluated) == len(set(evaluated)), "an evaluation was repeated"
    assert sum(e.kind == "tool_call" for e in events) == len(evaluated), "an evaluation was paid for twice"
    assert result["evaluations"] == len(evaluated), "a completed evaluation was lost"
    assert len(result["best_so_far"]) == len(set(evaluated))
    if graph == "llmatic":  # every offspring journaled once
        keys = [(e.data["generation"], e.data["index"]) for e in events if e.kind == "offspring"]
        assert len(keys) == len(set(keys))
    if graph == "lapt":  # one round record per round, and the memory agrees with the journal
        rounds = [e.data["lapt_round"]["index"] for e in events if "lapt_round" in e.data]
        assert rounds == sorted(set(rounds)) and len(rounds) == len(result["lapt"]["rounds"])
    from memory.store import Memory

    memory = Memory(os.environ["ARCHAGENTS_MEMORY_DIR"], embedder="hashing")
    stored = memory.best_architectures("nb201", result["dataset"], len(evaluated) + 10)
    assert {s["arch"] for s in stored} == set(evaluated)
    if graph == "lapt":
        assert [p.version for p in memory.all_principles(f"nb201/{result['dataset']}")] == [1]


def test_a_cut_last_journal_line_is_set_aside_and_a_damaged_one_refused(tmp_path):
    from errors import UserError

    journal = Journal(tmp_path / "events.jsonl")
    journal.append(1, "run", data={"event": "started"})
    journal.append(1, "evaluation", data={"arch": "a", "dataset": "d", "canonical": "a", "val_acc": 1.0})
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('{"seq": 2, "ts": 1.0, "step": 2, "kind": "evalu')  # kill -9 mid-write
    notice = journal.check()
    assert "cut by a crash" in notice and (tmp_path / "events.jsonl.cut").exists()
    assert [e.seq for e in Journal(tmp_path / "events.jsonl").events()] == [0, 1] and journal.check() is None
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    (tmp_path / "events.jsonl").write_text(lines[0] + "\n{garbage\n" + lines[1] + "\n")
    with pytest.raises(UserError, match="damaged at line 2"):
        Journal(tmp_path / "events.jsonl").check()


def test_a_damaged_checkpoint_file_is_one_line(tmp_path):
    from tests.test_cli import run_cli

    done = run_cli("search", "--graph", "random", "--budget", "2", "--runs-dir", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr
    (run,) = tmp_path.iterdir()
    (run / "result.json").unlink()
    data = (run / "checkpoints.sqlite").read_bytes()
    (run / "checkpoints.sqlite").write_bytes(data[:100] + b"\0" * 4000 + data[4100:])
    again = run_cli("search", "--resume", run.name, "--runs-dir", str(tmp_path), "-q")
    errors = [line for line in again.stderr.splitlines() if line.startswith("error: ")]
    assert again.returncode == 2 and len(errors) == 1 and "checkpoints.sqlite is damaged" in errors[0]


@pytest.mark.slow
def test_two_searches_at_once_share_the_memory_without_damage(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHAGENTS_MEMORY_WRITE", "true")
    children = [start(["--graph", graph, "--budget", "30", "--seed", str(seed), "--runs-dir", str(tmp_path / graph)])
                for graph, seed in (("random", 1), ("rea", 2))]
    for child in children:
        assert child.wait(timeout=600) == 0, child.stderr.read()[-2000:]
    from memory.store import Memory

    memory = Memory(os.environ["ARCHAGENTS_MEMORY_DIR"], embedder="hashing")
    stored = memory.best_architectures("nb201", "cifar10", 1000)
    runs = {s["run_id"] for s in stored}
    assert len(runs) == 2 and len(stored) >= 30  # both searches' cells, readable afterwards


@pytest.mark.slow
def test_kill_9_during_supernet_training_resumes_the_epoch_and_never_retrains(tmp_path, monkeypatch):
    """darts: the supernet trains in the search process, a checkpoint per epoch; a kill -9 while it
    trains loses at most the epoch in progress, and once trained it is never trained again."""
    for key, value in {"CHANNELS": 4, "CELLS": 3, "IMAGE_SIZE": 8, "EPOCHS": 12, "MIN_STEPS": 0, "BATCH_SIZE": 32,
                       "STANDALONE_CHANNELS": 4, "STANDALONE_CELLS": 3, "STANDALONE_EPOCHS": 1}.items():
        monkeypatch.setenv(f"ARCHAGENTS_DARTS__{key}", str(value))
    runs = tmp_path / "runs"
    child = start(["--graph", "rea", "--space", "darts", "--dataset", "digits", "--budget", "6", "--runs-dir", str(runs)])
    try:
        deadline = 0
        while deadline < 600:  # wait for the second epoch's checkpoint, then kill
            logs = list(runs.glob("*/supernets/*/epochs.jsonl"))
            if logs and len(logs[0].read_text().splitlines()) >= 2:
                break
            assert child.poll() is None, child.stderr.read()[-2000:]
            deadline += 1
            subprocess.run(["sleep", "0.5"])
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    (run,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    resumed = start(["--resume", run.name, "--runs-dir", str(runs)])
    assert resumed.wait(timeout=1200) == 0, resumed.stderr.read()[-2000:]
    (log,) = run.glob("supernets/*/epochs.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(1, 13)), "an epoch was skipped"
    killed = [r["epoch"] for r in records if r["pid"] == child.pid]
    assert len(killed) >= 2 and killed == list(range(1, len(killed) + 1)), "the killed run's epochs were trained again"
    assert {r["pid"] for r in records} == {child.pid, resumed.pid}
    again = start(["--resume", run.name, "--runs-dir", str(runs)])  # finished: nothing trains
    assert again.wait(timeout=300) == 0 and log.read_text().count("\n") == 12
    assert json.loads((run / "result.json").read_text())["evaluations"] == 6
