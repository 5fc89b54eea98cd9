import pytest

from errors import UserError
from settings import ModelSpec, Models, apply_model_flags, load_settings


@pytest.mark.parametrize("text,provider,model,url", [
    ("embedded", "embedded", "smollm2-135m", None),
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini", None),
    ("openai-compatible:qwen2.5@http://localhost:8000/v1", "openai-compatible", "qwen2.5", "http://localhost:8000/v1"),
    ("hf:HuggingFaceTB/SmolLM2-360M-Instruct", "hf", "HuggingFaceTB/SmolLM2-360M-Instruct", None),
])
def test_provider_parsing(text, provider, model, url):
    spec = ModelSpec.parse(text)
    assert (spec.provider, spec.model, spec.base_url) == (provider, model, url)


def test_the_default_embedded_model_is_the_registry_s_default():
    from agents import embedded
    from settings import EMBEDDED_MODEL

    assert EMBEDDED_MODEL == embedded.DEFAULT


@pytest.mark.parametrize("text", ["vertex:x", "openai:", "openai-compatible:model-without-url"])
def test_bad_provider_strings(text):
    with pytest.raises(UserError):
        ModelSpec.parse(text)


def test_per_role_routing():
    models = apply_model_flags(Models(), ["all=openai:gpt-4o-mini", "critic=embedded"])
    assert models.designer.label() == "openai:gpt-4o-mini"
    assert models.learner.provider == "openai"
    assert models.critic.provider == "embedded"


@pytest.mark.parametrize("flag", ["designer", "boss=openai:x", "designer="])
def test_malformed_model_flags(flag):
    with pytest.raises(UserError):
        apply_model_flags(Models(), [flag])


def test_defaults_follow_genius():
    from graphs.run import prepare

    settings = prepare(load_settings())  # the dataset defaults to the space's (nb201: cifar10)
    assert (settings.graph, settings.space, settings.dataset, settings.budget, settings.temperature) == \
        ("genius", "nb201", "cifar10", 10, 0.0)


def test_toml_then_env_then_flags(tmp_path, monkeypatch):
    config = tmp_path / "a.toml"
    config.write_text('budget = 7\nseed = 3\n[models.designer]\nprovider = "openai-compatible"\n'
                      'model = "m"\nbase_url = "http://127.0.0.1:1/v1"\n')
    monkeypatch.setenv("ARCHAGENTS_SEED", "4")
    settings = load_settings(config, ["critic=openai:gpt-4o"], dataset="cifar100")
    assert settings.budget == 7 and settings.seed == 4 and settings.dataset == "cifar100"
    assert settings.models.designer.base_url == "http://127.0.0.1:1/v1"
    assert settings.models.critic.label() == "openai:gpt-4o"


def test_invalid_values_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="budget"):
        load_settings(budget=0)
    with pytest.raises(UserError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("budget = [")
    with pytest.raises(UserError):
        load_settings(bad)
