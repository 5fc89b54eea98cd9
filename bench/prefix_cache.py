"""Per-call latency of the embedded model with and without reusing the prompt prefix.

    python bench/prefix_cache.py [--model qwen2.5-coder-0.5b] [--calls 5] [--max-tokens 32]

Five GENIUS designer calls on NB201 (the real prompts of agents/designer.py, each one more
evaluated trial than the last, so they share their first ~800 tokens), asked four ways on one
loaded model, in one process:

  cold          the context is reset before every call: the whole prompt is evaluated
  consecutive   llama-cpp-python's own reuse: the tokens of the previous call stay in the context
  interleaved   another role's call (a different system prompt) between designer calls on the
                same model, as when roles share one loaded file: the previous call is not ours
  interleaved + prefix cache   the same with agents/llm.py's prefix cache (LlamaRAMCache)

It prints, per way, the prompt tokens actually evaluated and the seconds per designer call, and
the ratios measured in this run.  Threads: ARCHAGENTS_LLM_THREADS or half the cores, as in runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def genius_prompts(calls: int, first: int = 3, seed: int = 0) -> tuple[list[list[dict]], str]:
    """`calls` designer conversations on NB201/cifar10 with first, first+1, ... evaluated
    trials (real accuracies of random cells), as chat messages, and the answer schema (JSON)."""
    import json

    import spaces
    from agents.designer import conversation, proposal_schema
    from agents.llm import _ROLES
    from spaces.base import Trial

    space = spaces.get("nb201")
    rng = random.Random(seed)
    archs = rng.sample(space.all_archs(), first + calls)
    trials = [Trial(step=i + 1, arch=arch, source="llm", evaluation=space.evaluate(arch, "cifar10"),
                    rationale="More 3x3 convolutions with a skip path should train deeper without losing gradient.")
              for i, arch in enumerate(archs)]
    prompts = [[{"role": _ROLES[m.type], "content": str(m.content)} for m in conversation(space, "cifar10", trials[:n])]
               for n in range(first, first + calls)]
    return prompts, json.dumps(proposal_schema(space.proposal_schema).model_json_schema())


CRITIC = [{"role": "system", "content": "You are the Critic in a neural architecture search. Review the proposed "
           "NAS-Bench-201 cell before it is evaluated: say whether it repeats an evaluated cell, wastes its "
           "edges, or exceeds the budget, in one JSON object."},
          {"role": "user", "content": "Proposed cell: node1_from_0 nor_conv_3x3, node2_from_0 skip_connect, "
           "node2_from_1 nor_conv_3x3, node3_from_0 skip_connect, node3_from_1 nor_conv_1x1, node3_from_2 "
           "nor_conv_3x3. Accept or reject it, with a reason."}]


def load(name: str):
    """The model as agents/llm.py loads it, but without its prefix cache (the bench sets it)."""
    from llama_cpp import Llama

    from agents import embedded
    from agents.llm import llama_threads

    model = embedded.get(name)
    threads = llama_threads()
    return Llama(model_path=str(embedded.model_path(name)), n_ctx=model.n_ctx, n_threads=threads,
                 n_threads_batch=threads, chat_format=model.chat_format, verbose=False), threads


class Counted:
    """Counts the tokens llama.cpp evaluates (Llama.generate calls self.eval with what is not cached)."""

    def __init__(self, llama):
        self.llama, self.tokens, self._eval = llama, 0, llama.eval
        llama.eval = self._count

    def _count(self, tokens):
        self.tokens += len(tokens)
        return self._eval(tokens)


def ask(llama, counter: Counted, messages: list[dict], grammar, max_tokens: int) -> tuple[float, int, int]:
    """Seconds, prompt tokens evaluated and prompt tokens in all, for one call."""
    before = counter.tokens
    started = time.perf_counter()
    out = llama.create_chat_completion(messages=messages, temperature=0.0, max_tokens=max_tokens, seed=0,
                                       grammar=grammar)
    seconds = time.perf_counter() - started
    generated = out["usage"]["completion_tokens"]
    # generate() evaluates each sampled token but the last one; the rest is prompt.
    return seconds, counter.tokens - before - max(0, generated - 1), out["usage"]["prompt_tokens"]


def run(llama, counter: Counted, prompts, grammar, max_tokens: int, way: str) -> tuple[list[float], list[int]]:
    from agents.llm import PREFIX_CACHE_BYTES, prefix_cache

    llama.reset()
    llama.set_cache(prefix_cache(PREFIX_CACHE_BYTES) if way == "interleaved + prefix cache" else None)
    seconds, evaluated = [], []
    for messages in prompts:
        if way == "cold":
            llama.reset()
        if way.startswith("interleaved"):
            ask(llama, counter, CRITIC, grammar, max_tokens)
        s, n, _ = ask(llama, counter, messages, grammar, max_tokens)
        seconds.append(s)
        evaluated.append(n)
    return seconds, evaluated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from agents.llm import _schema_grammar

    prompts, schema = genius_prompts(args.calls)
    llama, threads = load(args.model)
    counter = Counted(llama)
    grammar = _schema_grammar(schema)
    print(f"model {args.model}, {threads} thread(s), load {os.getloadavg()[0]:.1f}, {args.calls} designer calls, "
          f"{args.max_tokens} constrained tokens each")
    results = {}
    for way in ("cold", "consecutive", "interleaved", "interleaved + prefix cache"):
        seconds, evaluated = run(llama, counter, prompts, grammar, args.max_tokens, way)
        results[way] = statistics.mean(seconds[1:])  # the first call is cold in every way
        print(f"{way:28s} prompt tokens evaluated per call {evaluated}; s/call {[round(s, 2) for s in seconds]}; "
              f"mean of calls 2-{args.calls}: {results[way]:.2f} s")
    print(f"cold / consecutive: {results['cold'] / results['consecutive']:.2f}x; interleaved / interleaved + "
          f"prefix cache: {results['interleaved'] / results['interleaved + prefix cache']:.2f}x "
          f"(load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
