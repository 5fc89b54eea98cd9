"""Every search graph served by the LangGraph server (`langgraph dev`; LangGraph Studio).

`langgraph.json` names one entry per graph: genius, llmatic, lapt and the baselines random,
rea, local, random+flops, prior.  A served graph is

    start -> search

start   The input holds `cli.py search`'s options, by the same names ({"budget": 3,
        "dataset": "cifar10", "seed": 1}; the rest default).  They become settings exactly as
        the CLI's flags do (`cli.search_settings`), are checked (graphs/run.prepare: a bad
        option fails the run with its one line before a folder exists), and a run folder is
        made, as a CLI run's: config.json, the journal, result.json, so `cli.py show`, `chat`
        and `report` read a server run too.
search  The search graph itself, as a subgraph handed the run's context (graphs/context.py:
        settings, space, journal, role models), which a server cannot build from JSON: its
        steps stream to Studio as the subgraph's.  With `"approve": true` the thread pauses at
        the graph's approval interrupt (graphs/approve.py) and Studio's resume value, e.g.
        {"action": "accept"}, {"action": "edit", "arch": "..."} or {"action": "reject"},
        continues it.

The checkpoints are the server's: a server run has no checkpoints.sqlite, so it continues in
Studio (its thread), not with `cli.py search --resume`.  The final state holds `best` as
result.json does, with the run id, its folder, the evaluations and the stop reason.

A front end like cli.py (it reads the CLI's options), not a graph: graphs/ never imports it.
"""

from __future__ import annotations

import inspect
import typing
from functools import cache
from pathlib import Path

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field, create_model

import graphs
import spaces
from errors import LLMError, UserError, scrub
from graphs import knowledge
from graphs.run import prepare, recursion_limit, run_context
from graphs.tracing import run_config
from memory.runs import RunDir
from settings import load_settings

__all__ = ["SERVED", "options_model", "served"]

# `search` options a served graph does not take: the graph is the entry's own, a paused thread is
# resumed in Studio, and there is no terminal to be quiet in.
NOT_OPTIONS = ("graph", "resume", "quiet")


class OptionsError(ValueError):
    """A user mistake in the input, as its one line (the server shows a ValueError's message and hides
    other exceptions' as "An internal error occurred")."""


class SearchError(RuntimeError):
    """A run that stopped on a user mistake or a provider that kept failing, as its one line."""


class Outcome(BaseModel):
    """What a served run ends with (its output), besides the options it was started with."""

    run_id: str = ""
    run_dir: str = ""
    best: dict | None = Field(None, description="the best architecture, as result.json's `best`")
    evaluations: int = 0
    stop_reason: str = ""


@cache
def options_model() -> type[BaseModel]:
    """The input: one field per `cli.py search` option, typed and described as the CLI's flag, so
    the two cannot drift apart (a new flag is a new field)."""
    import cli

    hints = typing.get_type_hints(cli.search, include_extras=True)
    fields = {}
    for name, param in inspect.signature(cli.search).parameters.items():
        if name in NOT_OPTIONS:
            continue
        kind, *extras = typing.get_args(hints[name]) if typing.get_origin(hints[name]) is typing.Annotated \
            else (hints[name],)
        described = next((extra.help for extra in extras if getattr(extra, "help", None)), None)
        fields[name] = (kind, Field(param.default, description=described))
    return create_model("SearchOptions", **fields)


@cache
def state_model() -> type[BaseModel]:
    return create_model("ServedRun", __base__=(options_model(), Outcome))


def served(name: str):
    """The served graph of one search graph (compiled: the server gives it its checkpointer)."""
    variant = graphs.get(name)
    # Built with the approval node so that Studio draws it; a run visits it only with "approve": true.
    inner = variant.build(load_settings(graph=name, approve=True)).compile()
    options = options_model()

    def start(state) -> dict:
        """Settings from the input and a new run folder (once: the node never runs again)."""
        chosen = state.model_dump(include=set(options.model_fields))
        from cli import search_settings

        try:
            settings = prepare(search_settings({**chosen, "graph": name}))
        except UserError as err:
            raise OptionsError(scrub(str(err))) from None
        run = RunDir.create(settings)
        run.journal().append(0, "run", data={"event": "started", "server": True,
                                             "settings": settings.model_dump(mode="json"),
                                             "knowledge": knowledge.of_run(settings, spaces.get(settings.space))})
        return {"run_id": run.id, "run_dir": str(run.path.resolve())}

    def search(state) -> dict:
        """The search graph to its end, or to an approval pause; LangGraph runs this node again on
        resume and the subgraph continues from its own checkpoint."""
        run = RunDir(Path(state.run_dir))
        try:
            settings = prepare(run.settings())
            config = {**run_config(run.id, settings), "recursion_limit": recursion_limit(settings)}
            with run.hold():
                inner.invoke(variant.STATE(), config, context=run_context(run, settings))
        except (UserError, LLMError) as err:
            raise SearchError(f"{scrub(str(err))} (run {run.id}; its journal is in {run.path})") from None
        result = run.result() or {}
        return {"best": result.get("best"), "evaluations": result.get("evaluations", 0),
                "stop_reason": result.get("stop_reason", "")}

    graph = StateGraph(state_model(), input_schema=options, output_schema=Outcome)
    graph.add_node("start", start)
    graph.add_node("search", search)
    graph.add_edge(START, "start")
    graph.add_edge("start", "search")
    graph.add_edge("search", END)
    return graph.compile(name=name)


# langgraph.json's entries (module attributes; "random+flops" is not a Python name).
genius, llmatic, lapt = served("genius"), served("llmatic"), served("lapt")
random, rea, local, random_flops, prior = (served(name) for name in ("random", "rea", "local", "random+flops",
                                                                       "prior"))
SERVED = {"genius": genius, "llmatic": llmatic, "lapt": lapt, "random": random, "rea": rea, "local": local,
          "random+flops": random_flops, "prior": prior}
