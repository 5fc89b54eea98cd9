"""Start or resume a search: build the role models, compile the graph with a
SQLite checkpointer in the run folder, and stream it to the end.

A run survives Ctrl-C and kill -9: LangGraph saves a checkpoint after every
node; `resume` continues from the last one (the interrupted node runs again,
and nodes are idempotent where it matters, see graphs/nodes.py).
"""

from __future__ import annotations

import sqlite3
from typing import Callable

import graphs
import spaces
from agents.llm import check_provider, llm_for, structured_method
from agents.structured import Asker
from graphs.context import RunContext
from graphs.state import SearchState
from memory.runs import RunDir
from settings import Settings


def prepare(settings: Settings) -> Settings:
    """Validate names and providers before anything is written; returns settings with
    the dataset in canonical spelling."""
    variant = graphs.get(settings.graph)
    space = spaces.get(settings.space)
    settings = settings.model_copy(update={"dataset": space.resolve_dataset(settings.dataset)})
    for role in variant.roles(settings):
        check_provider(settings.models.for_role(role))
    return settings


def make_askers(settings: Settings) -> dict[str, Asker]:
    temperatures = {"designer": settings.temperature}
    askers = {}
    for role in graphs.get(settings.graph).roles(settings):
        spec = settings.models.for_role(role)
        askers[role] = Asker(role=role, label=spec.label(), method=structured_method(spec),
                             model=llm_for(role, settings, temperatures.get(role, 0.0)))
    return askers


def checkpoint_types() -> list[tuple[str, str]]:
    """The typed values our states hold; LangGraph restores only registered types."""
    from agents.structured import Usage
    from graphs.llmatic import LLMaticState, Offspring
    from memory.archive import Archive, Elite
    from spaces.base import Evaluation, Trial

    types = (SearchState, LLMaticState, Offspring, Trial, Evaluation, Archive, Elite, Usage)
    return [(cls.__module__, cls.__name__) for cls in types]


def recursion_limit(settings: Settings) -> int:
    """Super-steps a run may take: GENIUS needs 3 per proposal, with room for rejected
    ones; LLMatic one per generation."""
    return 3 * settings.budget * (settings.max_rejections + 2) + settings.llmatic.generations + 50


def execute(run: RunDir, askers: dict[str, Asker] | None = None,
            on_state: Callable[[SearchState], None] | None = None) -> dict:
    """Run (or resume) `run` to the end and return its result.json content."""
    settings = prepare(run.settings())
    journal = run.journal()
    context = RunContext(settings=settings, space=spaces.get(settings.space), journal=journal,
                         askers=askers if askers is not None else make_askers(settings),
                         run_id=run.id, result_path=run.result_path)
    connection = sqlite3.connect(run.checkpoint_path, check_same_thread=False)
    try:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        from langgraph.checkpoint.sqlite import SqliteSaver

        serde = JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types())
        app = graphs.get(settings.graph).build(settings).compile(checkpointer=SqliteSaver(connection, serde=serde))
        config = {"configurable": {"thread_id": run.id}, "recursion_limit": recursion_limit(settings)}
        snapshot = app.get_state(config)
        if snapshot.values and not snapshot.next:  # finished earlier
            return run.result() or {}
        resuming = bool(snapshot.next)
        journal.append(snapshot.values.get("step", 0) if resuming else 0, "run",
                       data={"event": "resumed" if resuming else "started", "settings": settings.model_dump(mode="json")})
        state_model = graphs.get(settings.graph).STATE
        for values in app.stream(None if resuming else state_model(), config, context=context, stream_mode="values"):
            if on_state is not None:
                on_state(values if isinstance(values, SearchState) else state_model.model_validate(values))
    finally:
        connection.close()
    return run.result() or {}
