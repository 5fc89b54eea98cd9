"""Ask a chat model for a pydantic object, journal everything, count tokens.

Models that support `with_structured_output` are asked that way (for the
embedded model it is grammar-constrained).  Where a model lacks it, or the
server rejects the structured request, the answer is read as text: the first
JSON object in it is validated, and on failure the model is shown its error
and asked again (`retries` times).
"""

from __future__ import annotations

import json
import re
import time
from typing import TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from errors import LLMError
from memory.journal import Journal

T = TypeVar("T", bound=BaseModel)


class Usage(BaseModel):
    """Calls, tokens and seconds spent by one role."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0

    def add(self, other: "Usage") -> "Usage":
        return Usage(calls=self.calls + other.calls, tokens_in=self.tokens_in + other.tokens_in,
                     tokens_out=self.tokens_out + other.tokens_out, seconds=self.seconds + other.seconds)


class Asker(BaseModel, arbitrary_types_allowed=True):
    """A role's model with what is needed to journal its calls."""

    role: str
    label: str
    model: BaseChatModel
    method: str | None = None  # with_structured_output method; None = the model's default

    def ask(self, messages: list[BaseMessage], schema: type[T], journal: Journal, step: int,
            retries: int = 2, temperature: float | None = None, seed: int | None = None) -> tuple[T | None, Usage]:
        """One structured answer (or None after `retries` failed parses) and the usage it cost.
        `temperature` and `seed` override the model's own for this call, where it has them."""
        journal.append(step, "prompt", role=self.role, model=self.label,
                       data={"schema": schema.__name__, "messages": [_dump(m) for m in messages],
                             "temperature": temperature, "seed": seed})
        usage = Usage()
        model = _with_sampling(self.model, temperature=temperature, seed=seed)
        structured = self._structured(model, schema)
        conversation = list(messages)
        for attempt in range(retries + 1):
            started = time.perf_counter()
            try:
                if structured is not None:
                    out = structured.invoke(conversation)
                    raw, parsed, error = out["raw"], out["parsed"], out["parsing_error"]
                else:
                    raw = model.invoke(conversation + [HumanMessage(_json_instruction(schema))])
                    parsed, error = _parse_text(str(raw.content), schema)
            except Exception as err:
                if structured is None or not _refused_structured(err):
                    raise LLMError(f"{self.role} model {self.label} failed: {type(err).__name__}: {err}") from err
                journal.append(step, "error", role=self.role, model=self.label,
                               data={"structured_output_refused": f"{type(err).__name__}: {err}"[:2000]})
                structured = None  # the server will not do it: read text from now on
                continue
            call = _usage(raw, time.perf_counter() - started)
            usage = usage.add(call)
            journal.append(step, "answer", role=self.role, model=self.label, tokens_in=call.tokens_in,
                           tokens_out=call.tokens_out,
                           data={"content": str(raw.content), "tool_calls": getattr(raw, "tool_calls", []),
                                 "parsed": parsed.model_dump() if parsed else None, "attempt": attempt,
                                 "seconds": round(call.seconds, 3)})
            if parsed is not None:
                return parsed, usage
            journal.append(step, "parse_error", role=self.role, model=self.label,
                           data={"error": str(error)[:2000], "attempt": attempt})
            conversation += [AIMessage(str(raw.content) or json.dumps(getattr(raw, "tool_calls", []))),
                             HumanMessage(f"That answer was not valid: {str(error)[:500]}\n"
                                          "Reply again with only the corrected JSON object.")]
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
        started = time.perf_counter()
        try:
            raw = await model.ainvoke(messages)
        except Exception as err:
            raise LLMError(f"{self.role} model {self.label} failed: {type(err).__name__}: {err}") from err
        usage = _usage(raw, time.perf_counter() - started)
        journal.append(step, "answer", role=self.role, model=self.label, tokens_in=usage.tokens_in,
                       tokens_out=usage.tokens_out,
                       data={"content": str(raw.content), "seconds": round(usage.seconds, 3), **tag})
        return str(raw.content), usage

    def _structured(self, model: BaseChatModel, schema: type[BaseModel]):
        try:
            kwargs = {"method": self.method} if self.method else {}
            return model.with_structured_output(schema, include_raw=True, **kwargs)
        except NotImplementedError:
            return None


def _with_sampling(model: BaseChatModel, **sampling: float | int | None) -> BaseChatModel:
    fields = type(model).model_fields
    update = {name: value for name, value in sampling.items() if value is not None and name in fields}
    return model.model_copy(update=update) if update else model


def _refused_structured(err: Exception) -> bool:
    """A 400/422 from the server (no tools / no json_schema support), or a model class
    without the feature; auth and network errors are not refusals."""
    return isinstance(err, (NotImplementedError, ValueError)) or type(err).__name__ in (
        "BadRequestError", "UnprocessableEntityError")


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
