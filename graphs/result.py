"""The final summary of a run (`result.json`), built from the state and the journal."""

from __future__ import annotations

from graphs import knowledge
from graphs.context import RunContext
from graphs.state import SearchState


def summarise(state: SearchState, ctx: RunContext) -> dict:
    settings = ctx.settings
    best = state.best()
    llm_trials = [t for t in state.trials if t.source in ("llm", "edit")]
    by_source: dict[str, int] = {}
    for trial in state.trials:
        if trial.evaluation is not None:
            by_source[trial.source] = by_source.get(trial.source, 0) + 1
    events = list(ctx.journal.events(("error", "parse_error", "run")))  # faults; the run's first and last lines
    result = {
        "run_id": ctx.run_id,
        "graph": settings.graph,
        "space": settings.space,
        "dataset": settings.dataset,
        "seed": settings.seed,
        "budget": settings.budget,
        "evaluations": state.evaluations,
        "knowledge": knowledge.of_run(settings, ctx.space, ctx.journal),  # what it knew (graphs/knowledge.py)
        "proposals": {
            "total": len(state.trials),
            "llm": len(llm_trials),
            "llm_accepted": sum(t.accepted for t in llm_trials),
            "fallback": state.fallbacks,
            "unparseable_llm_answers": state.parse_failures,
            "rejected_by_critic": sum(not t.accepted for t in state.trials),
            "by_source": by_source,  # evaluated architectures by where they came from (llm, edit, baseline...)
        },
        "best": None,
        "archive_size": len({t.evaluation.canonical for t in state.evaluated()}),  # one niche per network
        "usage": {role: usage.model_dump() for role, usage in state.usage.items()},
        "faults": _faults(events),
        "models": {role: settings.models.for_role(role).label() for role in state.usage},
        "best_so_far": _best_so_far(state),
        "stop_reason": state.stop_reason,
        "wall_seconds": round(last.ts - events[0].ts, 2) if events and (last := ctx.journal.last()) else 0.0,
    }
    result["contribution"] = contribution(by_source, state.evaluations, settings)
    if best is not None:
        report = ctx.space.final_report(best.arch, settings.dataset)
        result["best"] = {**report.model_dump(), "search_val_acc": best.val_acc, "step": best.step,
                          "source": best.source}
    return result


MODEL_SOURCES = ("llm", "edit")


def contribution(by_source: dict[str, int], evaluations: int, settings) -> str:
    """What the model contributed, in a sentence a newcomer reads in the summary."""
    import graphs

    if settings.graph in graphs.BASELINES:
        return "no model: a baseline"
    if settings.designer == "none":
        return "no model: the no-model twin (--designer none), the Critic and the contained search alone"
    if settings.graph == "lapt":
        return "the model wrote the principles that refine the space (or the statistics did, where its failed)"
    mine = sum(by_source.get(s, 0) for s in MODEL_SOURCES)
    others = ", ".join(f"{n} {s}" for s, n in sorted(by_source.items()) if s not in MODEL_SOURCES and n)
    return (f"{mine} of {evaluations} evaluations were the model's proposals"
            + (f"; the contained search and fallbacks chose the rest ({others})" if others else ""))


def _best_so_far(state: SearchState) -> list[float]:
    curve, best = [], float("-inf")
    for trial in state.evaluated():
        best = max(best, trial.val_acc)
        curve.append(best)
    return curve


def _faults(events) -> dict[str, dict[str, int]]:
    """Provider faults per role and kind, from the journal: it also holds those of a session that
    ended on them (the state of an interrupted node is lost, its journal lines are not)."""
    out: dict[str, dict[str, int]] = {}
    for event in events:
        kind = event.data.get("fault") if event.kind in ("error", "parse_error") else None
        if kind and event.role:
            out.setdefault(event.role, {})
            out[event.role][kind] = out[event.role].get(kind, 0) + 1
    return out
