"""The benchmark table, recomputed from the run folders alone.

For every finished run: its evaluations in journal order (events.jsonl), the architecture
with the best validation score (the first of equals), its test accuracy and rank looked up
in the space's table once (as the papers report: validation guides the search, the test
figure is read at the end), the LLM tokens of every answer, and the best-so-far curve.
Nothing is taken from result.json, so the table cannot disagree with what the runs did.

Rows: (budget, dataset, graph): mean +- std over seeds of the test accuracy (the validation
metric on TransNAS-Bench-101, which has no test split), mean rank in the space, evaluations,
tokens, seeds, and what the runs knew besides their own evaluations (graphs/knowledge.py);
beside them the paper's figure for that graph, shown only where the paper's search knew the
same (GENIUS and LLMatic: nothing; LAPT: another task), and the optimum of the space.

With the no-model twins (`bench --ablate-model`), a model graph's row also gives what the
model added: the mean over paired seeds of graph minus twin, with a 95% t-interval.

A space without a table (DARTS, evaluated through a supernet) has no rank and no optimum: the
score is the test accuracy of the best-by-validation architecture trained stand-alone, read
from the training report the run left in its folder (standalone/*/report.json), and the curve
is the best validation estimate so far.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from benchmark.grid import NOT_APPLICABLE, Grid
from benchmark.papers import FIGURES, QUOTED_OPTIMUM


class RunScore(BaseModel):
    """One finished run, as recomputed from its folder."""

    run_id: str
    graph: str
    space: str
    dataset: str
    budget: int
    seed: int
    evaluations: int
    best_arch: str | None
    best_val: float | None
    test: float | None          # test accuracy of the best-by-validation architecture (TransNAS: None)
    rank: int | None
    tokens: int
    curve: list[float]          # test (else validation) score of the best-by-validation so far, per evaluation
    by_source: dict[str, int]   # evaluated architectures by where they came from
    twin: bool = False          # the graph's no-model twin (designer none)
    knowledge: str = "none"     # what the run knew (graphs/knowledge.label)


class Row(BaseModel):
    budget: int
    dataset: str
    graph: str
    seeds: int
    score_mean: float | None
    score_std: float | None
    rank_mean: float | None
    evaluations_mean: float
    tokens_mean: float
    llm_share: float | None     # share of evaluated architectures that came from the model (llm, edit)
    paper: str
    optimum: float | None       # None: a trained space has no table to know it
    not_applicable: str = ""
    knowledge: str = "none"
    delta_mean: float | None = None  # graph minus its no-model twin, mean over paired seeds
    delta_ci: float | None = None    # half-width of the 95% t-interval of that mean
    delta_pairs: int = 0


def score_run(run_path: Path) -> RunScore | None:
    """None while the run is unfinished."""
    from memory.journal import Journal
    from settings import Settings

    if not (run_path / "result.json").is_file():
        return None
    from graphs.knowledge import label, of_run

    settings = Settings.model_validate_json((run_path / "config.json").read_text())
    space = _space(settings.space)
    journal = Journal(run_path / "events.jsonl")
    final = _finals(settings, run_path)
    best_arch, best_key, best_val, curve, tokens, seen, by_source = None, None, None, [], 0, set(), defaultdict(int)
    sources = _sources(run_path)
    for event in journal.events():
        if event.kind == "answer":
            tokens += (event.tokens_in or 0) + (event.tokens_out or 0)
        # an isomorphic twin of an evaluated cell reuses its result: one evaluation, not two
        key = event.data.get("canonical") or event.data.get("arch")
        if event.kind != "evaluation" or key in seen:
            continue
        arch, val = event.data["arch"], event.data.get("val_acc")
        seen.add(key)
        by_source[sources.get(arch, "unknown")] += 1
        if val is not None and (best_val is None or val > best_val):
            best_arch, best_key, best_val = arch, key, val
        if best_arch is not None:
            score = final(best_arch, best_key)[0]  # darts: only the final best is trained stand-alone
            curve.append(score if score is not None else best_val)
    test, rank = final(best_arch, best_key) if best_arch else (None, None)
    return RunScore(run_id=run_path.name, graph=settings.graph, space=settings.space, dataset=settings.dataset,
                    budget=settings.budget, seed=settings.seed, evaluations=len(seen), best_arch=best_arch,
                    best_val=best_val, test=test if space.name != "transnas101" else best_val, rank=rank,
                    tokens=tokens, curve=curve, by_source=dict(by_source),
                    twin=settings.designer == "none" and settings.graph not in _baselines(),
                    knowledge=label(of_run(settings, space, journal)))


def _finals(settings, run_path: Path):
    """(arch, canonical form) -> (score, rank): the space's table, looked up once; for a space
    evaluated through a supernet (darts) the test accuracy of the best trained stand-alone at the
    run's end (standalone/<job>/report.json); for a trained space the test accuracy in the run's own
    saved training report (sandbox/<job>/report.json).  Never a new training."""
    from spaces.base import Trained, WeightShared, has

    space = _space(settings.space)
    if has(space, WeightShared):
        return lambda arch, key: (_trained(run_path, space, arch), None)
    if not has(space, Trained):
        return lambda arch, key: _final(space.name, arch, settings.dataset)
    reports = {}
    for path in sorted((run_path / "sandbox").glob("*/report.json")):
        report = json.loads(path.read_text())
        reports.setdefault(report["canonical"], report)

    def final(arch: str, key: str) -> tuple[float | None, None]:
        report = reports.get(key, {})
        return report.get("test_acc") if report.get("test_acc") is not None else report.get("val_acc"), None

    return final


def _trained(run_path: Path, space, arch: str | None) -> float | None:
    """Test accuracy of `arch` trained stand-alone, from the report the run's final step left."""
    if arch is None:
        return None
    for report in sorted((run_path / "standalone").glob("*/report.json")):
        data = json.loads(report.read_text())
        if space.canonical(data["arch"]) == space.canonical(arch):
            return data["test_acc"]
    return None


def _sources(run_path: Path) -> dict[str, str]:
    """arch -> where it came from, from the Critic's choices (step graphs), LLMatic's offspring
    and LAPT's rounds; read from the journal, like everything here."""
    from graphs.llmatic import OFFSPRING_SOURCE
    from memory.journal import Journal

    out: dict[str, str] = {}
    for event in Journal(run_path / "events.jsonl").events():
        data = event.data
        if event.kind == "critic" and data.get("accept") and data.get("arch") and data.get("source"):
            out.setdefault(data["arch"], data["source"])
        elif event.kind == "offspring" and data.get("arch"):
            out.setdefault(data["arch"], data.get("source") or OFFSPRING_SOURCE.get(data.get("operator"), "llm"))
    return out


@cache
def _space(name: str):
    import spaces

    return spaces.get(name)


@cache
def _final(space: str, arch: str, dataset: str) -> tuple[float, int | None]:
    report = _space(space).final_report(arch, dataset)
    return _score(report), report.rank


def collect(path: Path) -> tuple[list[RunScore], dict[str, str]]:
    """Every finished run of a grid folder, and the reasons of the cells that cannot run."""
    scores, not_applicable = [], {}
    for run_path in sorted((path / "runs").iterdir()) if (path / "runs").is_dir() else []:
        if (run_path / NOT_APPLICABLE).is_file():
            not_applicable[run_path.name] = (run_path / NOT_APPLICABLE).read_text().strip()
            continue
        score = score_run(run_path)
        if score is not None:
            scores.append(score)
    return scores, not_applicable


def rows(grid: Grid, scores: list[RunScore], not_applicable: dict[str, str]) -> list[Row]:
    from benchmark.grid import label

    groups: dict[tuple, list[RunScore]] = defaultdict(list)
    for s in scores:
        groups[(s.budget, s.dataset, s.graph, s.twin)].append(s)
    # the grid's rows, and the twins of a grid whose every cell runs without the model (designer = none)
    order = list(dict.fromkeys(grid.rows() + [(s.graph, s.twin) for s in scores]))
    out = []
    for budget in grid.budgets:
        for dataset in grid.datasets:
            optimum = _optimum(grid.space, dataset)
            for graph, twin in order:
                group = groups.get((budget, dataset, graph, twin), [])
                values = [s.test for s in group if s.test is not None]
                ranks = [s.rank for s in group if s.rank is not None]
                evaluated = sum(sum(s.by_source.values()) for s in group)
                from_model = sum(s.by_source.get("llm", 0) + s.by_source.get("edit", 0) for s in group)
                prefix = f"{label(graph, twin, sep='-')}-{grid.space}-{dataset}-b{budget}-"
                reason = next((r for cid, r in not_applicable.items() if cid.startswith(prefix)), "")
                known = "; ".join(sorted({s.knowledge for s in group})) or "-"
                delta = _delta(group, groups.get((budget, dataset, graph, True), [])) if not twin else (None, None, 0)
                out.append(Row(
                    budget=budget, dataset=dataset, graph=label(graph, twin), seeds=len(group),
                    score_mean=statistics.fmean(values) if values else None,
                    score_std=statistics.pstdev(values) if len(values) > 1 else (0.0 if values else None),
                    rank_mean=statistics.fmean(ranks) if ranks else None,
                    evaluations_mean=statistics.fmean([s.evaluations for s in group]) if group else 0.0,
                    tokens_mean=statistics.fmean([s.tokens for s in group]) if group else 0.0,
                    llm_share=(from_model / evaluated) if evaluated and graph not in _baselines() else None,
                    paper="" if twin else _paper(grid.space, dataset, graph, known), optimum=optimum,
                    not_applicable=reason, knowledge=known, delta_mean=delta[0], delta_ci=delta[1],
                    delta_pairs=delta[2]))
    return out


def _delta(runs: list[RunScore], twins: list[RunScore]) -> tuple[float | None, float | None, int]:
    """Mean of graph minus twin over the seeds both ran, and the half-width of its 95% t-interval."""
    twin_by_seed = {t.seed: t.test for t in twins if t.test is not None}
    diffs = [r.test - twin_by_seed[r.seed] for r in runs if r.test is not None and r.seed in twin_by_seed]
    if not diffs:
        return None, None, 0
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, None, 1
    from scipy.stats import t

    return mean, t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5, len(diffs)


def _baselines() -> tuple[str, ...]:
    import graphs

    return graphs.BASELINES


def _paper(space: str, dataset: str, graph: str, knowledge: str) -> str:
    """The paper's figure for this graph, where the paper's search knew what these runs knew (no
    other task's results for GENIUS and LLMatic, another task's for LAPT): never mixed."""
    figure = FIGURES.get((space, dataset, graph))
    if figure is None or (figure.knowledge == "none") != (knowledge == "none"):
        return ""
    value = f"{figure.mean:.2f}" + (f" ± {figure.std:.2f}" if figure.std is not None else "")
    return f"{value} ({figure.evaluations} evals; {figure.source}" + (f"; {figure.note}" if figure.note else "") + ")"


@cache
def _optimum(space: str, dataset: str) -> float | None:
    """The best score in the space's table (every architecture: the tables are small enough)."""
    from spaces.base import Tabular, has

    s = _space(space)
    if not has(s, Tabular):
        return None
    return max(_score(s.final_report(arch, dataset)) for arch in s.all_archs())


def _score(report) -> float:
    return report.test_acc if report.test_acc is not None else report.val_acc


HEADER = ["budget", "dataset", "graph", "knowledge", "seeds", "score (mean ± std)", "rank (mean)", "evaluations",
          "LLM tokens", "from the model", "model vs no model (95% CI)", "paper", "optimum"]


def _cells(row: Row) -> list[str]:
    if row.not_applicable and not row.seeds:
        return [str(row.budget), row.dataset, row.graph, "", "0", f"n/a: {row.not_applicable}", "", "", "", "", "",
                row.paper, _optimum_text(row)]
    score = "-" if row.score_mean is None else f"{row.score_mean:.2f} ± {row.score_std:.2f}"
    return [str(row.budget), row.dataset, row.graph, row.knowledge, str(row.seeds), score,
            "-" if row.rank_mean is None else f"{row.rank_mean:.0f}", f"{row.evaluations_mean:.1f}",
            f"{row.tokens_mean:,.0f}", "-" if row.llm_share is None else f"{100 * row.llm_share:.0f}%",
            _delta_text(row), row.paper, _optimum_text(row)]


def _optimum_text(row: Row) -> str:
    return "-" if row.optimum is None else f"{row.optimum:.2f}"


def _delta_text(row: Row) -> str:
    if row.delta_mean is None:
        return ""
    interval = "" if row.delta_ci is None else \
        f" [{row.delta_mean - row.delta_ci:+.2f}, {row.delta_mean + row.delta_ci:+.2f}]"
    return f"{row.delta_mean:+.2f}{interval} ({row.delta_pairs} pairs)"


def markdown(grid: Grid, table: list[Row]) -> str:
    metric = "validation metric of the best (no test split)" if grid.space == "transnas101" else \
        "test accuracy of the best-by-validation architecture" + (
            " (its training's held-out test split; no table: no rank, no optimum)" if _optimum(grid.space, grid.datasets[0])
            is None else "")
    from spaces.base import WeightShared, has

    if has(_space(grid.space), WeightShared):
        metric = ("test accuracy of the best-by-validation architecture (validation: its supernet estimate) trained "
                  "stand-alone once at the end; no table, so no rank and no optimum")
    lines = [f"# Benchmark {grid.name}: {grid.space}", "",
             f"Score: {metric}, mean ± std over seeds (population std). Rank: among all architectures of the "
             "space by that score. Knowledge: what the runs used besides their own evaluations (none: only "
             "evidence computed on each candidate; else the source task and where its results came from). "
             "From the model: share of evaluated architectures the LLM proposed (whole or as an edit). Model vs "
             "no model: the graph minus its no-model twin (same Critic and contained search, --designer none) "
             "on paired seeds, with a 95% t-interval. Paper: the paper's figure, only where its search knew the "
             "same. Recomputed from the run folders by benchmark/table.py.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in table]
    quoted = [f"{d}: {v}" for (s, d), v in QUOTED_OPTIMUM.items() if s == grid.space and d in grid.datasets]
    if quoted:
        lines += ["", "The papers quote other optima (" + ", ".join(quoted) + "); ours is the table's."]
    return "\n".join(lines) + "\n"


def _signal(path: Path) -> str:
    """The training-signal figure of a trained space's benchmark, when bench/training_signal.py wrote
    it beside the table: how well the CPU recipe orders networks as a longer training does."""
    signal = path / "training_signal.md"
    if not signal.is_file():
        return ""
    headline = [line for line in signal.read_text().splitlines() if line.startswith("**Spearman")]
    return f"\nTraining signal (training_signal.md): {headline[0].strip('*') if headline else 'see the file'}.\n"


def csv_text(table: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(Row.model_fields))
    writer.writeheader()
    for row in table:
        writer.writerow(row.model_dump())
    return buffer.getvalue()


def plot(path: Path, grid: Grid, scores: list[RunScore]) -> list[str]:
    """One PNG per (dataset, budget): the best-so-far score per evaluation, mean and std band per graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    for budget in grid.budgets:
        for dataset in grid.datasets:
            fig, ax = plt.subplots(figsize=(6, 4))
            for graph in grid.graphs:
                curves = [s.curve for s in scores if (s.budget, s.dataset, s.graph) == (budget, dataset, graph)
                          and s.curve]
                if not curves:
                    continue
                length = max(len(c) for c in curves)
                padded = np.array([c + [c[-1]] * (length - len(c)) for c in curves])
                x = np.arange(1, length + 1)
                mean, std = padded.mean(axis=0), padded.std(axis=0)
                ax.plot(x, mean, label=f"{graph} ({len(curves)})")
                ax.fill_between(x, mean - std, mean + std, alpha=0.15)
            ax.set_xlabel("evaluations")
            ax.set_ylabel("score of the best-by-validation so far")
            ax.set_title(f"{grid.space} / {dataset}, budget {budget}")
            if ax.lines:
                ax.legend(fontsize=8)
            fig.tight_layout()
            name = f"best_so_far_{dataset}_b{budget}.png"
            fig.savefig(path / name, dpi=120)
            plt.close(fig)
            written.append(name)
    return written


def write(path: Path, grid: Grid) -> list[Row]:
    scores, not_applicable = collect(path)
    table = rows(grid, scores, not_applicable)
    (path / "table.md").write_text(markdown(grid, table) + _signal(path))
    (path / "table.csv").write_text(csv_text(table))
    (path / "scores.json").write_text(json.dumps([s.model_dump() for s in scores], indent=1))
    plot(path, grid, scores)
    return table
