"""The graphs served by the real LangGraph development server (`langgraph dev`, the [studio] extra),
driven by the official client (langgraph_sdk): listed, run to the end, paused and resumed.

The server is started once for the module on a free port from a copy of langgraph.json with
absolute paths (so its working folder, where it keeps `.langgraph_api/`, is a tmp folder), waited
for with a deadline, and always killed with its process group."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("langgraph_api", reason="needs the [studio] extra (langgraph-cli[inmem])")
from langgraph_sdk import get_sync_client  # noqa: E402  (installed with langgraph itself)

from memory.runs import RunDir  # noqa: E402
from tools.inspect_run import RunLog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = {"genius", "llmatic", "lapt", "random", "rea", "local", "random+flops", "prior"}
READY_SECONDS = 180  # measured 4-15 s; a loaded 2-core machine is given room, not a flaky limit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["graphs"] = {name: str(ROOT / path) for name, path in config["graphs"].items()}
    config["dependencies"] = [str(ROOT)]
    (folder / "langgraph.json").write_text(json.dumps(config))
    port = _free_port()
    # The module-scoped fixture cannot use monkeypatch: the environment is given to the process.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("ARCHAGENTS_")}
    env.update(ARCHAGENTS_RUNS_DIR=str(folder / "runs"), ARCHAGENTS_MEMORY_DIR=str(folder / "memory"),
               ARCHAGENTS_MEMORY_WRITE="false", ARCHAGENTS_CACHE_DIR=str(folder / "cache"),
               LANGSMITH_TRACING="false", LANGGRAPH_CLI_NO_ANALYTICS="1")
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload", "--port", str(port),
         "--config", str(folder / "langgraph.json")],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not serve: {(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield get_sync_client(url=url, timeout=300), folder / "runs"
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its workers: its own process group
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_the_server_lists_every_graph_and_runs_one_to_a_best_architecture(server):
    client, runs = server
    assistants = {a["graph_id"]: a["assistant_id"] for a in client.assistants.search(limit=50)}
    assert set(assistants) == GRAPHS
    drawn = client.assistants.get_graph(assistants["llmatic"], xray=True)  # Studio draws the search's own nodes
    assert {"search:generation", "search:approve", "search:evaluate"} <= {node["id"] for node in drawn["nodes"]}
    thread = client.threads.create()
    steps = [part.data for part in client.runs.stream(thread["thread_id"], "random", input={"budget": 3, "seed": 1},
                                                      stream_mode="updates", stream_subgraphs=True)
             if part.event.startswith("updates")]
    nodes = [name for update in steps for name in update]
    assert nodes.count("evaluate") == 3 and nodes[0] == "start" and "finish" in nodes  # the search's own steps
    final = client.threads.get_state(thread["thread_id"])["values"]
    run = RunDir.open(runs, final["run_id"])
    assert final["best"] == run.result()["best"] and final["evaluations"] == 3
    assert final["best"]["test_acc"] > 0 and run.settings().seed == 1 and run.settings().graph == "random"
    assert RunLog(run).result["best"]["arch"] == final["best"]["arch"]  # `cli.py show` and `chat` read it


def test_an_approval_pauses_the_thread_and_studio_resumes_it(server):
    client, runs = server
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "random+flops", input={"budget": 1, "approve": True})
    state = client.threads.get_state(thread)
    proposed = state["interrupts"][0]["value"]["arch"]
    assert state["next"] == ["search"] and not RunDir.open(runs, state["values"]["run_id"]).result()
    client.runs.wait(thread, "random+flops", command={"resume": {"action": "reject"}})
    again = client.threads.get_state(thread)["interrupts"][0]["value"]
    assert again["step"] == 2 and again["arch"] != proposed  # the next-largest FLOPs, not the refused one again
    final = client.runs.wait(thread, "random+flops", command={"resume": {"action": "accept"}})
    assert final["evaluations"] == 1 and final["best"]["arch"] == again["arch"]
    human = [e.data for e in RunDir.open(runs, final["run_id"]).journal().events() if e.role == "human"]
    assert [(d["kind"], d["proposed"]) for d in human] == [("reject", proposed), ("accept", again["arch"])]


def test_a_bad_option_fails_the_run_with_one_line_and_leaves_no_folder(server):
    client, runs = server
    thread = client.threads.create()["thread_id"]
    run = client.runs.create(thread, "random", input={"budget": 2, "dataset": "mnist"})
    joined = client.runs.join(thread, run["run_id"])
    assert client.runs.get(thread, run["run_id"])["status"] == "error"
    assert joined["__error__"]["error"] == "OptionsError" and "mnist" in joined["__error__"]["message"]
    assert not list(runs.glob("*mnist*"))
