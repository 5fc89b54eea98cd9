"""Which embedded model should be the default: GENIUS and LLMatic at their default budgets with
each embedded model, on NB201 CIFAR-10, several seeds, through the benchmark grid.

    python bench/embedded_models.py [--seeds 5] [--jobs 2] [--models smollm2-135m,qwen2.5-coder-0.5b,...] [--table-only]
    python bench/embedded_models.py --models smollm2-135m --graphs genius --seeds 1 --budget 1   # that it runs

Per model and graph: mean +- std test accuracy of the best-by-validation cell; the share of the
model's proposals that were new and valid (GENIUS: candidates the designer wrote that the Critic's
rules accepted, out of those it was asked for; LLMatic: offspring that were readable and new, out
of those planned); the share of evaluated architectures the model wrote (the rest came from the
contained search the Critic ranked higher, or LLMatic's random start); seconds per LLM call and
wall seconds per run.  Runs are kept in
bench/embedded-<model>-<graph>/ (resumable: run again to finish an interrupted comparison).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark import grid as bench_grid  # noqa: E402
from benchmark import table as bench_table  # noqa: E402

MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
BUDGETS = {"genius": 10, "llmatic": 34}  # each graph's default budget


def proposal_share(run: Path) -> float | None:
    """New and valid proposals of the model, over those it was asked for."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    config = json.loads((run / "config.json").read_text())
    if config["graph"] == "llmatic":
        made = [e["data"] for e in events if e["kind"] == "offspring"
                and e["data"].get("operator") in ("mutation", "crossover", "random")]
        good = [c for c in made if c.get("arch") and "evaluated before" not in c.get("detail", "")]
        return len(good) / len(made) if made else None
    k = config.get("candidates", 4)
    asked = sum(e["kind"] == "prompt" and e.get("role") == "designer" for e in events) * (k + 1)
    produced = 0
    for e in events:
        if e["kind"] == "answer" and e.get("role") == "designer" and e["data"].get("parsed"):
            parsed = e["data"]["parsed"]
            produced += len(parsed.get("edits", [])) + len(parsed.get("architectures", [])) + ("architecture" in parsed)
    rejected = sum(e["kind"] == "critic" and not e["data"].get("accept") and e["data"].get("source") in ("llm", "edit")
                   for e in events)
    return max(produced - rejected, 0) / asked if asked else None


def model_share(run: Path) -> float:
    """Evaluated architectures the model wrote (whole, or as an edit), over all evaluated."""
    result = json.loads((run / "result.json").read_text())
    by_source = result["proposals"]["by_source"]
    return (by_source.get("llm", 0) + by_source.get("edit", 0)) / max(result["evaluations"], 1)


def seconds_per_call(run: Path) -> tuple[float, int]:
    result = json.loads((run / "result.json").read_text())
    usage = result["usage"].get("designer") or {}
    calls = usage.get("calls", 0)
    return (usage.get("seconds", 0.0) / calls if calls else 0.0), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--graphs", default="genius,llmatic")
    parser.add_argument("--out", type=Path, default=Path("bench"))
    parser.add_argument("--table-only", action="store_true", help="tabulate the runs already there, run nothing")
    parser.add_argument("--budget", type=int, help="every graph's budget (default: each graph's own, as above)")
    args = parser.parse_args()
    budgets = {graph: args.budget or budget for graph, budget in BUDGETS.items()}
    rows = []
    for model in args.models.split(","):
        for graph in args.graphs.split(","):
            grid = bench_grid.validate(bench_grid.Grid(
                name=f"embedded-{model}-{graph}", graphs=[graph], space="nb201", datasets=["cifar10"],
                budgets=[budgets[graph]], seeds=args.seeds, jobs=args.jobs))
            shared = bench_grid.shared_settings(grid, [f"all=embedded:{model}"], None)
            path = bench_grid.folder(args.out, grid.name)
            if not args.table_only:
                bench_grid.run(grid, args.out, shared, on_done=lambda cid, outcome, i, n: print(
                    f"  [{i}/{n}] {cid}: {outcome}", flush=True))
            elif not (path / "runs").is_dir():
                continue
            scores, _ = bench_table.collect(path)
            if not scores:
                continue
            runs = [path / "runs" / s.run_id for s in scores]
            shares = [s for s in (proposal_share(r) for r in runs) if s is not None]
            per_call = [seconds_per_call(r) for r in runs]
            walls = [json.loads((r / "result.json").read_text())["wall_seconds"] for r in runs]
            tests = [s.test for s in scores]
            chosen = [model_share(r) for r in runs]
            rows.append((model, graph, len(scores), statistics.fmean(tests), statistics.pstdev(tests),
                         statistics.fmean(shares) if shares else float("nan"), statistics.fmean(chosen),
                         sum(s * c for s, c in per_call) / max(sum(c for _, c in per_call), 1),
                         statistics.fmean(walls)))
    print("\n| model | graph (budget) | seeds | test acc (mean ± std) | new and valid proposals | "
          "evaluated from the model | s per call | wall s per run |\n|---|---|---|---|---|---|---|---|")
    for model, graph, n, mean, std, share, chosen, per_call, wall in rows:
        print(f"| {model} | {graph} ({budgets[graph]}) | {n} | {mean:.2f} ± {std:.2f} | {100 * share:.0f}% | "
              f"{100 * chosen:.0f}% | {per_call:.1f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
