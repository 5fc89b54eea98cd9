"""What a finished search leaves in the persistent memory (memory/store.py), and how graphs
open it: every evaluated architecture (one batched add) and every piece of agent reasoning
from the journal (rationales, critiques, answers), linked to run and step.

Called by the `finish` nodes; `memory_write = false` (or ARCHAGENTS_MEMORY_WRITE=false)
turns it off.  Ids are deterministic, so a finish that runs again on resume overwrites.
"""

from __future__ import annotations

import json

from graphs.context import RunContext
from graphs.state import SearchState
from settings import Settings

_OPEN: dict[tuple, object] = {}


def open_memory(settings: Settings):
    """The store for these settings, one per (location, embedder) and process (the embedding
    model takes seconds to load)."""
    from memory.store import Memory

    key = (str(settings.memory_dir), settings.memory_embedding)
    if key not in _OPEN:
        _OPEN[key] = Memory(settings.memory_dir, settings.memory_embedding)
    return _OPEN[key]


def remember(state: SearchState, ctx: RunContext) -> dict:
    """Store the run's evaluations and reasoning; returns the counts (journaled)."""
    if not ctx.settings.memory_write:
        return {}
    memory = open_memory(ctx.settings)
    evaluated = state.evaluated()
    counts = {
        "architectures": memory.add_evaluations(ctx.space, ctx.settings.dataset, ctx.run_id,
                                                [t.evaluation for t in evaluated], [t.step for t in evaluated]),
        "reasoning": memory.add_reasoning_batch(reasoning_items(ctx)),
        "memory": str(memory.path), "embedding": memory.embedder,
    }
    ctx.journal.append(state.step, "archive", data={"memory": counts})
    return counts


def reasoning_items(ctx: RunContext) -> list[dict]:
    """Rationales, principles and critiques from the journal, one item per answer/verdict."""
    items = []
    for event in ctx.journal.events():
        text = ""
        if event.kind == "answer":
            parsed = event.data.get("parsed") or {}
            text = parsed.get("rationale") or "\n".join(parsed.get("principles", [])) or \
                ("" if parsed else str(event.data.get("content", "")))
        elif event.kind == "critic":
            text = event.data.get("reason", "")
        if text:
            items.append({"run_id": ctx.run_id, "step": event.step, "role": event.role or "", "text": text,
                          "kind": event.kind, "seq": event.seq})
    return items


PRINCIPLES = """Design principles learned on {task} (version {version}); they may help here:
{principles}"""

PAST = """Architectures evaluated on this task in earlier runs (from memory), best first:
{lines}"""

_NOTES: dict[tuple, str] = {}


def designer_notes(ctx: RunContext) -> str:
    """What the memory adds to the designer's problem statement: stored principles of
    `principles_from` and the `designer_memory` best past architectures of this task.
    Read once per run and process (memory changes only when a run finishes), so the prompt
    prefix stays the same from step to step."""
    s = ctx.settings
    if not s.principles_from and not s.designer_memory:
        return ""
    key = (ctx.run_id, s.principles_from, s.designer_memory, str(s.memory_dir))
    if key not in _NOTES:
        memory, parts = open_memory(s), []
        if s.principles_from:
            record = memory.principles(s.principles_from)
            if record is None:
                from errors import UserError

                raise UserError(f"no principles stored for {s.principles_from}; see: python cli.py principles show")
            parts.append(PRINCIPLES.format(task=record.task, version=record.version,
                                           principles="\n".join(f"- {p}" for p in record.texts())))
        if s.designer_memory:
            past = memory.best_architectures(ctx.space.name, s.dataset, s.designer_memory)
            if past:
                parts.append(PAST.format(lines="\n".join(f"- {json.dumps(ctx.space.to_proposal(p['arch']))}: "
                                                         f"{p['val_acc']:.2f}%" for p in past)))
        _NOTES[key] = "\n\n".join(parts)
    return _NOTES[key]
