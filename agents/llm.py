"""The one place that builds a chat model for a role: `llm_for(role, settings)`.

Providers (settings.ModelSpec):
  embedded           a GGUF model from agents/embedded.py's registry (`embedded:NAME`; the parts ship
                     in packages) run in-process by llama-cpp-python: no key, no network.
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

from agents import embedded
from agents import providers
from errors import UserError
from settings import ModelSpec, Role, Settings


def llm_for(role: Role, settings: Settings, temperature: float = 0.0) -> BaseChatModel:
    """Build the chat model configured for `role`."""
    spec = settings.models.for_role(role)
    check_provider(spec)
    if spec.provider == "embedded":
        return ChatEmbedded(model=spec.model, temperature=temperature, max_tokens=spec.max_tokens,
                            seed=settings.seed)
    if spec.provider in ("openai", "openai-compatible"):
        from langchain.chat_models import init_chat_model

        key = os.environ.get(spec.api_key_env) or "not-needed"  # local servers ignore the key
        # max_retries=0: agents/structured.py retries itself, so every fault is journaled and counted.
        # langchain-openai sends the cap as `max_completion_tokens`, which OpenAI-compatible servers
        # (llama.cpp's, Ollama's) ignore: a small model then writes until the context is full
        # (measured: 3,512 tokens against a 384 cap).  They read `max_tokens`, so it goes in the body too.
        extra = {"extra_body": {"max_tokens": spec.max_tokens}} if spec.provider == "openai-compatible" else {}
        return init_chat_model(spec.model, model_provider="openai", base_url=spec.base_url, api_key=key,
                               temperature=temperature, max_tokens=spec.max_tokens, max_retries=0,
                               timeout=spec.timeout, **extra)
    return _huggingface(spec, temperature)


def check_provider(spec: ModelSpec) -> None:
    """Fail early, with one line, on what would otherwise fail mid-run."""
    if providers.provider(spec.provider).key_env and not os.environ.get(spec.api_key_env):
        raise UserError(f"provider {spec.provider} needs {spec.api_key_env} in the environment "
                        "(or use --model ROLE=embedded, or openai-compatible:MODEL@URL for a local server)")
    if spec.provider == "embedded":
        embedded.check(spec.model)  # a known name whose packages are installed; hashing waits for the first call


def structured_methods(spec: ModelSpec) -> list[str]:
    """How to ask this provider for a schema-shaped answer, best first (agents/providers.py);
    agents/structured.py moves down the list when a server refuses one."""
    return list(providers.provider(spec.provider).structured)


def asker_for(role: Role, settings: Settings, temperature: float = 0.0):
    """The role's model wrapped for structured, journaled, fault-tolerant asking."""
    from agents.structured import Asker

    spec = settings.models.for_role(role)
    return Asker(role=role, label=spec.label(), methods=structured_methods(spec), max_attempts=spec.max_attempts,
                 backoff=spec.backoff, model=llm_for(role, settings, temperature))


def embedded_model_path(name: str = embedded.DEFAULT) -> Path:
    """The verified GGUF file of an embedded model (joined and hashed on first use)."""
    return embedded.model_path(name)


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
_LOADED: dict[str, tuple[Any, threading.Lock]] = {}  # model file -> (Llama, its lock)


def _llama(name: str, n_ctx: int | None = None) -> tuple[Any, threading.Lock]:
    """The loaded model and the lock that serialises its use (llama.cpp contexts are not
    thread-safe).  One file is loaded once per process, whatever roles use it and whatever
    n_ctx they ask for (the first load fixes the context; the default is the registry's).
    Loading happens under a lock: two threads loading at once both redirect stdout/stderr to
    /dev/null (llama-cpp-python's quiet mode) and one restores the other's redirection, which
    silenced the CLI's output for good."""
    with _LOADING:
        model = embedded.get(name)
        path = str(embedded.model_path(name))  # joined and verified on first use
        if path not in _LOADED:
            _LOADED[path] = _load_llama(path, n_ctx or model.n_ctx, model.chat_format)
        return _LOADED[path]


def llama_threads() -> int:
    """Threads for the embedded model: ARCHAGENTS_LLM_THREADS, else half the cores (llama.cpp's own
    default).  Never all of them: llama.cpp's threads spin at every barrier, so when anything else
    wants a core (a training child, a second search) all-core decoding collapses.  Measured on 2
    cores under load: 64 tokens in 4.8 s with 1 thread, 124 s with 2."""
    configured = os.environ.get("ARCHAGENTS_LLM_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) // 2)


PREFIX_CACHE_BYTES = 512 << 20


def _load_llama(model_path: str, n_ctx: int, chat_format: str | None) -> tuple[Any, threading.Lock]:
    from llama_cpp import Llama

    # n_threads_batch too: llama-cpp-python gives prompt processing every core unless told.
    threads = llama_threads()
    llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                  chat_format=chat_format, verbose=False)
    llama.set_cache(prefix_cache(PREFIX_CACHE_BYTES))
    return llama, threading.Lock()


def prefix_cache(capacity_bytes: int) -> Any:
    """A llama.cpp state cache keyed by token prefix, so the roles that share one loaded model
    each find their own prefix again.  llama-cpp-python by itself reuses only the previous call's
    tokens; with another role's call in between, a designer call evaluated its whole ~1,000-1,500
    token prompt again, with this cache only the ~130 new tokens (bench/prefix_cache.py, Qwen 0.5B:
    6.2x faster per call).  Llama.save_state also copies the logits of up to n_batch tokens (512 x
    152k floats, 309 MB, with Qwen's vocabulary; ~0.4 s per call) which nothing reads when
    logits_all=False (a restored state evaluates its last token again) and which the cache's
    capacity does not count: only the last row is kept (load_state broadcasts it)."""
    from llama_cpp import LlamaRAMCache

    class PrefixCache(LlamaRAMCache):
        def __setitem__(self, key, value):
            value.scores = value.scores[-1:].copy()
            super().__setitem__(key, value)

    return PrefixCache(capacity_bytes=capacity_bytes)


@cache
def _grammar(gbnf: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)


@cache
def _schema_grammar(schema: str) -> Any:
    """GBNF for a JSON schema, built once per schema.  response_format={"type": "json_object",
    "schema": ...} converts it again on every call and, when the conversion fails, silently falls
    back to any JSON at all.  Per token both decode alike (bench/constrained_decoding.py, Qwen 0.5B,
    two runs: response_format took 1.09x and 0.98x the time of this, same answers; either costs
    1.2-1.35x free decoding with the 152k-token vocabulary)."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema, verbose=False)


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class ChatEmbedded(BaseChatModel):
    """A LangChain chat model over an in-process llama.cpp model (agents/embedded.py's registry).

    Hand-written rather than langchain-community's ChatLlamaCpp because that
    package is being sunset and its messages carry no `usage_metadata`, which
    we need to count tokens per role.  Structured output uses a GBNF grammar built
    from the JSON schema, so every answer parses (measured with SmolLM2: 0/20 valid
    JSON free-form, 20/20 constrained).
    """

    model: str = embedded.DEFAULT  # a name in agents/embedded.py's registry
    temperature: float = 0.0
    max_tokens: int = 384
    seed: int | None = None
    n_ctx: int | None = None  # None: the registry's; the first role to load a file fixes it
    grammar: str | None = None  # GBNF constraining free text (e.g. "one python code block")

    @property
    def _llm_type(self) -> str:
        return "embedded-llama-cpp"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        llama, lock = _llama(self.model, self.n_ctx)
        schema = kwargs.pop("json_schema", None)
        params = {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed,
                  "stop": stop or [], **kwargs}
        if schema is not None:
            params["grammar"] = _schema_grammar(schema)
        elif self.grammar and "response_format" not in params:
            params["grammar"] = _grammar(self.grammar)
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        with lock:
            response = llama.create_chat_completion(messages=chat, **params)
        choice, usage = response["choices"][0], response["usage"]
        message = AIMessage(
            content=choice["message"]["content"] or "",
            usage_metadata={"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                            "total_tokens": usage["total_tokens"]},
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self.model})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(self, schema: type[BaseModel], *, include_raw: bool = False,
                               **kwargs: Any) -> Runnable:
        constrained = self.bind(json_schema=json.dumps(schema.model_json_schema()))

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
