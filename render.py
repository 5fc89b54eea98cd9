"""Rich rendering for the CLI: live progress, summary, run list and timeline, inspector replies, approvals."""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text


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
        trained = best.get("rank") is None and best.get("test_acc") is not None  # torch-code: no table
        table.add_row("best network" if trained else "best cell", best["arch"])
        seen = best.get("search_val_acc", best["val_acc"])
        table.add_row("validation acc", f"{seen:.2f}%  (what the search saw)")
        notes = best.get("notes") or {}
        if "trained_params_m" in notes:  # darts: the search saw a supernet's estimate; this is the real network
            table.add_row("trained stand-alone", f"validation {best['val_acc']:.2f}%, {notes['epochs']} epochs, "
                          f"C {notes['channels']}, {notes['cells']} cells, {notes['image_size']}px, "
                          f"{notes['trained_params_m']:.3f} M params, {notes['train_seconds']:.0f} s")
        if best.get("test_acc") is None:  # TransNAS-Bench-101: the table has validation metrics only
            table.add_row("rank", f"{best['rank']} of {best['of']} by validation score")
        else:
            how = "measured on the held-out test split" if trained else "looked up once, at the end"
            table.add_row("test acc", f"{best['test_acc']:.2f}%  ({how})")
            if best.get("rank") is not None:  # trained spaces (torch-code) have no table to rank in
                table.add_row("rank", f"{best['rank']} of {best['of']} by test accuracy")
        table.add_row("FLOPs / params", f"{best['flops_m']:.2f} M / {best['params_m']:.3f} M")
        generation = (result.get("llmatic") or {}).get("best_generation")
        where = f"generation {generation}" if generation is not None else f"step {best['step']}"
        table.add_row("found at", f"{where} ({best['source']})")
    if "knowledge" in result:  # older runs did not record it
        from graphs.knowledge import label

        table.add_row("knew", "only its own evaluations and evidence computed on each candidate"
                      if result["knowledge"] == "none" else label(result["knowledge"]))
    if result.get("contribution"):
        table.add_row("the model", result["contribution"])
    lapt = result.get("lapt")
    if lapt:
        rounds = ", ".join(f"{r['evaluations']} in {r['members']} cells" + (f" -> {r['adaptation']}" if r['adaptation']
                                                                         else "") for r in lapt["rounds"])
        table.add_row("principles from", f"{lapt['source']}" + (f" (v{lapt['source_version']})"
                                                                  if lapt.get("source_version") else ""))
        table.add_row("rounds", rounds)
        table.add_row("principles now", "\n".join(f"- {p}" for p in lapt["principles"]) or "-")
    llmatic = result.get("llmatic")
    if llmatic:
        table.add_row("evaluations", f"{result.get('evaluations')} distinct "
                                     f"{'networks' if result.get('space') == 'torch-code' else 'cells'}")
    else:
        p = result.get("proposals", {})
        table.add_row("evaluations", f"{result.get('evaluations')} of budget {result.get('budget')}")
        table.add_row("proposals", f"{p.get('total')} reached the Critic: {p.get('llm')} by the LLM "
                                   f"({p.get('llm_accepted')} accepted), {p.get('fallback')} fallback steps, "
                                   f"{p.get('rejected_by_critic')} rejected, "
                                   f"{p.get('unparseable_llm_answers')} unparseable answers")
    by_source = (result.get("proposals") or {}).get("by_source")
    if by_source:
        table.add_row("evaluated, from", ", ".join(f"{n} {SOURCE_WORDS.get(s, s)}" for s, n in
                                                   sorted(by_source.items(), key=lambda item: -item[1])))
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
        faults = result.get("faults", {}).get(role) or {}
        faulty = (", faults: " + ", ".join(f"{n} {kind}" for kind, n in faults.items())) if faults else ""
        table.add_row(f"{role} ({model})", f"{usage['calls']} calls, {usage['tokens_in']} tokens in, "
                                           f"{usage['tokens_out']} out, {usage['seconds']:.1f} s{faulty}")
    table.add_row("wall time", f"{seconds:.1f} s this session")
    return table


SOURCE_WORDS = {"llm": "the designer's proposals", "edit": "the designer's edits", "baseline":
                "the contained search (Critic's pick; runs before the rea/random split)", "fallback": "fallback steps", "random": "random samples",
                "rea": "REA children", "prior": "the source task's prior", "flops": "largest-FLOPs picks",
                "local": "local mutations", "human": "the user's edits"}


def runs_table(infos: list) -> Table:
    """`cli.py runs`: one row per run (memory/runs.py RunInfo)."""
    table = Table(title="runs")
    table.add_column("run", overflow="fold", min_width=20)
    table.add_column("search", overflow="fold", min_width=12)
    table.add_column("status", overflow="fold", min_width=8)
    for column in ("best val", "evals", "tokens"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("cost", overflow="fold", min_width=5)
    table.add_column("started", overflow="fold", min_width=10)
    for info in infos:
        status = info.status + (f", fork of {info.parent} at step {info.forked_at}" if info.parent else "")
        cost = run_cost(info)
        table.add_row(info.id, f"{info.graph} {info.space}/{info.dataset} seed {info.seed}", status,
                      "-" if info.best_val_acc is None else f"{info.best_val_acc:.2f}%", str(info.evaluations),
                      f"{info.tokens:,}", cost, info.started)
    return table


def run_cost(info) -> str:
    """A run's cost at the provider table's prices (agents/providers.py): `local` when every model
    that spent tokens runs locally, `-` when a price is unknown."""
    from agents.providers import cost_usd, price
    from agents.structured import Usage
    from memory.runs import RunDir

    if not info.path:
        return "-"
    settings = RunDir(Path(info.path)).settings()
    usage = {role: Usage(tokens_in=i, tokens_out=o) for role, (i, o) in info.tokens_by_role.items() if role}
    cost = cost_usd(usage, settings)
    if cost is None:
        return "-"
    local = all(price(settings.models.for_role(role)) == (0.0, 0.0) for role in usage)
    return "local" if local else f"${cost:.4f}"


def timeline_table(facts: list, title: str) -> Table:
    """`cli.py show`: what happened at each step, one line per event that says something."""
    table = Table(title=title)
    table.add_column("step", justify="right")
    table.add_column("what happened", overflow="fold")
    for fact in facts:
        table.add_row(str(fact.step), fact.text)
    return table


def print_reply(console: Console, reply, evidence: bool = False, as_json: bool = False) -> None:
    """An Inspector reply (agents/inspector.py): the answer and the steps it cites."""
    if as_json:
        console.print_json(reply.model_dump_json())
        return
    cited = f"  [dim](steps {', '.join(map(str, reply.cited_steps))})[/]" if reply.cited_steps else ""
    console.print(f"[bold]Q:[/] {escape(reply.question)}\n[bold]A:[/] {escape(reply.answer)}{cited}")
    if evidence:
        if reply.query:
            console.print(f"   [dim]query {escape(reply.query)} (chosen by {reply.chosen_by}, phrased by "
                          f"{reply.phrased_by})[/]")
        for fact in reply.evidence:
            console.print(f"   [dim]{escape(fact.line())}[/]")


def ask_approval(console: Console, settings, proposal: dict) -> dict:
    """`search --approve`: show the proposal, read accept / edit / reject (graphs/approve.py Decision)."""
    import spaces
    from errors import UserError

    if proposal.get("kind") in ("batch", "space"):  # LLMatic's batch, LAPT's principles and space
        return (ask_batch if proposal["kind"] == "batch" else ask_space)(console, settings, proposal)
    console.print(f"\n[bold]step {proposal['step']}[/] ({proposal['source']}): {proposal['arch']}\n"
                  f"  rationale: {escape(proposal.get('rationale') or '-')}\n  {_so_far(proposal)}")
    while (action := _choice(console, "evaluate it?")) == "edit":
        arch = console.input("architecture: ").strip()
        try:
            return {"action": "edit", "arch": spaces.get(settings.space).validate(arch)}
        except UserError as err:
            console.print(f"[red]{escape(str(err))}[/]")
    return {"action": action}


def _so_far(proposal: dict) -> str:
    best = proposal.get("best")
    return f"evaluations so far: {proposal['evaluations']}" + (
        f", best {best['val_acc']:.2f}% at step {best['step']}" if best else "")


def _choice(console: Console, question: str) -> str:
    """[a]ccept (the default: Enter), [e]dit or [r]eject, asked again until it is one of them."""
    while (answer := console.input(f"{question} [a]ccept / [e]dit / [r]eject: ", markup=False).strip().lower()[:1]
           or "a") not in ("a", "e", "r"):
        pass
    return {"a": "accept", "e": "edit", "r": "reject"}[answer]


def ask_batch(console: Console, settings, proposal: dict) -> dict:
    """LLMatic's batch (graphs/approve.py BatchDecision): keep, drop or add architectures."""
    import spaces
    from errors import UserError

    batch = [item["arch"] for item in proposal["batch"]]
    console.print(f"\n[bold]generation {proposal['generation']}[/]: {len(batch)} offspring to evaluate "
                  f"({_so_far(proposal)})")
    for i, item in enumerate(proposal["batch"], 1):
        console.print(f"  {i}. {item['operator']:<9} {escape(item['arch'])}", highlight=False)
    action = _choice(console, "evaluate them?")
    if action != "edit":
        return {"action": action}
    dropped = console.input("drop which (numbers, e.g. 2,5; empty: none): ").replace(",", " ").split()
    kept = [arch for i, arch in enumerate(batch, 1) if str(i) not in dropped]
    while (text := console.input("add an architecture (empty line: done): ").strip()):
        try:
            kept.append(spaces.get(settings.space).validate(text))
        except UserError as err:
            console.print(f"[red]{escape(str(err))}[/]")
    return {"action": "edit", "batch": kept}


def ask_space(console: Console, settings, proposal: dict) -> dict:
    """LAPT's principles and refined space (graphs/approve.py SpaceDecision): rewrite either."""
    from memory.store import Principle
    from pydantic import ValidationError

    console.print(f"\n[bold]round {proposal['round']}[/]: the principles and the refined space of "
                  f"{proposal['cells']} cells to search ({_so_far(proposal)})")
    for text, origin in zip(proposal["principles"], proposal["origins"]):
        console.print(f"  - \\[{origin}] {escape(text)}")
    for position, ops in proposal["refined"].items():
        console.print(f"    {escape(position)}: {escape(', '.join(ops))}")
    action = _choice(console, "search it?")
    if action != "edit":
        return {"action": action}
    principles = []
    while (text := console.input("a principle (empty line: done; none at all: keep them): ").strip()):
        try:
            principles.append(Principle(text=text, origin="human").text)
        except ValidationError as err:
            console.print(f"[red]{escape(err.errors()[0]['msg'])}[/]")
    refined = {}
    for position, choices in proposal["positions"].items():
        current = ", ".join(proposal["refined"][position])
        while (text := console.input(f"{position} (of {', '.join(choices)}; empty: {current}): ").strip()):
            ops = [op.strip() for op in text.split(",") if op.strip()]
            if ops and set(ops) <= set(choices):
                refined[position] = ops
                break
            console.print(f"[red]{escape(position)} takes one or more of {escape(', '.join(choices))}[/]")
    return {"action": "edit", "principles": principles or None, "refined": refined or None}


def principles_view(records, dropped: list[dict] | None = None) -> Group:
    """Stored design principles (memory/store.py PrincipleSet), one block per task version; each
    principle marked by where it came from (the model, or the statistics standing in), with the
    statistics it rests on.  A block, not a table: principles are sentences, and a five-column
    table folded them into a word per line on an 80-column terminal.  `dropped`: the model's
    principles that failed the checks (agents/learner.py:vet), with the reason."""
    blocks = []
    for r in records:
        drawn = f"drawn from its {len(r.evidence)} best architectures" + (
            f" (best score {r.evidence[0][1]:.2f})" if r.evidence else "")
        lines = [f"design principles of [bold]{escape(r.task)}[/], version {r.version}", f"  {drawn}"]
        for p in r.principles:
            lines.append(f"  - [{'green' if p.origin == 'model' else 'cyan'}]\\[{p.origin}][/] {escape(p.text)}")
            if p.evidence:
                lines.append(f"      [dim]evidence: {escape(p.evidence)}[/]")
        lines.append("  refined space:")
        lines += [f"    {escape(pos)}: {escape(', '.join(ops))}" for pos, ops in r.refined.items()]
        blocks.append(Text.from_markup("\n".join(lines)))
    if dropped:
        lines = [f"the model's principles dropped ({len(dropped)}):"]
        lines += [f"  - {escape(textwrap.shorten(d['text'], 100, placeholder='...'))}  [dim]({escape(d['reason'])})[/]"
                  for d in dropped]
        blocks.append(Text.from_markup("\n".join(lines)))
    return Group(*blocks)


def bench_table(grid, rows) -> Table:
    """The benchmark table (benchmark/table.py rows) as the terminal shows it."""
    from benchmark.table import HEADER, _cells

    table = Table(title=f"benchmark {grid.name}: {grid.space} (score of the best-by-validation architecture)")
    for name in HEADER:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in _cells(row)))
    return table


def models_table(rows) -> Table:
    """`cli.py models`: the embedded models (agents/embedded.py statuses)."""
    table = Table(title="Embedded models", caption="verified: size and sha256 match the registry (checked at first "
                  "use). s/call: ~1,000-token prompt + 100 JSON tokens, 1 thread, measured here.")
    for column in ("model", "installed", "verified", "size", "licence", "s/call (load, date)"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for row in rows:
        speed = f"{row.speed.seconds:.1f} (load {row.speed.load:.1f}, {row.speed.date})" if row.speed else "-"
        table.add_row(row.name + (" (default)" if row.default else ""),
                      "yes" if row.installed else f"no: {escape(row.install)}",
                      "yes" if row.verified else ("at first use" if row.installed else "-"),
                      f"{row.size / 1e6:,.0f} MB", row.licence, speed)
    return table


def arch_table(report) -> Table:
    """One architecture as `cli.py arch` describes it (spaces/describe.py)."""
    table = Table(title=f"{report.space} architecture", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("canonical", escape(report.canonical or ""))
    table.add_row("valid", "yes" + (f" ({escape(report.note)})" if report.note else ""))
    table.add_row("MFLOPs", f"{report.flops_m:.3f}" if report.flops_m is not None else "-")
    table.add_row("M params", f"{report.params_m:.3f}" if report.params_m is not None else "-")
    table.add_row("measured at", escape(report.reference))
    for name, value in report.metrics.items():
        table.add_row(f"{name} ({report.dataset})", f"{value:.2f}" if isinstance(value, float) else str(value))
    return table
