"""Start or resume a search: build the role models, compile the graph with a
SQLite checkpointer in the run folder, and stream it to the end.

A run survives Ctrl-C and kill -9: LangGraph saves a checkpoint after every
node; `resume` continues from the last one (the interrupted node runs again,
and nodes are idempotent where it matters, see graphs/nodes.py).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, Callable

import graphs
import spaces
from agents import critic
from agents.llm import asker_for, check_provider
from agents.providers import price
from agents.structured import Asker
from graphs import knowledge, limits
from graphs.context import RunContext
from errors import UserError
from graphs.state import SearchState
from graphs.tracing import run_config
from memory.runs import RunDir
from settings import Settings


def prepare(settings: Settings) -> Settings:
    """Validate names, capabilities and providers before anything is written; returns settings
    with the dataset in canonical spelling and the budget filled in."""
    variant = graphs.get(settings.graph)
    space = spaces.get(settings.space)
    missing = spaces.lacking(space, variant.REQUIRES)
    if missing:
        able = [name for name, cls in spaces.REGISTRY.items() if not spaces.lacking(cls(), variant.REQUIRES)]
        raise UserError(f"graph {settings.graph} needs a space with {' and '.join(missing)}; {settings.space} has "
                        f"none. Spaces it runs on: {', '.join(able)}")
    dataset = settings.dataset if settings.dataset is not None else space.default_dataset(settings)
    settings = settings.model_copy(update={"dataset": space.resolve_dataset(dataset)})
    if settings.budget is None:
        settings = settings.model_copy(update={"budget": variant.default_budget(settings)})
    graphs.check(variant, settings, space)
    critic.check_bound(space, settings.min_flops_m, settings.max_flops_m)
    knowledge.check(settings, space)  # what the run may know besides its own evaluations (graphs/knowledge.py)
    if settings.training.data is not None and not isinstance(space, spaces.Trained):
        trained = ", ".join(n for n, c in spaces.REGISTRY.items() if isinstance(c(), spaces.Trained))
        raise UserError(f"--data is what networks are trained on; {space.name} is a benchmark table (spaces that train: "
                        f"{trained})")
    if hasattr(space, "check_settings"):  # trained spaces (torch-code, darts): is the data there? nb201: is --nb201-api official?
        space.check_settings(settings)
    for role in variant.roles(settings):
        check_provider(settings.models.for_role(role))
        if settings.limits.max_cost is not None and price(settings.models.for_role(role)) is None:
            spec = settings.models.for_role(role)
            raise UserError(f"--max-cost needs a price for {role} ({spec.label()}): set models.{role}.price_per_1k "
                            "(USD per 1,000 tokens in and out) in archagents.toml")
    if settings.approve and "approve" not in variant.build(settings).nodes:
        raise UserError(f"--approve is not available for --graph {settings.graph} (it has no approval "
                        "step; see graphs/approve.py)")
    return settings


def make_askers(settings: Settings, journal=None) -> dict[str, Asker]:
    """The role models of a run; a structured-output method a server refused earlier in this
    run (journaled by agents/structured.py) is not tried again on resume."""
    temperatures = {"designer": settings.temperature}
    askers = {role: asker_for(role, settings, temperatures.get(role, 0.0))
              for role in graphs.get(settings.graph).roles(settings)}
    for event in journal.events() if journal is not None else ():
        if event.kind == "run" and event.role in askers and "structured_output_method" in event.data:
            asker = askers[event.role]
            kept = event.data["structured_output_method"]
            asker.methods = asker.methods[asker.methods.index(kept):] if kept in asker.methods else [kept]
    return askers


def checkpoint_types() -> list[tuple[str, str]]:
    """The typed values our states hold; LangGraph restores only registered types."""
    from agents.structured import Usage
    from graphs.lapt import LAPTState, Round
    from graphs.llmatic import HeldBatch, LLMaticState, Offspring, Plan
    from memory.archive import Archive, Elite
    from memory.store import Principle
    from spaces.base import Evaluation, Trial
    from spaces.refined import Individual, RefinedSpace

    types = (SearchState, LLMaticState, Offspring, Plan, HeldBatch, Trial, Evaluation, Archive, Elite, Usage,
             LAPTState, Round, RefinedSpace, Individual, Principle)
    return [(cls.__module__, cls.__name__) for cls in types]


def checkpointer(connection: sqlite3.Connection, run: RunDir):
    """The SQLite saver of a run folder, restoring our typed state values; the state's growing
    lists are kept once in the folder's history.jsonl (graphs/history.py), so a step's
    checkpoint does not grow with the run."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from graphs.history import HistorySaver

    return HistorySaver(connection, serde=JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types()),
                        history_path=run.path / "history.jsonl")


def open_checkpoints(run: RunDir) -> sqlite3.Connection:
    """The run's checkpoint database.  WAL with synchronous=NORMAL: a commit is safe from a kill -9
    the moment it returns (only a machine crash could lose the last one, as with the journal);
    the default's fsync on every checkpoint was most of the framework's time per evaluation."""
    connection = sqlite3.connect(run.checkpoint_path, check_same_thread=False)
    try:
        check_checkpoints(connection, run)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        connection.close()
        raise
    return connection


def check_checkpoints(connection: sqlite3.Connection, run: RunDir) -> None:
    """A damaged checkpoint file is one clear line, not a traceback and never a silent restart."""
    try:
        status = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as err:
        status = str(err)
    if status != "ok":
        raise UserError(f"{run.checkpoint_path} is damaged ({status}); the run cannot be resumed from it: start a "
                        f"new run (its journal, {run.path / 'events.jsonl'}, is intact)")


def recursion_limit(settings: Settings) -> int:
    """Super-steps a run may take: GENIUS needs 3 per proposal, with room for rejected
    ones; LLMatic one per generation."""
    return 3 * settings.budget * (settings.max_rejections + 2) + (settings.llmatic.generations or 0) + 50


def execute(run: RunDir, askers: dict[str, Asker] | None = None,
            on_state: Callable[[SearchState], None] | None = None,
            on_interrupt: Callable[[Any], Any] | None = None) -> dict:
    """Run (or resume) `run` to the end and return its result.json content.  A node that calls
    `interrupt(payload)` (search --approve) is resumed with `on_interrupt(payload)`; without
    `on_interrupt` the run stops there, paused, and returns {}."""
    with run.hold():
        return _execute(run, askers, on_state, on_interrupt)


def run_context(run: RunDir, settings: Settings, askers: dict[str, Asker] | None = None) -> RunContext:
    """What every node of `run` is handed: the prepared settings, the configured space, the journal
    (checked; a damaged line is one warning) and the role models."""
    journal = run.journal()
    notice = journal.check()
    if notice:  # one line on stderr (logging's last-resort handler) and in the journal
        logging.getLogger("archagents").warning(f"warning: {notice}")
        journal.append(0, "error", data={"journal": notice})
    space = spaces.get(settings.space)
    space.configure(settings, run.path)
    return RunContext(settings=settings, space=space, journal=journal,
                      askers=askers if askers is not None else make_askers(settings, journal),
                      run_id=run.id, result_path=run.result_path)


def _execute(run: RunDir, askers: dict[str, Asker] | None, on_state: Callable[[SearchState], None] | None,
             on_interrupt: Callable[[Any], Any] | None) -> dict:
    settings = prepare(run.settings())
    context = run_context(run, settings, askers)
    journal, space = context.journal, context.space
    connection = open_checkpoints(run)
    try:
        from langgraph.types import Command

        app = graphs.get(settings.graph).build(settings).compile(checkpointer=checkpointer(connection, run))
        config = {**run_config(run.id, settings), "configurable": {"thread_id": run.id},
                  "recursion_limit": recursion_limit(settings)}
        snapshot = app.get_state(config)
        # Finished: no task left, not even one that completed before a kill -9 and whose writes wait
        # to be applied (then `next` is empty too, and the run must continue).
        if snapshot.values and not snapshot.next and not snapshot.tasks:
            if run.result() is None:
                raise UserError(f"the checkpoints of run {run.id} say it finished, but it has no result.json: the "
                                "files disagree; start a new run")
            return run.result()
        resuming = bool(snapshot.next or snapshot.tasks)
        journal.append(snapshot.values.get("step", 0) if resuming else 0, "run",
                       data={"event": "resumed" if resuming else "started", "settings": settings.model_dump(mode="json"),
                             "knowledge": knowledge.of_run(settings, space)})
        state_model = graphs.get(settings.graph).STATE
        command = None if resuming else state_model()
        if resuming and any(limits.is_halt(i.value) for i in snapshot.interrupts):
            command = Command(resume="continue")  # paused at a limit: `halt` checks it again
        while True:
            # durability="sync": each checkpoint is on disk before the next step starts (the default
            # writes it while the next step runs), so a kill -9 never loses a finished step.
            for values in app.stream(command, config, context=context, stream_mode="values", durability="sync"):
                if on_state is not None and not (isinstance(values, dict) and "__interrupt__" in values):
                    on_state(values if isinstance(values, SearchState) else state_model.model_validate(values))
            paused = app.get_state(config).interrupts
            if not paused or on_interrupt is None or limits.is_halt(paused[0].value):
                break
            command = Command(resume=on_interrupt(paused[0].value))
    finally:
        connection.close()
    return run.result() or {}
