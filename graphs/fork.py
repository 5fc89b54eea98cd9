"""Time travel (`cli.py fork RUN --at STEP`): a new run that starts from a past checkpoint.

The child run gets its own folder: the parent's config (with any `--model` override), the
parent's journal up to STEP (so nodes that look up the journal, e.g. `evaluate`, see the same
history), a `run` event `{"event": "forked", "parent", "forked_at"}`, and a copy of the parent's
last checkpoint at STEP as the first checkpoint of its own thread.  `execute` then resumes it
like an interrupted run.  The parent's pending writes are not copied: they are what the parent
did next, which the child must decide again (possibly with another model).

A step is the journal's step: a proposal in GENIUS, a generation in LLMatic.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from errors import UserError
from graphs.run import checkpointer
from memory.runs import RunDir
from settings import apply_model_flags


def journal_step(values: dict) -> int:
    """The journal step a state is at (LLMatic journals by generation)."""
    return values.get("generation", values.get("step", 0))


def _config(run: RunDir, checkpoint_id: str | None = None) -> dict:
    configurable = {"thread_id": run.id, "checkpoint_ns": ""}
    return {"configurable": configurable | ({"checkpoint_id": checkpoint_id} if checkpoint_id else {})}


def checkpoint_at(run: RunDir, step: int):
    """The newest checkpoint of `run` whose state is at `step` (a CheckpointTuple): the state
    after everything done at that step."""
    if not run.checkpoint_path.is_file():
        raise UserError(f"run {run.id} has no checkpoints")
    with closing(sqlite3.connect(run.checkpoint_path, check_same_thread=False)) as connection:
        seen = set()
        for saved in checkpointer(connection, run).list(_config(run)):  # newest first
            values = saved.checkpoint["channel_values"]
            at = journal_step(values)
            seen.add(at)
            if at == step and saved.metadata.get("source") != "input":
                return saved
    raise UserError(f"no checkpoint at step {step} in run {run.id}; steps: {', '.join(map(str, sorted(seen)))}")


def state_at(run: RunDir, step: int) -> dict:
    """The state values of the checkpoint `fork` would start from."""
    return checkpoint_at(run, step).checkpoint["channel_values"]


def fork(parent: RunDir, step: int, model_flags: list[str] | None = None) -> RunDir:
    """Create the child run folder (not yet run; `graphs.run.execute` continues it)."""
    saved = checkpoint_at(parent, step)
    settings = parent.settings()
    settings = settings.model_copy(update={"models": apply_model_flags(settings.models, model_flags or []),
                                           "runs_dir": parent.path.parent})
    child = RunDir.create(settings)
    journal = child.journal()
    for event in parent.journal().events():
        if event.step <= step and event.kind != "result":
            journal.append(event.step, event.kind, **event.model_dump(exclude={"seq", "step", "kind"}))
    journal.append(step, "run", data={"event": "forked", "parent": parent.id, "forked_at": step,
                                      "models": {r: s.label() for r, s in settings.models}})
    with closing(sqlite3.connect(child.checkpoint_path, check_same_thread=False)) as connection:
        checkpoint = saved.checkpoint
        checkpointer(connection, child).put(_config(child), checkpoint, {**saved.metadata, "source": "fork"},
                                     checkpoint["channel_versions"])
    return child
