import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agents.llm import llm_for, structured_method
from agents.structured import Asker
from errors import LLMError
from memory.journal import Journal
from settings import load_settings
from tests.fakes import Scripted, TextOnly


class Answer(BaseModel):
    value: int


def test_structured_answer_is_journaled_with_tokens(tmp_path):
    journal = Journal(tmp_path / "e.jsonl")
    asker = Asker(role="designer", label="fake", model=Scripted(answers=[{"value": 3}]))
    answer, usage = asker.ask([HumanMessage("give me three")], Answer, journal, step=1)
    assert answer == Answer(value=3)
    assert usage.calls == 1 and usage.tokens_in == 3 and usage.tokens_out == 2
    kinds = [e.kind for e in journal.events()]
    assert kinds == ["prompt", "answer"]
    assert all(e.role == "designer" and e.model == "fake" for e in journal.events())


def test_invalid_answer_is_retried_with_the_error(tmp_path):
    journal = Journal(tmp_path / "e.jsonl")
    model = Scripted(answers=[{"value": "three"}, {"value": 3}])
    answer, usage = Asker(role="critic", label="fake", model=model).ask(
        [HumanMessage("q")], Answer, journal, step=2)
    assert answer.value == 3 and usage.calls == 2
    assert "not valid" in str(model.seen[1][-1].content)
    assert [e.kind for e in journal.events()] == ["prompt", "answer", "parse_error", "answer"]


def test_text_only_model_is_parsed_from_prose(tmp_path):
    model = TextOnly(answers=["Sure! ```json\n{\"value\": 5}\n``` hope that helps"])
    answer, _ = Asker(role="learner", label="t", model=model).ask(
        [HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert answer.value == 5
    assert "JSON schema" in str(model.seen[0][-1].content)


def test_gives_up_after_retries(tmp_path):
    model = TextOnly(answers=["no json here"])
    answer, usage = Asker(role="designer", label="t", model=model).ask(
        [HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0, retries=2)
    assert answer is None and usage.calls == 3


def test_temperature_and_seed_apply_per_call(tmp_path):
    model = Scripted(answers=[{"value": 1}])
    Asker(role="designer", label="s", model=model).ask(
        [HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0, temperature=0.9, seed=7)
    assert model.sampling == [(0.9, 7)]
    assert model.temperature == 0.0  # the configured model is untouched; a copy got the override


class _ChatCompletions(BaseHTTPRequestHandler):
    """A tiny server speaking the chat-completions protocol: answers with a tool call when
    tools are offered, else with JSON text.  Records what it was sent."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        message = {"role": "assistant", "content": json.dumps({"value": 42})}
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps({"value": 42})}}]}
        payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _ChatCompletions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _ChatCompletions.requests = []
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


def test_openai_compatible_endpoint_end_to_end(server, tmp_path):
    settings = load_settings(model_flags=[f"designer=openai-compatible:local-model@{server}"])
    spec = settings.models.designer
    asker = Asker(role="designer", label=spec.label(), model=llm_for("designer", settings, temperature=0.2),
                  method=structured_method(spec))
    answer, usage = asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert answer.value == 42
    assert (usage.tokens_in, usage.tokens_out) == (11, 7)
    sent = _ChatCompletions.requests[0]
    assert sent["model"] == "local-model" and sent["temperature"] == 0.2
    assert sent["tools"][0]["function"]["name"] == "Answer"


def test_unreachable_endpoint_is_an_llm_error(tmp_path):
    settings = load_settings(model_flags=["designer=openai-compatible:m@http://127.0.0.1:9/v1"])
    model = llm_for("designer", settings).model_copy(update={"max_retries": 0, "request_timeout": 2})
    asker = Asker(role="designer", label="x", model=model, method="function_calling")
    with pytest.raises(LLMError, match="designer model x failed"):
        asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
