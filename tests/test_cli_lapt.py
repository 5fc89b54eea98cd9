"""CLI of the LAPT graph and the principles memory (issue 7)."""

import json

import pytest

from memory.store import Memory, Principle
from tests.test_cli import run_cli

POSITIONS = ("node1_from_0", "node2_from_0", "node2_from_1", "node3_from_0", "node3_from_1", "node3_from_2")


@pytest.mark.parametrize("args,message", [
    (["search", "--graph", "lapt", "--transfer-from", "cifar10"], "want SPACE/DATASET"),
    (["search", "--graph", "lapt", "--lapt-ablation", "sometimes"], "ablation"),
    (["principles", "show", "--task", "nb201/cifar10"], "no principles stored for nb201/cifar10"),
    (["principles", "learn", "--space", "nb999"], "unknown space"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = run_cli(*args, *(["--runs-dir", str(tmp_path)] if args[0] == "search" else []))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1


def test_principles_show_lists_the_latest_version_per_task(tmp_path, monkeypatch):
    memory = Memory(embedder="hashing")  # ARCHAGENTS_MEMORY_DIR: the test's folder (conftest)
    memory.save_principles("nb201/cifar10", [Principle(text="An old principle about convolutions.")], [])
    memory.save_principles("nb201/cifar10", [Principle(text="Prefer 3x3 convolutions on every edge.",
                                                       origin="statistics", evidence="node1_from_0 ...")],
                           [("|x|", 91.2)], {p: ["nor_conv_3x3"] for p in POSITIONS})
    memory.save_principles("nb201/cifar100", [Principle(text="Keep a skip connection to the output.")], [])
    memory.close()
    shown = run_cli("principles", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)
    assert [(r["task"], r["version"]) for r in records] == [("nb201/cifar10", 2), ("nb201/cifar100", 1)]
    every = json.loads(run_cli("principles", "show", "--task", "nb201/cifar10", "--all", "--json").stdout)
    assert [[p["text"] for p in r["principles"]] for r in every] == [["An old principle about convolutions."],
                                                                    ["Prefer 3x3 convolutions on every edge."]]
    table = run_cli("principles", "show", "--task", "nb201/cifar10")
    assert table.returncode == 0 and "design principles" in table.stdout and "nb201/cifar10" in table.stdout
    assert "[statistics]" in table.stdout and "evidence:" in table.stdout
    # a principle is a sentence on one line, not folded into a narrow column
    assert "[statistics] Prefer 3x3 convolutions on every edge." in table.stdout
    assert "node1_from_0: nor_conv_3x3" in table.stdout and "drawn from its 1 best architectures (best score 91.20)" in table.stdout


@pytest.mark.slow
def test_lapt_transfer_with_the_embedded_model(tmp_path, monkeypatch):
    """The whole path a user takes, with the real embedded model: learn principles on CIFAR-10
    (10 source architectures, to keep the prompt short), transfer them to CIFAR-100, adapt."""
    monkeypatch.setenv("ARCHAGENTS_MEMORY_WRITE", "true")
    monkeypatch.setenv("ARCHAGENTS_LAPT__LEARN_SAMPLES", "10")
    done = run_cli("search", "--graph", "lapt", "--dataset", "cifar100", "--transfer-from", "nb201/cifar10",
                   "--runs-dir", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(tmp_path.glob("*/result.json")).read_text())
    lapt = result["lapt"]
    assert lapt["source"] == "nb201/cifar10" and len(lapt["rounds"]) == 3
    assert 1 <= result["evaluations"] <= 20 and result["usage"]["learner"]["calls"] >= 3
    shown = json.loads(run_cli("principles", "show", "--json").stdout)
    assert {r["task"] for r in shown} == {"nb201/cifar10", "nb201/cifar100"}
    assert len(next(r for r in shown if r["task"] == "nb201/cifar10")["evidence"]) == 10
