"""LangSmith tracing, through the standard environment variables and nothing else:

    LANGSMITH_TRACING=true  LANGSMITH_API_KEY=...  LANGSMITH_PROJECT=archagents  (LANGSMITH_ENDPOINT)

LangChain and LangGraph trace every graph step and model call when they are set; this module
adds what makes a run findable and what must not leave the machine:

- `run_config`: the tags `run:<id>`, `graph:<name>`, `space:<name>` and the same as metadata (with
  the dataset and seed) on the run's root, inherited by every step; each model call adds
  `role:<role>` (agents/structured.py: Asker.traced).
- `scrubbing_client`: the LangSmith client every tracer of the process uses (langsmith's cached
  client) passes every run record (inputs, outputs, errors, metadata, a model's serialized form)
  through errors.scrub before it is sent, as the journal and the terminal are: a key a provider
  echoes in an answer or an error is sent as `***`.
"""

from __future__ import annotations

import os

from errors import scrub

__all__ = ["enabled", "run_config", "scrubbing_client", "scrubbed", "scrubbed_runs"]


def enabled() -> bool:
    """LANGSMITH_TRACING (or the older LANGCHAIN_TRACING_V2) is on."""
    return any(os.environ.get(name, "").strip().lower() == "true"
               for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING_V2"))


def run_config(run_id: str, settings) -> dict:
    """Tags, metadata and a name for a run's root (graphs/run.py, studio.py); with tracing on, the
    scrubbing client is made the process's before the first trace."""
    if enabled():
        scrubbing_client()
    tags = [f"run:{run_id}", f"graph:{settings.graph}", f"space:{settings.space}"]
    metadata = {"run_id": run_id, "graph": settings.graph, "space": settings.space, "dataset": settings.dataset,
                "seed": settings.seed}
    return {"tags": tags, "metadata": metadata, "run_name": f"{settings.graph} {run_id}"}


# The parts of a run record that carry content (the rest are ids and times, kept as they are).
CONTENT = ("name", "inputs", "outputs", "error", "extra", "serialized", "events", "tags")


def scrubbed(value):
    """`value` in its JSON form (pydantic models, dataclasses such as LangGraph's Command, anything
    else by its str) with every secret-looking environment value replaced in its strings."""
    from pydantic_core import to_jsonable_python

    return _strings(to_jsonable_python(value, fallback=str))


def _strings(value):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {key: _strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strings(item) for item in value]
    return value


def scrubbed_runs(runs: list[dict]) -> list[dict]:
    """Whole run records as the client sends them: inputs, outputs, errors and metadata, and also the
    parts an anonymizer never sees (a model's serialized form and invocation parameters)."""
    return [{key: scrubbed(value) if key in CONTENT and value is not None else value for key, value in run.items()}
            for run in runs]


def scrubbing_client():
    """langsmith's cached client, the one LangChain's tracers send with, passing every run record
    through `scrubbed_runs` before it is sent (its buffer of one: nothing waits).  A client made
    before this call (by other code in the process) is given the same hook."""
    from langsmith import run_trees

    client = run_trees.get_cached_client(process_buffered_run_ops=scrubbed_runs, run_ops_buffer_size=1)
    if getattr(client, "_process_buffered_run_ops", None) is not scrubbed_runs:
        # made earlier without it: the attributes langsmith reads before sending
        client._process_buffered_run_ops, client._run_ops_buffer_size = scrubbed_runs, 1
    return client
