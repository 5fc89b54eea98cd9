"""Limits a user puts on a run (settings.limits): evaluations, LLM tokens, cost, time.

The budget is the search's plan (GENIUS's iterations, LAPT's rounds): reaching it finishes the
run.  A limit is a stop: when one is reached the graph's router sends it to `halt`, which
journals why, writes a partial result.json (its `stop_reason` says which limit, `resumable`
is true) and pauses the graph with a LangGraph interrupt, checkpointed like any step.
`cli.py search --resume RUN --max-tokens N` raises the limit and resumes: `halt` runs again
from the top, finds the limit no longer reached, and the search continues where it stopped.

Cost comes from the provider table's prices (agents/providers.py); local models cost nothing.
The time limit counts this session's wall time (from when it started or resumed).
"""

from __future__ import annotations

import time

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.context import RunContext

HALT = "halt"


def reached(state, ctx: RunContext) -> str | None:
    """Which limit the run has reached, in words, or None."""
    limits = ctx.settings.limits
    if limits.max_evaluations is not None and state.evaluations >= limits.max_evaluations:
        return f"max evaluations reached ({state.evaluations} of {limits.max_evaluations})"
    tokens = sum(u.tokens_in + u.tokens_out for u in state.usage.values())
    if limits.max_tokens is not None and tokens >= limits.max_tokens:
        return f"max tokens reached ({tokens:,} of {limits.max_tokens:,})"
    if limits.max_cost is not None:
        from agents.providers import cost_usd

        cost = cost_usd(state.usage, ctx.settings)
        if cost is not None and cost >= limits.max_cost:
            return f"max cost reached (${cost:.4f} of ${limits.max_cost:g})"
    if limits.time_limit is not None and time.monotonic() - ctx.started >= limits.time_limit:
        return f"time limit reached ({time.monotonic() - ctx.started:.0f} s of {limits.time_limit:g} s this session)"
    return None


def halt(state, runtime: Runtime[RunContext]) -> dict:
    """Pause at a limit (unannotated state: the graph's own class, see nodes.finish)."""
    from graphs.nodes import write_result

    ctx = runtime.context
    reason = reached(state, ctx)
    if reason is None:  # resumed with a higher limit: carry on
        return {}
    ctx.journal.append(state.step, "run", data={"event": "halted", "reason": reason})
    write_result(state, ctx, reason, resumable=True)
    interrupt({"halt": reason})
    return {}


def is_halt(payload) -> bool:
    return isinstance(payload, dict) and "halt" in payload
