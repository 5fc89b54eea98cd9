"""Seconds per call of JSON-schema constrained decoding: response_format vs a GBNF grammar.

    python bench/constrained_decoding.py [--model qwen2.5-coder-0.5b] [--calls 5] [--max-tokens 100]
    python bench/constrained_decoding.py --speed [--model NAME ...]

The same GENIUS designer prompts as bench/prefix_cache.py, on one loaded model, in one process.
Before each call the prompt is evaluated once (so every way finds it cached and only decoding is
timed), then it is answered three ways at temperature 0 (the constrained two alternate in order):

  free          no constraint (for scale: what the constraint costs at all)
  response_format   {"type": "json_object", "schema": ...}: llama-cpp-python converts the schema
                to GBNF on every call (and silently falls back to any JSON if that fails)
  gbnf          the same schema converted once (LlamaGrammar.from_json_schema), passed as grammar=;
                what agents/llm.py's ChatEmbedded.with_structured_output does

It prints seconds per call and per generated token for each, and the ratios.

--speed measures, per model, one call from scratch: the ~1,000-token prompt evaluated with nothing
cached and --max-tokens tokens constrained by the schema (the s/call in agents/embedded.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prefix_cache import genius_prompts, load  # noqa: E402  (the same prompts and loading)


def timed(llama, messages: list[dict], max_tokens: int, **constraint) -> tuple[float, dict, str]:
    """Seconds, usage and answer of one call."""
    started = time.perf_counter()
    out = llama.create_chat_completion(messages=messages, temperature=0.0, max_tokens=max_tokens, seed=0,
                                       **constraint)
    return time.perf_counter() - started, out["usage"], out["choices"][0]["message"]["content"]


def compare(name: str, calls: int, max_tokens: int) -> None:
    from llama_cpp import LlamaGrammar

    prompts, schema = genius_prompts(calls)
    llama, threads = load(name)
    ways = {"free": lambda: {},
            "response_format": lambda: {"response_format": {"type": "json_object", "schema": json.loads(schema)}},
            "gbnf": lambda g=LlamaGrammar.from_json_schema(schema, verbose=False): {"grammar": g}}
    print(f"model {name} (vocabulary {llama.n_vocab():,}), {threads} thread(s), load {os.getloadavg()[0]:.1f}, "
          f"{calls} prompts, up to {max_tokens} tokens")
    seconds = {way: [] for way in ways}
    tokens = {way: [] for way in ways}
    same = 0
    for i, messages in enumerate(prompts):
        timed(llama, messages, 1)  # evaluate the prompt once: every way below finds it cached
        answers = {}
        order = ["free", "response_format", "gbnf"] if i % 2 == 0 else ["free", "gbnf", "response_format"]
        for way in order:  # the two constrained ways take turns going first (the load drifts)
            s, usage, answers[way] = timed(llama, messages, max_tokens, **ways[way]())
            seconds[way].append(s)
            tokens[way].append(usage["completion_tokens"])
        same += answers["response_format"] == answers["gbnf"]
    for way in ways:
        per_token = sum(seconds[way]) / max(1, sum(tokens[way]))
        print(f"{way:16s} {statistics.mean(seconds[way]):6.2f} s/call  {1000 * per_token:6.1f} ms/token  "
              f"tokens {tokens[way]}")
    rf, gb, free = (sum(seconds[w]) / max(1, sum(tokens[w])) for w in ("response_format", "gbnf", "free"))
    print(f"response_format / gbnf: {statistics.mean(seconds['response_format']) / statistics.mean(seconds['gbnf']):.2f}x "
          f"per call, {rf / gb:.2f}x per token; constrained (gbnf) / free per token: {gb / free:.2f}x; "
          f"identical answers {same}/{calls} (load {os.getloadavg()[0]:.1f})")


def speed(name: str, max_tokens: int) -> None:
    from llama_cpp import LlamaGrammar

    prompts, schema = genius_prompts(1, first=4)
    llama, threads = load(name)
    load_before = os.getloadavg()[0]
    s, usage, _ = timed(llama, prompts[0], max_tokens, grammar=LlamaGrammar.from_json_schema(schema, verbose=False))
    print(f"{name}: {s:.1f} s for a {usage['prompt_tokens']}-token prompt + {usage['completion_tokens']} constrained "
          f"tokens, {threads} thread(s), "
          f"load {load_before:.1f}-{os.getloadavg()[0]:.1f}, {date.today().isoformat()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", nargs="+", default=["qwen2.5-coder-0.5b"])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--speed", action="store_true", help="one cold call per model (agents/embedded.py's table)")
    args = parser.parse_args()
    for name in args.model:
        speed(name, args.max_tokens) if args.speed else compare(name, args.calls, args.max_tokens)


if __name__ == "__main__":
    main()
