import pytest

from agents.llm import ChatEmbedded, llm_for, structured_method
from errors import UserError
from settings import load_settings


def test_embedded_default_needs_no_key():
    model = llm_for("designer", load_settings(), temperature=0.3)
    assert isinstance(model, ChatEmbedded)
    assert model.temperature == 0.3 and model.model_path.endswith(".gguf")


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
    assert structured_method(settings.models.critic) == "function_calling"


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
