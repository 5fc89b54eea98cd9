"""Providers as data: what each one supports and costs, read wherever the code would otherwise
branch on a provider's name (settings, agents/llm.py, agents/inspector.py, memory/runs.py, cli.py).

`structured` lists the ways to get a schema-shaped answer, best first; agents/structured.py
tries them in order and remembers, for the run, the first one a server accepts (a server that
refuses `response_format: json_schema` with a 4xx/5xx gets `json_mode` next, then tool calls,
then free text parsed and retried).  Prices are US dollars per 1,000 tokens as published by the
provider (OpenAI's price page, checked for the models listed; a model not listed has no known
price unless the role's ModelSpec gives one): local models cost nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Method = Literal["grammar", "json_schema", "json_mode", "function_calling", "text"]


class Provider(BaseModel):
    name: str
    local: bool                      # runs on this machine or the user's own server: no per-token price
    key_env: str | None              # the environment variable holding the API key, if one is needed
    structured: tuple[Method, ...]   # structured-output methods, best first
    tool_calling: bool               # the model can drive a tool loop (agents/inspector.py)
    prices: dict[str, tuple[float, float]] = {}  # model -> (USD per 1k tokens in, out)


PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    # llama.cpp in-process: the JSON schema becomes a grammar, so every answer parses.
    Provider(name="embedded", local=True, key_env=None, structured=("grammar",), tool_calling=False),
    Provider(name="openai", local=False, key_env="OPENAI_API_KEY",
             structured=("json_schema", "function_calling", "json_mode", "text"), tool_calling=True,
             prices={"gpt-4o-mini": (0.00015, 0.0006), "gpt-4o": (0.0025, 0.01), "gpt-4.1": (0.002, 0.008),
                     "gpt-4.1-mini": (0.0004, 0.0016), "gpt-4.1-nano": (0.0001, 0.0004)}),
    # vLLM, Ollama, llama.cpp's server...: support varies; llama-cpp-python's server refuses
    # json_schema (HTTP 500 "Input should be 'text' or 'json_object'") and takes json_object.
    Provider(name="openai-compatible", local=True, key_env=None,
             structured=("json_schema", "json_mode", "function_calling", "text"), tool_calling=True),
    Provider(name="hf", local=True, key_env=None, structured=("text",), tool_calling=False),
)}


def provider(name: str) -> Provider:
    return PROVIDERS[name]


def price(spec) -> tuple[float, float] | None:
    """(USD per 1k tokens in, out) for a role's ModelSpec: its own price if it gives one, the
    table's for its model, 0 for local providers, None when unknown."""
    if spec.price_per_1k is not None:
        return spec.price_per_1k
    known = PROVIDERS[spec.provider]
    if known.local:
        return (0.0, 0.0)
    return known.prices.get(spec.model)


def cost_usd(usage: dict, settings) -> float | None:
    """What the roles' tokens cost; None when a role that spent tokens has no known price."""
    total = 0.0
    for role, spent in usage.items():
        rates = price(settings.models.for_role(role))
        if rates is None:
            if spent.tokens_in or spent.tokens_out:
                return None
            continue
        total += spent.tokens_in / 1000 * rates[0] + spent.tokens_out / 1000 * rates[1]
    return total
