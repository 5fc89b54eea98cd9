"""CLI of run management and inspection: runs, show, chat, fork, report, search --approve."""

import json

import pytest
from typer.testing import CliRunner

import agents.llm
import cli
import graphs.run
from agents.structured import Asker
from tests.fakes import Scripted
from tests.recorded import ANSWERS, record
from tests.test_cli import run_cli


def invoke(*args, input=None):
    result = CliRunner().invoke(cli.app, [str(a) for a in args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_runs_and_show(recorded_run):
    runs_dir = recorded_run.path.parent
    (listed,) = json.loads(invoke("runs", "--runs-dir", runs_dir, "--json"))
    assert listed["id"] == recorded_run.id and listed["status"] == "finished" and listed["evaluations"] == 4
    assert "finished" in invoke("runs", "--runs-dir", runs_dir)
    shown = json.loads(invoke("show", recorded_run.id, "--runs-dir", runs_dir, "--json"))
    assert shown["result"]["run_id"] == recorded_run.id
    assert [t["step"] for t in shown["timeline"] if t["text"].startswith("fallback")] == [4]
    table = invoke("show", recorded_run.id, "--runs-dir", runs_dir)
    assert "timeline" in table and "rejected (duplicate)" in table


def test_chat_ask_one_shot(recorded_run, monkeypatch):
    phrase = {"answer": "1 fallback mutation was used, at step 4."}  # faithful to the query's answer: kept
    monkeypatch.setattr(agents.llm, "llm_for", lambda role, settings, temperature=0.0: Scripted(answers=[phrase]))
    output = invoke("chat", recorded_run.id, "--runs-dir", recorded_run.path.parent, "--ask", "Was a fallback used?",
                    "--ask", "What learning rate was used?")
    assert "1 fallback mutation was used, at step 4.  (steps 4)" in output and "not in the log" in output
    reply = json.loads(invoke("chat", recorded_run.id, "--runs-dir", recorded_run.path.parent, "--json",
                              "--ask", "Was a fallback used?"))
    assert reply["cited_steps"] == [4] and reply["found"]
    interactive = invoke("chat", recorded_run.id, "--runs-dir", recorded_run.path.parent, "--evidence",
                         input="Was a fallback used?\nWhat learning rate was used?\n\n")
    assert interactive.count("Q:") == 2 and "[step 4] fallback" in interactive and "not in the log" in interactive


def test_fork_then_report(tmp_path, monkeypatch):
    parent = record(tmp_path)
    monkeypatch.setattr(graphs.run, "make_askers", lambda settings, journal=None: {
        "designer": Asker(role="designer", label="scripted", model=Scripted(answers=ANSWERS[3:]))})
    output = " ".join(invoke("fork", parent.id, "--at", 4, "--runs-dir", tmp_path, "--quiet").split())
    assert f"forked from {parent.id} at step 4" in output and "test acc" in output
    listed = json.loads(invoke("runs", "--runs-dir", tmp_path, "--json"))
    child = next(r for r in listed if r["id"] != parent.id)
    assert child["parent"] == parent.id and child["forked_at"] == 4 and child["status"] == "finished"
    out = tmp_path / "child.html"
    invoke("report", child["id"], "--runs-dir", tmp_path, "--out", out)
    assert "forked from" in out.read_text()


def test_search_approve_reads_decisions_from_the_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(graphs.run, "make_askers", lambda settings, journal=None: {
        "designer": Asker(role="designer", label="scripted", model=Scripted(answers=ANSWERS[3:]))})
    output = invoke("search", "--approve", "--budget", 1, "--runs-dir", tmp_path, input="x\nr\ne\n|bad|\ne\n"
                    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|\n")
    assert "evaluate it?" in output and "not an NB201 arch string" in output
    (run_dir,) = tmp_path.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["best"]["arch"].startswith("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|")
    assert result["best"]["source"] == "human"


@pytest.mark.parametrize("args,message", [
    (["show", "no-such-run"], "no run 'no-such-run'"),
    (["chat", "no-such-run", "--ask", "hi"], "no run 'no-such-run'"),
    (["fork", "no-such-run", "--at", "1"], "no run 'no-such-run'"),
    (["report", "no-such-run"], "no run 'no-such-run'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = run_cli(*args, "--runs-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr


def test_fork_at_a_missing_step_is_one_line(tmp_path):
    parent = record(tmp_path)
    done = run_cli("fork", parent.id, "--at", "77", "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith("error: no checkpoint at step 77"), done.stderr
