import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agents.llm import asker_for
from agents.structured import Asker
from errors import LLMError
from memory.journal import Journal
from settings import load_settings
from tests.fake_openai import FakeOpenAI
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


def remote_asker(url: str, role: str = "designer", timeout: float = 10.0, provider: str = "openai-compatible"):
    """An Asker over the fake server as the CLI would build it (provider table, our retries), with
    waits made instant and recorded."""
    settings = load_settings(model_flags=[f"{role}={provider}:local-model@{url}"])
    settings.models.for_role(role).timeout = timeout
    asker = asker_for(role, settings, temperature=0.2)
    waits: list[float] = []
    asker.sleep = waits.append
    return asker, waits


def faults(journal: Journal) -> list[str]:
    return [e.data["fault"] for e in journal.events() if e.kind in ("error", "parse_error") and "fault" in e.data]


def test_the_json_schema_method_answers_end_to_end(tmp_path):
    with FakeOpenAI(["ok"]) as server:
        asker, _ = remote_asker(server.url)
        answer, usage = asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert answer.value == 42 and (usage.tokens_in, usage.tokens_out) == (11, 7)
    sent = server.requests[0]
    assert sent["model"] == "local-model" and sent["temperature"] == 0.2
    assert sent["response_format"]["type"] == "json_schema"


def test_a_refused_method_gives_way_to_the_next_and_is_remembered(tmp_path):
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI(["refuse_schema"]) as server:
        asker, _ = remote_asker(server.url)
        first, _ = asker.ask([HumanMessage("q")], Answer, journal, step=0)
        second, _ = asker.ask([HumanMessage("q")], Answer, journal, step=1)
    assert first.value == second.value == 42 and asker.methods[0] == "json_mode"
    formats = [(r.get("response_format") or {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # never json_schema again
    assert any(e.data.get("structured_output_method") == "json_mode" for e in journal.events())


def test_rate_limits_honour_retry_after_and_server_errors_back_off(tmp_path):
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI(["429:7", "500", "500", "ok"]) as server:
        asker, waits = remote_asker(server.url)
        answer, usage = asker.ask([HumanMessage("q")], Answer, journal, step=0)
    assert answer.value == 42 and waits == [7.0, 2.0, 4.0]  # Retry-After, then 1 s doubling
    assert usage.faults == {"rate_limited": 1, "server_error": 2}
    assert faults(journal) == ["rate_limited", "server_error", "server_error"]


def test_timeouts_are_retried(tmp_path):
    with FakeOpenAI(["slow:3", "ok"]) as server:
        asker, waits = remote_asker(server.url, timeout=0.5)
        answer, usage = asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert answer.value == 42 and usage.faults == {"timeout": 1} and waits == [1.0]


@pytest.mark.parametrize("bad,fault", [("garbage", "garbage_response"), ("truncated", "truncated_answer"),
                                       ("empty", "empty_answer")])
def test_broken_answers_are_asked_again(tmp_path, bad, fault):
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI([bad, "ok"]) as server:
        asker, _ = remote_asker(server.url)
        answer, usage = asker.ask([HumanMessage("q")], Answer, journal, step=0)
    assert answer.value == 42 and usage.faults == {fault: 1}


def test_an_answer_always_cut_at_the_cap_costs_the_step_its_answer_not_the_run(tmp_path):
    """A small model behind a local server that rambles past the cap every time: `ask` gives up
    after its retries with None (the designer then proposes nothing this step), raising nothing."""
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI(["truncated"]) as server:
        asker, _ = remote_asker(server.url)
        answer, usage = asker.ask([HumanMessage("q")], Answer, journal, step=0, retries=2)
    assert answer is None and usage.faults == {"truncated_answer": 3} and len(server.requests) == 3


def test_local_servers_are_sent_the_cap_under_the_name_they_read(tmp_path):
    """langchain-openai names the cap max_completion_tokens, which llama.cpp's server ignores."""
    with FakeOpenAI(["ok"]) as server:
        asker, _ = remote_asker(server.url)
        asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert server.requests[0]["max_tokens"] == 384


def test_a_role_that_keeps_failing_is_one_llm_error_naming_it(tmp_path):
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI(["500"]) as server:
        asker, waits = remote_asker(server.url, role="critic")
        with pytest.raises(LLMError, match=r"critic model .* failed \(server_error, 5 attempts\)"):
            asker.ask([HumanMessage("q")], Answer, journal, step=3)
    assert len(server.requests) == 5 and waits == [1.0, 2.0, 4.0, 8.0]
    assert [e.data.get("final") for e in journal.events() if e.kind == "error"][-1] is True


def test_the_key_never_reaches_the_journal_or_the_error(tmp_path, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    journal = Journal(tmp_path / "e.jsonl")
    with FakeOpenAI(["echo_key"]) as server:
        asker, _ = remote_asker(server.url, provider="openai")
        with pytest.raises(LLMError) as err:
            asker.ask([HumanMessage("q")], Answer, journal, step=0)
    sent = {name.lower(): value for name, value in server.headers[0].items()}
    assert sent["authorization"] == f"Bearer {secret}"  # the server saw it...
    assert secret not in str(err.value) and "***" in str(err.value)  # ...the user and the files do not
    assert secret not in (tmp_path / "e.jsonl").read_text()


def test_unreachable_endpoint_is_an_llm_error(tmp_path):
    asker, waits = remote_asker("http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(LLMError, match="designer model .* failed .connection"):
        asker.ask([HumanMessage("q")], Answer, Journal(tmp_path / "e.jsonl"), step=0)
    assert len(waits) == 4
