"""Scripted chat models: replay answers so graphs run deterministically offline.

LangChain's GenericFakeChatModel has no `with_structured_output`; these add it
the way real providers behave: `Scripted` returns {raw, parsed, parsing_error},
`TextOnly` has no structured mode, so callers must parse its text.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel, Field, ValidationError

Answer = dict | str | Callable[[list[BaseMessage]], dict | str]


class Scripted(BaseChatModel):
    """Replays `answers` in order (a dict is serialised to JSON; a callable sees the messages).
    After the script runs out, the last answer repeats.  `seen` records every prompt."""

    answers: list[Any]
    temperature: float = 0.0
    seed: int | None = None
    # Shared by the per-call copies that Asker makes (model_copy is shallow), so the
    # script position and the record survive temperature/seed overrides.
    # repr=False: LangChain puts the model's repr in every call's metadata; a growing record there made
    # a 2,000-call fake run quadratic (bench/framework_overhead.py measured it).
    seen: list[list[BaseMessage]] = Field(default_factory=list, repr=False)
    sampling: list[tuple[float, int | None]] = Field(default_factory=list, repr=False)
    counter: list[int] = Field(default_factory=lambda: [0], repr=False)
    fail_on_call: int | None = None  # raise `crash` at this call (1-based), to simulate a crash
    crash: type[BaseException] = KeyboardInterrupt

    @property
    def calls(self) -> int:
        return self.counter[0]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: list[BaseMessage]) -> str:
        self.counter[0] += 1
        self.sampling.append((self.temperature, self.seed))
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise self.crash("simulated crash")
        self.seen.append(list(messages))
        answer = self.answers[min(self.calls - 1, len(self.answers) - 1)]
        if callable(answer):
            answer = answer(messages)
        return answer if isinstance(answer, str) else json.dumps(answer)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = self._next(messages)
        usage = {"input_tokens": sum(len(str(m.content).split()) for m in messages),
                 "output_tokens": len(text.split()), "total_tokens": 0}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text, usage_metadata=usage))])

    def with_structured_output(self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs):
        def run(messages) -> dict:
            messages = messages.to_messages() if hasattr(messages, "to_messages") else messages
            raw = self.invoke(messages)
            try:
                return {"raw": raw, "parsed": schema.model_validate_json(raw.content), "parsing_error": None}
            except ValidationError as err:
                return {"raw": raw, "parsed": None, "parsing_error": err}

        chain = RunnableLambda(run)
        return chain if include_raw else chain | RunnableLambda(lambda out: out["parsed"])


class TextOnly(Scripted):
    """A model without structured output: answers are free text."""

    def with_structured_output(self, schema, *, include_raw: bool = False, **kwargs):
        raise NotImplementedError


def cell(*ops: str, rationale: str = "because") -> dict:
    """A designer answer for NB201 with the six ops in edge order."""
    names = ("node1_from_0", "node2_from_0", "node2_from_1", "node3_from_0", "node3_from_1", "node3_from_2")
    return {"rationale": rationale, "architecture": dict(zip(names, ops))}


class Overlap:
    """Counts calls in flight at once: `with overlap: work()`; `peak` is the most at a time."""

    def __init__(self, seconds: float):
        import threading

        self.seconds, self.running, self.peak, self._lock = seconds, 0, 0, threading.Lock()

    def __enter__(self) -> "Overlap":
        import time

        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.seconds)  # long enough for concurrent callers to arrive
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.running -= 1
