"""Every script in bench/ runs at a tiny size, as a user runs it (a subprocess from another folder),
so a change of the code under it that breaks it fails here (bench/train_throughput.py had crashed
unnoticed with an argument renamed under it).  Models: a fake OpenAI-compatible server where the
script takes the run's settings; the embedded SmolLM2-135M where the script is about embedded
models.  Each case is `slow` (a subprocess that imports the stack: 7-40 s at load 8 on 2 cores);
only that every script has one is not.  Only that each runs and prints its result is checked:
the numbers are the bench's to report, at its real size.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
CELL = {"node1_from_0": "nor_conv_3x3", "node2_from_0": "nor_conv_3x3", "node2_from_1": "skip_connect",
        "node3_from_0": "skip_connect", "node3_from_1": "nor_conv_3x3", "node3_from_2": "nor_conv_1x1"}
LEARNER = {"principles": ["Prefer nor_conv_3x3 on node2_from_1 and node1_from_0."],
           "refined": {position: ["nor_conv_3x3", "skip_connect"] for position in CELL}}
TOML = """[models.{role}]
provider = "openai-compatible"
model = "fake"
base_url = "{url}"
"""


@dataclass
class Case:
    args: list[str]
    prints: str  # what the output holds when it ran to the end
    answer: dict | None = field(default=None)  # the fake server's answer for every role, when the script uses one


CASES = {
    "constrained_decoding.py": Case(["--model", "smollm2-135m", "--calls", "1", "--max-tokens", "4"],
                                    "response_format / gbnf"),
    "embedded_models.py": Case(["--models", "smollm2-135m", "--graphs", "genius", "--seeds", "1", "--jobs", "1",
                                "--budget", "1", "--out", "{tmp}/bench"], "| smollm2-135m | genius (1) | 1 |"),
    "framework_overhead.py": Case(["--smoke", "--json"], '"ms_per_evaluation"'),
    "grid_throughput.py": Case(["--seeds", "1", "--budget", "3"], "ratio, 2 workers over 1"),
    "inspector_qa.py": Case([], "score: ", answer={"value": 42}),
    "lapt_nb201.py": Case(["--seeds", "1", "--part", "table2", "--work", "{tmp}/work", "--out", "{tmp}/lapt.json"],
                          '"rea/cifar100"', answer=LEARNER),
    "llm_concurrency.py": Case(["--batch", "2", "--concurrency", "2", "--latency", "0.01"], "ratio"),
    "llmatic_parse_rate.py": Case(["--model", "smollm2-135m", "--offspring", "1", "--seeds", "1", "--cases",
                                   "nb201:edit"], "parsed to a valid architecture"),
    "memory_latency.py": Case(["--n", "5", "--embedder", "hashing"], "search_reasoning_s_per_1000"),
    "prefix_cache.py": Case(["--model", "smollm2-135m", "--calls", "2", "--max-tokens", "2"], "cold / consecutive"),
    "proxy_correlation.py": Case(["--n", "4", "--datasets", "cifar10", "--proxies", "synflow"], "synflow"),
    "supernet_correlation.py": Case(["--smoke"], '"spearman_test"'),
    "train_throughput.py": Case(["--smoke", "--json"], '"startup_s"'),
    "training_signal.py": Case(["--networks", "2", "--dataset", "digits"], "new/old"),
    "warm_search.py": Case(["--budget", "2", "--dataset", "digits", "--json"], '"same_networks_and_accuracies": true'),
}


def test_every_bench_script_has_a_smoke_case():
    assert sorted(CASES) == sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.slow
@pytest.mark.parametrize("script", list(CASES))
def test_bench_script_runs_at_a_tiny_size(script, tmp_path):
    case = CASES[script]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # what the scripts leave in temporary folders goes with the test
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    if case.answer is None:
        out = run(script, args, tmp_path, env)
    else:
        with FakeOpenAI(["ok"], case.answer) as server:  # every role the settings name: the fake
            (tmp_path / "archagents.toml").write_text("\n".join(TOML.format(role=role, url=server.url) for role in
                                                                 ("designer", "critic", "learner", "inspector")))
            out = run(script, args + (["--model", f"inspector=openai-compatible:fake@{server.url}"]
                                      if script == "inspector_qa.py" else []), tmp_path, env)
            assert server.requests, "the script never asked the model"
    assert case.prints in out, out[-2000:]
    if "--json" in args:
        json.loads(out.strip().splitlines()[-1])  # one line of JSON


def run(script: str, args: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
