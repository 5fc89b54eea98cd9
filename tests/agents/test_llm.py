import threading

import pytest
from pydantic import BaseModel, Field

from agents import embedded, llm
from agents.llm import ChatEmbedded, llm_for, structured_methods
from errors import UserError
from settings import load_settings


def test_embedded_default_needs_no_key(monkeypatch):
    # Building the model neither joins, hashes nor loads a file: that waits for the first call.
    monkeypatch.setattr(embedded, "model_path", lambda name: pytest.fail("prepared the file too early"))
    settings = load_settings()
    model = llm_for("designer", settings, temperature=0.3)
    assert isinstance(model, ChatEmbedded)
    assert model.temperature == 0.3 and model.model == settings.models.designer.model


def test_openai_needs_a_key(monkeypatch):
    settings = load_settings(model_flags=["designer=openai:gpt-4o-mini"])
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        llm_for("designer", settings)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = llm_for("designer", settings)
    assert type(model).__name__ == "ChatOpenAI" and model.model_name == "gpt-4o-mini"


def test_roles_get_their_own_models():
    settings = load_settings(model_flags=["critic=openai-compatible:qwen@http://127.0.0.1:9/v1"])
    critic, designer = llm_for("critic", settings), llm_for("designer", settings)
    assert type(critic).__name__ == "ChatOpenAI" and str(critic.openai_api_base) == "http://127.0.0.1:9/v1"
    assert isinstance(designer, ChatEmbedded)
    assert structured_methods(settings.models.critic) == ["json_schema", "json_mode", "function_calling", "text"]


def test_hf_without_extra_is_a_clear_error():
    pytest.importorskip("pytest")
    try:
        import langchain_huggingface  # noqa: F401
        pytest.skip("the [hf] extra is installed")
    except ImportError:
        pass
    with pytest.raises(UserError, match=r"\[hf\]"):
        llm_for("learner", load_settings(model_flags=["learner=hf:some/model"]))


def test_embedded_model_leaves_cores_free_unless_told(monkeypatch):
    from agents.llm import llama_threads

    monkeypatch.delenv("ARCHAGENTS_LLM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert llama_threads() == 1  # all-core decoding collapses when anything else runs (agents/llm.py)
    monkeypatch.setenv("ARCHAGENTS_LLM_THREADS", "3")
    assert llama_threads() == 3


class FakeLlama:
    """Stands in for llama_cpp.Llama: records how it was built and what it was asked."""

    def __init__(self, **kwargs):
        self.kwargs, self.calls, self.cache = kwargs, [], None

    def set_cache(self, cache):
        self.cache = cache

    def create_chat_completion(self, messages, **params):
        self.calls.append(params)
        return {"choices": [{"message": {"content": '{"op": "nor_conv_3x3", "why": "wider"}'}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}


@pytest.fixture
def fake_llama(monkeypatch):
    """Every registry model 'installed' at a fake path; Llama replaced; the process's loaded models empty."""
    monkeypatch.setattr(embedded, "locate", lambda model: [f"/fake/{model.name}.gguf"])
    monkeypatch.setattr(embedded, "model_path", lambda name: f"/fake/{name}.gguf")
    monkeypatch.setattr(llm, "_LOADED", {})
    loads = []

    def load(path, n_ctx, chat_format):
        loads.append((path, n_ctx, chat_format))
        return FakeLlama(model_path=path), threading.Lock()

    monkeypatch.setattr(llm, "_load_llama", load)
    return loads


def test_roles_route_to_their_embedded_models_and_each_file_loads_once(fake_llama):
    settings = load_settings(model_flags=["designer=embedded:qwen2.5-coder-1.5b", "critic=embedded:qwen2.5-coder-1.5b",
                                          "inspector=embedded:smollm2-135m"])
    designer, critic, inspector = (llm_for(role, settings) for role in ("designer", "critic", "inspector"))
    assert (designer.model, inspector.model) == ("qwen2.5-coder-1.5b", "smollm2-135m")
    critic = critic.model_copy(update={"n_ctx": 2048})  # another context size must not load the file again
    for model in (designer, critic, inspector, designer):
        model.invoke("hello")
    assert sorted(fake_llama) == [("/fake/qwen2.5-coder-1.5b.gguf", 8192, "chatml"),
                                  ("/fake/smollm2-135m.gguf", 8192, None)]


def test_unknown_embedded_model_is_one_line_listing_the_names():
    with pytest.raises(UserError) as refused:
        llm_for("designer", load_settings(model_flags=["designer=embedded:llama-70b"]))
    assert "\n" not in str(refused.value) and all(name in str(refused.value) for name in embedded.MODELS)


def test_structured_output_is_grammar_constrained_and_parsed(fake_llama):
    class Pick(BaseModel):
        op: str = Field(json_schema_extra={"enum": ["none", "nor_conv_3x3"]})
        why: str

    model = ChatEmbedded(model="smollm2-135m")
    out = model.with_structured_output(Pick, include_raw=True).invoke("pick one")
    assert out["parsed"] == Pick(op="nor_conv_3x3", why="wider") and out["parsing_error"] is None
    llama, _ = llm._LOADED["/fake/smollm2-135m.gguf"]
    params = llama.calls[-1]
    assert "response_format" not in params and type(params["grammar"]).__name__ == "LlamaGrammar"
    assert 'nor_conv_3x3' in params["grammar"]._grammar  # the schema's GBNF, built once per schema
    assert out["raw"].usage_metadata["total_tokens"] == 21


def test_llama_gets_threads_for_batches_too_and_a_prefix_cache(monkeypatch):
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "Llama", FakeLlama)
    monkeypatch.setenv("ARCHAGENTS_LLM_THREADS", "1")
    llama, _ = llm._load_llama("/fake/m.gguf", 4096, "chatml")
    assert llama.kwargs["n_threads"] == llama.kwargs["n_threads_batch"] == 1  # else batches take every core
    assert llama.kwargs["chat_format"] == "chatml" and llama.kwargs["n_ctx"] == 4096
    assert isinstance(llama.cache, llama_cpp.LlamaRAMCache)


def test_prefix_cache_keeps_only_the_last_logits_row():
    import numpy as np
    from llama_cpp.llama import LlamaState

    cache = llm.prefix_cache(1 << 20)
    scores = np.random.rand(512, 32).astype(np.single)
    cache[(1, 2, 3)] = LlamaState(input_ids=np.array([1, 2, 3]), scores=scores, n_tokens=3, llama_state=b"kv",
                                  llama_state_size=2, seed=0)
    state = cache[(1, 2, 3, 4)]  # the longest cached prefix
    assert state.scores.shape == (1, 32) and np.array_equal(state.scores[0], scores[-1])
    target = np.zeros((512, 32), dtype=np.single)
    target[: state.n_tokens, :] = state.scores.copy()  # what Llama.load_state does: the row broadcasts


@pytest.mark.slow
def test_default_model_round_trips_a_structured_answer():
    """The default embedded model, really loaded, with its registry chat format: a schema-constrained
    answer that parses into the pydantic model."""
    class Edge(BaseModel):
        operation: str = Field(json_schema_extra={"enum": ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                           "avg_pool_3x3"]})
        reason: str = Field(json_schema_extra={"maxLength": 80})

    model = ChatEmbedded(model=embedded.DEFAULT, max_tokens=64, n_ctx=2048)
    out = model.with_structured_output(Edge, include_raw=True).invoke(
        [("system", "You design convolutional cells. Answer in JSON."),
         ("human", "Which operation should the edge from node 0 to node 1 use for the best accuracy on CIFAR-10?")])
    assert out["parsing_error"] is None and isinstance(out["parsed"], Edge)
    assert out["raw"].response_metadata["finish_reason"] == "stop"
