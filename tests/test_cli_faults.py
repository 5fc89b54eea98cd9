"""A provider that keeps failing ends the run cleanly: one line naming the role, exit 1, the exact
resume command; the run resumes and finishes once the provider answers again."""

import json

from tests.fake_openai import FakeOpenAI
from tests.test_cli import run_cli

CELL = {"node1_from_0": "nor_conv_3x3", "node2_from_0": "nor_conv_3x3", "node2_from_1": "skip_connect",
        "node3_from_0": "skip_connect", "node3_from_1": "nor_conv_3x3", "node3_from_2": "nor_conv_1x1"}


def test_a_failing_provider_ends_the_run_with_a_resume_command_then_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHAGENTS_MODELS__DESIGNER__BACKOFF", "0.01")
    answer = {"rationale": "convolutions and a skip", "architectures": [list(CELL.values())] * 4}
    with FakeOpenAI(["500"], answer) as down:
        failed = run_cli("search", "--model", f"designer=openai-compatible:m@{down.url}", "--budget", "2",
                         "--runs-dir", str(tmp_path), "-q")
    assert failed.returncode == 1
    line = [l for l in failed.stderr.splitlines() if l.startswith("error: ")]
    assert len(line) == 1 and "designer model" in line[0] and "server_error, 5 attempts" in line[0]
    assert "Traceback" not in failed.stderr
    command = line[0].split("continue it with: ")[1].split()
    assert command[:4] == ["python", "cli.py", "search", "--resume"]
    (run,) = tmp_path.iterdir()
    assert (run / "checkpoints.sqlite").exists() and not (run / "result.json").exists()
    with FakeOpenAI(["ok"], answer) as up:  # the provider is back, at another address: the user says so
        config = json.loads((run / "config.json").read_text())
        config["models"]["designer"]["base_url"] = up.url
        (run / "config.json").write_text(json.dumps(config))
        resumed = run_cli(*command[2:])
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads((run / "result.json").read_text())
    assert result["evaluations"] == 2 and result["faults"]["designer"]["server_error"] == 5
