import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
import graphs.run
from agents.structured import Asker
from tests.fakes import Scripted, cell

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=ROOT, timeout=600):
    """The CLI as a user runs it.  The timeout only stops a hung test: a loaded 2-core
    machine can take minutes for a search with the real model."""
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


@pytest.mark.parametrize("args,message", [
    (["search", "--graph", "nope"], "unknown graph 'nope'"),
    (["search", "--space", "nb999"], "unknown space"),
    (["search", "--dataset", "mnist"], "unknown dataset"),
    (["search", "--budget", "abc"], "--budget"),
    (["search", "--budget", "0"], "budget"),
    (["search", "--model", "designer"], "malformed --model"),
    (["search", "--model", "designer=vertex:x"], "unknown provider"),
    (["search", "--model", "designer=openai:gpt-4o-mini"], "OPENAI_API_KEY"),
    (["search", "--critic", "maybe"], "critic"),
    (["search", "--resume", "no-such-run"], "no run"),
    (["search", "--config", "/no/such.toml"], "config file not found"),
    (["frobnicate"], "No such command"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = run_cli(*args, "--runs-dir", str(tmp_path)) if args[0] == "search" else run_cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert not list(tmp_path.iterdir())  # nothing half-created


def test_help_teaches_the_options():
    import os
    env = {**os.environ, "COLUMNS": "400"}  # one line per option, so words are not wrapped apart
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "search", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0
    for option in ("--graph", "--budget", "--model", "--resume", "openai-compatible",
                   "the [hf] extra", "the [ray] extra"):  # brackets are rich markup unless escaped
        assert option in done.stdout


def test_search_prints_summary_and_saves_result(tmp_path, monkeypatch):
    model = Scripted(answers=[cell("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3",
                                   "nor_conv_3x3"), cell(*["nor_conv_1x1"] * 6)])
    monkeypatch.setattr(graphs.run, "make_askers",
                        lambda settings, journal=None: {"designer": Asker(role="designer", label="scripted", model=model)})
    result = CliRunner().invoke(cli.app, ["search", "--budget", "2", "--runs-dir", str(tmp_path), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "test acc" in result.output and "rank" in result.output
    (run_dir,) = tmp_path.iterdir()
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["seed"] == 5 and saved["evaluations"] == 2
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "events.jsonl", "checkpoints.sqlite", "result.json"}
    again = CliRunner().invoke(cli.app, ["search", "--resume", run_dir.name, "--runs-dir", str(tmp_path)])
    assert again.exit_code == 0 and "resuming" in again.output


@pytest.mark.slow
def test_real_embedded_model_runs_a_short_search(tmp_path):
    """The README's default, for real: SmolLM2-135M via llama.cpp, no key, no network."""
    done = run_cli("search", "--budget", "3", "--runs-dir", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    (run_dir,) = tmp_path.iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["evaluations"] == 3
    usage = result["usage"]["designer"]
    assert usage["calls"] >= 1 and usage["tokens_in"] > 0 and usage["tokens_out"] > 0
    assert result["models"]["designer"] == "embedded:smollm2-135m"
    answers = [json.loads(line) for line in (run_dir / "events.jsonl").open() if '"kind":"answer"' in line]
    assert answers and all(a["data"]["parsed"] is not None for a in answers)  # constrained decoding always parses


@pytest.mark.slow
def test_kill_9_then_resume_repeats_no_evaluation(tmp_path):
    """A real crash: the CLI process is killed with SIGKILL mid-search, then resumed."""
    import os
    import signal
    import time

    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "search", "--budget", "5", "--runs-dir",
                                str(tmp_path), "--quiet", "--max-rejections", "1"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    evaluations = 0
    while time.time() < deadline and evaluations < 2:
        time.sleep(0.5)
        logs = list(tmp_path.glob("*/events.jsonl"))
        evaluations = sum('"kind":"evaluation"' in line for line in logs[0].open()) if logs else 0
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert evaluations >= 2, "the search did not get far enough before the deadline"
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "result.json").exists()
    done = run_cli("search", "--resume", run_dir.name, "--runs-dir", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    steps = [json.loads(line)["step"] for line in (run_dir / "events.jsonl").open() if '"kind":"evaluation"' in line]
    assert len(steps) == len(set(steps)) == 5
    assert json.loads((run_dir / "result.json").read_text())["evaluations"] == 5


def test_a_full_disk_is_one_line_and_leaves_the_run_resumable(tmp_path, monkeypatch):
    import errno
    import subprocess

    from memory.journal import Journal

    real, calls = Journal.append, {"n": 0}

    def fills_up(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "append", fills_up)
    monkeypatch.setattr(sys, "argv", ["cli.py", "search", "--graph", "rea", "--budget", "6", "--runs-dir",
                                      str(tmp_path), "-q"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    (run,) = tmp_path.iterdir()
    assert Journal(run / "events.jsonl").check() is None  # nothing half-written
    monkeypatch.setattr(Journal, "append", real)
    resumed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "search", "--resume", run.name, "--runs-dir",
                              str(tmp_path), "-q"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "result.json").read_text())["evaluations"] == 6


def test_an_unreadable_benchmark_table_is_one_line(tmp_path, monkeypatch):
    import spaces.base
    from errors import UserError

    (tmp_path / "nb201.csv.gz").write_bytes(b"\x1f\x8bnot really gzip")
    monkeypatch.setattr(spaces.base, "DATA", tmp_path)
    with pytest.raises(UserError, match="cannot read the benchmark table .* data/verify.py"):
        spaces.base.table_rows("nb201.csv.gz")
