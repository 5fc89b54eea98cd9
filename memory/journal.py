"""The run's append-only event journal (`runs/<id>/events.jsonl`).

Every prompt, LLM answer, tool call, critic verdict, evaluation and fallback
is one JSON line with its role, model, tokens and timestamp.  Conversational
inspection reads this file, so it must be complete; it is also how nodes stay
idempotent on resume: an evaluation already journaled for a step is reused,
not repeated (LangGraph re-runs the interrupted node).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, Field

from errors import UserError, scrub

EventKind = Literal["run", "prompt", "answer", "parse_error", "tool_call", "critic", "evaluation",
                    "fallback", "archive", "offspring", "generation", "result", "error", "principles",
                    "revision"]  # revision: a round of GENIUS's FLOPs loop (agents/flops_loop.py)


class Event(BaseModel):
    seq: int
    ts: float = Field(default_factory=time.time)
    step: int
    kind: EventKind
    role: str | None = None
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    data: dict[str, Any] = {}


class Journal:
    """Append-only JSONL; each line is flushed to the OS as it is written, so a kill -9 loses nothing.
    (Lines are not fsynced one by one: that cost a third of the framework's time per evaluation,
    and only a machine crash could lose unsynced lines; a line cut that way is set aside by `check`.)

    It also answers "was this architecture evaluated already in this run?" from an index built
    once from the file and kept up to date by `append`, so an evaluation interrupted before
    its checkpoint is reused on resume, in any graph, without re-reading the file."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = 0
        self._evaluations: dict[str, Event] = {}
        self._tool_results: dict[str, Event] = {}
        self._tagged: dict[tuple[str, int, int], Event] = {}
        for event in self.events():
            self._seq += 1
            self._index(event)

    def append(self, step: int, kind: EventKind, **fields: Any) -> Event:
        event = Event(seq=self._seq, step=step, kind=kind, **fields)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(scrub(event.model_dump_json()) + "\n")  # no API key is ever written down
            f.flush()  # in the OS's hands: a kill -9 loses nothing; no fsync per line (see the docstring)
        self._seq += 1
        self._index(event)
        return event

    def _index(self, event: Event) -> None:
        if event.kind == "evaluation" and "arch" in event.data:
            self._evaluations[f"{event.data.get('dataset', '')}|{event.data['arch']}"] = event
        elif event.kind == "tool_call" and isinstance(event.data.get("args"), dict) and "arch" in event.data["args"]:
            args = event.data["args"]
            self._tool_results[f"{args.get('dataset', '')}|{args['arch']}"] = event
        elif "generation" in event.data and "index" in event.data:  # LLMatic's answers and offspring
            self._tagged[(event.kind, event.data["generation"], event.data["index"])] = event

    def tagged(self, kind: EventKind, generation: int, index: int) -> Event | None:
        """The last event of this kind journaled for offspring `index` of `generation`."""
        return self._tagged.get((kind, generation, index))

    def evaluation_of(self, arch: str, dataset: str = "") -> Event | None:
        """The journaled evaluation of `arch` on `dataset` in this run, if any."""
        return self._evaluations.get(f"{dataset}|{arch}")

    def tool_result_of(self, arch: str, dataset: str = "") -> Event | None:
        """The journaled evaluator call for `arch` on `dataset`, if any: a kill -9 between a tool
        call and its evaluation line must not pay for the call again on resume."""
        return self._tool_results.get(f"{dataset}|{arch}")

    def last(self) -> Event | None:
        """The last whole event, read from the end of the file (not the whole journal)."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            size = 1 << 16
            while True:
                f.seek(max(0, end - size))
                lines = [line for line in f.read().split(b"\n") if line.strip()]
                for line in reversed(lines[1:] if end > size else lines):  # the first may be cut by the seek
                    try:
                        return Event.model_validate_json(line)
                    except ValueError:  # a line cut by a crash mid-write
                        continue
                if end <= size:
                    return None
                size *= 4

    def events(self, kinds: tuple[str, ...] = ()) -> Iterator[Event]:
        """Every event in order; with `kinds`, only those (a line of another kind is skipped before
        it is parsed: the prompts make most of a long journal, and parsing them was 5 ms of every
        evaluation of a 400-step run's summary)."""
        if not self.path.exists():
            return
        wanted = tuple(f'"kind":"{kind}"' for kind in kinds)
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip() and (not wanted or any(w in line for w in wanted)):
                    try:
                        event = Event.model_validate_json(line)
                    except ValueError:  # a line cut by a crash mid-write: skip it, keep the rest
                        continue
                    if not kinds or event.kind in kinds:
                        yield event

    def check(self) -> str | None:
        """Before a run continues from this journal: a last line cut by a kill -9 mid-write is moved
        to events.jsonl.cut (returned as a one-line notice; that event was not acted upon, its node
        runs again); a damaged line anywhere else is a UserError, never silently skipped."""
        if not self.path.exists():
            return None
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every complete write does
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    Event.model_validate_json(line)
                except ValueError:
                    raise UserError(f"{self.path} is damaged at line {number} (not a journal event); it cannot be "
                                    "continued safely: start a new run, or restore the file") from None
        if not tail.strip():
            return None
        cut = self.path.with_name(self.path.name + ".cut")
        cut.write_bytes(tail)
        with self.path.open("r+b") as f:
            f.truncate(len(data) - len(tail))
        self.__init__(self.path)
        return f"the last line of {self.path.name} was cut by a crash mid-write; moved to {cut.name}"

    def find(self, kind: EventKind, step: int) -> Event | None:
        """The last event of this kind at this step (for idempotent nodes)."""
        found = None
        for event in self.events():
            if event.kind == kind and event.step == step:
                found = event
        return found


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)
