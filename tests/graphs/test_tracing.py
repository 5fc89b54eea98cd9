"""LangSmith tracing through the standard environment variables, sent to a fake LangSmith endpoint on
this machine (LANGSMITH_ENDPOINT): every run tagged with its run id, graph and space, every model call
with its role, and no key in any payload, even one a provider echoed."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.structured import Asker
from graphs.run import execute, prepare
from memory.runs import RunDir
from settings import load_settings
from tests.fakes import Scripted, cell

PROVIDER_KEY = "sk-test-0123456789abcdef-provider"
LANGSMITH_KEY = "lsv2_pt_0123456789abcdef_langsmith"


class Recorder(BaseHTTPRequestHandler):
    """Answers like LangSmith enough for its client (an empty /info, 200 to every post) and keeps
    every request: path, headers, body."""

    requests: list[tuple[str, dict, bytes]] = []

    def do_GET(self):
        self._answer({})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.path, dict(self.headers), body))
        self._answer({})

    do_PATCH = do_POST

    def _answer(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def langsmith(monkeypatch):
    import langsmith.run_trees
    import langsmith.utils

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("LANGSMITH_API_KEY", LANGSMITH_KEY)
    monkeypatch.setenv("LANGSMITH_PROJECT", "archagents-test")
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
    monkeypatch.setattr(langsmith.run_trees, "_CLIENT", None)  # a client for this endpoint, made by the run
    langsmith.utils.get_env_var.cache_clear()
    try:
        yield Recorder.requests
    finally:
        server.shutdown()
        langsmith.utils.get_env_var.cache_clear()


def test_a_traced_run_is_tagged_and_sends_no_key(tmp_path, langsmith):
    from langchain_core.tracers.langchain import wait_for_all_tracers
    from langsmith.run_trees import get_cached_client

    run = RunDir.create(prepare(load_settings(runs_dir=tmp_path, budget=2, critic="rules", designer="genius")))
    echoing = Scripted(answers=[cell("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "avg_pool_3x3",
                                     "nor_conv_3x3", rationale=f"my key is {PROVIDER_KEY}"),
                                cell(*["nor_conv_3x3"] * 6, rationale="deeper")])
    execute(run, {"designer": Asker(role="designer", label="scripted", model=echoing)})
    wait_for_all_tracers()
    get_cached_client().flush()
    bodies = b"".join(body for _, _, body in langsmith).decode("utf-8", "replace")
    assert langsmith and all(headers.get("x-api-key") == LANGSMITH_KEY for _, headers, _ in langsmith)
    for tag in (f"run:{run.id}", "graph:genius", "space:nb201", "role:designer"):
        assert f'"{tag}"' in bodies, tag
    assert "archagents-test" in bodies and "my key is ***" in bodies  # the echoed key was sent scrubbed
    assert PROVIDER_KEY not in bodies and LANGSMITH_KEY not in bodies
