"""Rich rendering for the CLI: the live progress line and the final summary table."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


@contextmanager
def live_progress(console: Console, budget: int) -> Iterator[Callable]:
    """Yields a callback for each new search state: evaluations, best validation accuracy, tokens."""
    columns = (TextColumn("[bold]evals"), BarColumn(bar_width=20), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("search", total=budget, info="starting (loading the model)")

        def on_state(state) -> None:
            best = state.best()
            tokens = sum(u.tokens_in + u.tokens_out for u in state.usage.values())
            calls = sum(u.calls for u in state.usage.values())
            info = (f"best val {best.val_acc:.2f}%" if best else "best val -") + \
                   f" | {calls} LLM calls, {tokens / 1000:.1f}k tok | {state.fallbacks} fallbacks"
            made = len(getattr(state, "offspring", ())) or state.evaluations
            progress.update(task, completed=made, info=info)

        yield on_state


def summary_table(result: dict, seconds: float) -> Table:
    table = Table(title=f"{result.get('graph')} on {result.get('space')}/{result.get('dataset')} "
                        f"(seed {result.get('seed')}): {result.get('run_id')}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    best = result.get("best") or {}
    if best:
        table.add_row("best cell", best["arch"])
        table.add_row("validation acc", f"{best['val_acc']:.2f}%  (what the search saw)")
        table.add_row("test acc", f"{best['test_acc']:.2f}%  (looked up once, at the end)")
        table.add_row("rank", f"{best['rank']} of {best['of']} by test accuracy")
        table.add_row("FLOPs / params", f"{best['flops_m']:.2f} M / {best['params_m']:.3f} M")
        table.add_row("found at", f"step {best['step']} ({best['source']})")
    llmatic = result.get("llmatic")
    if llmatic:
        table.add_row("evaluations", f"{result.get('evaluations')} distinct cells")
    else:
        p = result.get("proposals", {})
        table.add_row("evaluations", f"{result.get('evaluations')} of budget {result.get('budget')}")
        table.add_row("proposals", f"{p.get('total')} total: {p.get('llm')} by the LLM ({p.get('llm_accepted')} "
                                   f"accepted), {p.get('fallback')} fallback mutations, "
                                   f"{p.get('rejected_by_critic')} rejected by the critic, "
                                   f"{p.get('unparseable_llm_answers')} unparseable")
    if llmatic:
        last = llmatic["per_generation"][-1]
        table.add_row("network archive", f"{last['filled']} niches filled, coverage {last['coverage']:.0%}, "
                                         f"QD score {last['qd_score']:.1f}")
        parsed = llmatic["parsed_fraction"]
        table.add_row("LLM offspring", f"{llmatic['offspring']} made, "
                                       f"{'-' if parsed is None else f'{parsed:.0%}'} parsed as cells, "
                                       f"{llmatic['untrainable']} untrainable")
        table.add_row("figures", ", ".join(llmatic.get("figures", [])))
    for role, usage in result.get("usage", {}).items():
        model = result.get("models", {}).get(role, "")
        table.add_row(f"{role} ({model})", f"{usage['calls']} calls, {usage['tokens_in']} tokens in, "
                                           f"{usage['tokens_out']} out, {usage['seconds']:.1f} s")
    table.add_row("wall time", f"{seconds:.1f} s this session")
    return table
