"""A real OpenAI-compatible server: llama-cpp-python's own (`pip install -e ".[server]"`), serving
the SmolLM2 GGUF.  It answers HTTP 500 to `response_format: json_schema`; the search must move on
to json_object, remember it, and finish."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="the [server] extra is not installed")
    from agents import embedded

    port = free_port()
    model = embedded.model_path("smollm2-135m")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: a full pipe would stall the server
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                               "--port", str(port), "--n_threads", "1", "--n_ctx", "4096", "--model_alias", "local"],
                              stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(log.read_text()[-2000:])
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_search_against_llama_cpp_s_server_falls_back_to_json_object(tmp_path, llama_server):
    done = run_cli("search", "--budget", "2", "--candidates", "2", "--model",
                   f"designer=openai-compatible:local@{llama_server}", "--runs-dir", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = tmp_path.iterdir()
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    refused = [e for e in events if e["kind"] == "error" and e["data"].get("structured_output_refused")]
    assert refused and refused[0]["data"]["structured_output_refused"] == "json_schema"
    methods = [e["data"]["structured_output_method"] for e in events if "structured_output_method" in e["data"]]
    assert methods[0] == "json_mode"
    answers = [e for e in events if e["kind"] == "answer" and e["role"] == "designer"]
    assert answers and all(a["data"]["method"] != "json_schema" for a in answers)
    result = json.loads((run / "result.json").read_text())
    assert result["evaluations"] == 2 and Path(run / "result.json").exists()
