"""Ask a chat model for a pydantic object (or code as text), journal everything, count tokens
and faults, and survive what real servers do.

Structured output: the provider table (agents/providers.py) lists the ways a provider can give
a schema-shaped answer, best first (`methods`).  When a server refuses one (a 4xx/5xx whose
message names response_format, json_schema, tools, ...: llama-cpp-python's server answers
HTTP 500 "Input should be 'text' or 'json_object'" to json_schema), the next is tried, and the
one that worked is kept for the rest of the run (journaled as `structured_output_method`).
The last resort is free text: the first JSON object in it is validated, and on failure the
model is shown its error and asked again (`retries` times).

Faults: timeouts, connection errors, HTTP 429 (its Retry-After honoured) and 5xx are retried
with exponential backoff up to `max_attempts`; each is journaled as an `error` event with its
kind and counted per role (`Usage.faults`, in the summary).  A role that keeps failing raises
LLMError naming the role, the fault and the last message: the run's checkpoint is intact and
the CLI prints the exact resume command.  Authentication and other client errors are not
retried.  API keys never reach the journal or an error message (errors.scrub).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Callable, TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from errors import LLMError, scrub
from memory.journal import Journal

T = TypeVar("T", bound=BaseModel)

MAX_ATTEMPTS = 5          # calls per answer when the provider fails transiently
BACKOFF_SECONDS = 1.0     # first wait; doubles each time
MAX_WAIT_SECONDS = 120.0  # a Retry-After longer than this is cut to it


class Usage(BaseModel):
    """Calls, tokens, seconds and faults (by kind) spent by one role."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    faults: dict[str, int] = {}

    def add(self, other: "Usage") -> "Usage":
        faults = dict(self.faults)
        for kind, n in other.faults.items():
            faults[kind] = faults.get(kind, 0) + n
        return Usage(calls=self.calls + other.calls, tokens_in=self.tokens_in + other.tokens_in,
                     tokens_out=self.tokens_out + other.tokens_out, seconds=self.seconds + other.seconds,
                     faults=faults)


class Fault(Exception):
    """A transient failure of one call, classified."""

    def __init__(self, kind: str, message: str, wait: float | None = None):
        super().__init__(message)
        self.kind, self.wait = kind, wait


class Asker(BaseModel, arbitrary_types_allowed=True):
    """A role's model with what is needed to journal its calls."""

    role: str
    label: str
    model: BaseChatModel
    methods: list[str] = []          # structured-output methods to try, best first; [] = the model's own
    max_attempts: int = MAX_ATTEMPTS
    backoff: float = BACKOFF_SECONDS
    sleep: Callable[[float], None] = time.sleep  # tests make waiting instant

    def ask(self, messages: list[BaseMessage], schema: type[T], journal: Journal, step: int,
            retries: int = 2, temperature: float | None = None, seed: int | None = None,
            tag: dict | None = None, answer_tokens: int | None = None) -> tuple[T | None, Usage]:
        """One structured answer (or None after `retries` failed parses) and the usage it cost.
        `temperature` and `seed` override the model's own for this call, where it has them; `tag`
        is journaled with the prompt and every answer.  `answer_tokens` raises the model's
        max_tokens to at least that for this call (a schema whose smallest answer is longer than
        the role's limit would be cut short every time: LAPT's refined DARTS space, 32 positions)."""
        tag = tag or {}
        journal.append(step, "prompt", role=self.role, model=self.label,
                       data={"schema": schema.__name__, "messages": [_dump(m) for m in messages],
                             "temperature": temperature, "seed": seed, **tag})
        usage = Usage()
        limit = getattr(self.model, "max_tokens", None)
        room = max(answer_tokens, limit or 0) if answer_tokens and limit is not None else None
        model = _with_sampling(self.model, temperature=temperature, seed=seed, max_tokens=room)
        conversation = list(messages)
        attempt = 0
        while attempt <= retries:
            structured = self._structured(model, schema)
            started = time.perf_counter()
            try:
                if structured is not None:
                    out, spent = self._call(lambda: structured.invoke(conversation, self.traced()), journal, step)
                    raw, parsed, error = out["raw"], out["parsed"], out["parsing_error"]
                else:
                    raw, spent = self._call(lambda: model.invoke(conversation + [HumanMessage(_json_instruction(
                        schema))], self.traced()), journal, step)
                    parsed, error = _parse_text(str(raw.content), schema)
            except _Unparsed as unparsed:  # the client library validated the answer itself, and refused it
                raw, parsed, error, spent = AIMessage(unparsed.content, response_metadata={
                    "finish_reason": unparsed.finish}), None, unparsed.__cause__, unparsed.spent
            except _Refused as refusal:
                journal.append(step, "error", role=self.role, model=self.label,
                               data={"structured_output_refused": refusal.method, "detail": scrub(str(refusal))[:2000]})
                self.methods = self.methods[1:] or ["text"]
                journal.append(step, "run", role=self.role, data={"structured_output_method": self.methods[0]})
                continue  # a refused method is not an attempt at the answer
            usage = usage.add(spent)
            call = _usage(raw, time.perf_counter() - started)
            usage = usage.add(call)
            journal.append(step, "answer", role=self.role, model=self.label, tokens_in=call.tokens_in,
                           tokens_out=call.tokens_out,
                           data={"content": str(raw.content), "tool_calls": getattr(raw, "tool_calls", []),
                                 "parsed": parsed.model_dump() if parsed else None, "attempt": attempt,
                                 "seconds": round(call.seconds, 3), "method": self.methods[0] if self.methods else None,
                                 **tag})
            if parsed is not None:
                return parsed, usage
            kind = "empty_answer" if not str(raw.content).strip() and not getattr(raw, "tool_calls", None) else \
                "truncated_answer" if _finish(raw) == "length" else "invalid_answer"
            usage = usage.add(Usage(faults={kind: 1}))
            journal.append(step, "parse_error", role=self.role, model=self.label,
                           data={"error": scrub(str(error))[:2000], "attempt": attempt, "fault": kind})
            conversation += [AIMessage(str(raw.content) or json.dumps(getattr(raw, "tool_calls", []))),
                             HumanMessage(f"That answer was not valid: {str(error)[:500]}\n"
                                          "Reply again with only the corrected JSON object.")]
            attempt += 1
        return None, usage

    async def ask_text(self, messages: list[BaseMessage], journal: Journal, step: int, *,
                       temperature: float | None = None, seed: int | None = None, max_tokens: int | None = None,
                       grammar: str | None = None, tag: dict | None = None) -> tuple[str, Usage]:
        """One free-text answer (for code, which constrained JSON would mangle), async so a
        generation's calls can overlap.  `grammar` (GBNF) constrains the form of the text
        where the model supports it (the embedded one); `tag` is journaled with the call."""
        tag = tag or {}
        journal.append(step, "prompt", role=self.role, model=self.label,
                       data={"messages": [_dump(m) for m in messages], "temperature": temperature, **tag})
        model = _with_sampling(self.model, temperature=temperature, seed=seed, max_tokens=max_tokens, grammar=grammar)
        usage = Usage()
        for attempt in range(self.max_attempts):
            started = time.perf_counter()
            try:
                raw = await model.ainvoke(messages, self.traced())
                break
            except Exception as err:
                fault = self._fault(err, attempt, journal, step)
                usage = usage.add(Usage(faults={fault.kind: 1}))
                await asyncio.sleep(fault.wait)
        call = _usage(raw, time.perf_counter() - started)
        usage = usage.add(call)
        journal.append(step, "answer", role=self.role, model=self.label, tokens_in=call.tokens_in,
                       tokens_out=call.tokens_out,
                       data={"content": str(raw.content), "seconds": round(call.seconds, 3), **tag})
        return str(raw.content), usage

    def traced(self) -> dict:
        """The call's tags and metadata for LangSmith (graphs/tracing.py): which role asked."""
        return {"tags": [f"role:{self.role}"], "metadata": {"role": self.role, "model": self.label},
                "run_name": self.role}

    # --- the call, with retries ---------------------------------------------------------

    def _call(self, invoke: Callable, journal: Journal, step: int):
        """invoke() until it answers; transient faults waited out and counted."""
        spent = Usage()
        for attempt in range(self.max_attempts):
            try:
                return invoke(), spent
            except Exception as err:
                if self.methods and _refuses_method(err):
                    raise _Refused(self.methods[0], str(err)) from err
                names = {cls.__name__ for cls in type(err).__mro__}
                if names & {"ValidationError", "OutputParserException"}:
                    raise _Unparsed(str(err), spent) from err
                if "LengthFinishReasonError" in names:
                    # the cap cut a json_schema answer: an answer, not a fault of the server; asking
                    # again the same way would likely ramble again, so it is corrected like a bad
                    # answer and, after `retries`, the step goes on without it (no run is lost to it)
                    raise _Unparsed(_truncated_text(err), spent, finish="length") from err
                fault = self._fault(err, attempt, journal, step)
                spent = spent.add(Usage(faults={fault.kind: 1}))
                self.sleep(fault.wait)
        raise AssertionError("unreachable")  # _fault raises on the last attempt

    def _fault(self, err: Exception, attempt: int, journal: Journal, step: int) -> Fault:
        """Classify a failure; journal it; raise LLMError when it is not transient or the attempts
        are spent, else return it with how long to wait."""
        fault = classify(err)
        if fault is None or attempt + 1 >= self.max_attempts:
            kind = fault.kind if fault else type(err).__name__
            journal.append(step, "error", role=self.role, model=self.label,
                           data={"fault": kind, "attempt": attempt, "final": True, "detail": scrub(str(err))[:2000]})
            raise LLMError(scrub(f"{self.role} model {self.label} failed ({kind}"
                                 + (f", {attempt + 1} attempts" if fault else "") + f"): {_first_line(err)}")) from err
        wait = fault.wait if fault.wait is not None else min(self.backoff * 2 ** attempt, MAX_WAIT_SECONDS)
        fault.wait = min(wait, MAX_WAIT_SECONDS)
        journal.append(step, "error", role=self.role, model=self.label,
                       data={"fault": fault.kind, "attempt": attempt, "wait_seconds": fault.wait,
                             "detail": scrub(str(err))[:500]})
        return fault

    def _structured(self, model: BaseChatModel, schema: type[BaseModel]):
        method = self.methods[0] if self.methods else None
        if method == "text":
            return None
        try:
            kwargs = {"method": method} if method and method != "grammar" else {}
            return model.with_structured_output(schema, include_raw=True, **kwargs)
        except NotImplementedError:
            self.methods = ["text"]
            return None


class _Unparsed(Exception):
    def __init__(self, content: str, spent: Usage, finish: str | None = None):
        super().__init__(content)
        self.content, self.spent, self.finish = content, spent, finish


def _truncated_text(err: Exception) -> str:
    """What the model wrote before the cap (openai's LengthFinishReasonError carries the completion)."""
    try:
        return err.completion.choices[0].message.content or ""
    except (AttributeError, IndexError):
        return ""


class _Refused(Exception):
    def __init__(self, method: str, message: str):
        super().__init__(message)
        self.method = method


_METHOD_WORDS = re.compile(r"response_format|json_schema|json_object|tool_choice|\btools?\b|function", re.IGNORECASE)


def _refuses_method(err: Exception) -> bool:
    """A 4xx/5xx that names the structured-output mechanism: the server does not do it."""
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    return (isinstance(status, int) and status >= 400 and bool(_METHOD_WORDS.search(str(err)))) or \
        isinstance(err, NotImplementedError)


def classify(err: Exception) -> Fault | None:
    """The transient faults worth retrying (None: not transient).  Matched by class name along the
    exception's ancestry: LangChain wraps openai's errors (OpenAITimeoutError is an APITimeoutError)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    if names & {"APITimeoutError", "TimeoutException", "TimeoutError"}:
        return Fault("timeout", str(err))
    if names & {"APIConnectionError", "ConnectError", "RemoteProtocolError", "ConnectionError"}:
        return Fault("connection", str(err))
    if status == 429 or "RateLimitError" in names:
        return Fault("rate_limited", str(err), _retry_after(err))
    if isinstance(status, int) and status >= 500:
        return Fault("server_error", str(err), _retry_after(err))
    if "LengthFinishReasonError" in names:  # max_tokens cut a json_schema answer: ask again at once
        return Fault("truncated_answer", str(err), 0.0)
    if "JSONDecodeError" in names:  # a proxy's error page, or a broken body: the server again
        return Fault("garbage_response", str(err))
    return None


def _retry_after(err: Exception) -> float | None:
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"


def _finish(raw: BaseMessage) -> str | None:
    return (getattr(raw, "response_metadata", None) or {}).get("finish_reason")


def _with_sampling(model: BaseChatModel, **sampling: float | int | None) -> BaseChatModel:
    fields = type(model).model_fields
    update = {name: value for name, value in sampling.items() if value is not None and name in fields}
    body = getattr(model, "extra_body", None)
    if "max_tokens" in update and isinstance(body, dict) and "max_tokens" in body:  # see agents/llm.py
        update["extra_body"] = {**body, "max_tokens": update["max_tokens"]}
    return model.model_copy(update=update) if update else model


def _usage(raw: BaseMessage, seconds: float) -> Usage:
    meta = getattr(raw, "usage_metadata", None) or {}
    return Usage(calls=1, tokens_in=meta.get("input_tokens", 0), tokens_out=meta.get("output_tokens", 0),
                 seconds=seconds)


def _dump(message: BaseMessage) -> dict:
    return {"role": message.type, "content": str(message.content)}


def _json_instruction(schema: type[BaseModel]) -> str:
    return ("Answer with one JSON object and nothing else. It must match this JSON schema:\n"
            + json.dumps(schema.model_json_schema()))


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _parse_text(text: str, schema: type[T]) -> tuple[T | None, Exception | None]:
    """The outermost {...} in a free-form answer (models like to wrap JSON in prose or fences)."""
    match = _JSON_OBJECT.search(text)
    if match is None:
        return None, ValueError("no JSON object found in the answer")
    try:
        return schema.model_validate_json(match.group(0)), None
    except ValidationError as err:
        return None, err
