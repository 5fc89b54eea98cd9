"""ArchAgents command line: parse flags, build settings, call the library, render with rich.

    python cli.py search                          GENIUS on NB201 CIFAR-10 with the embedded model
    python cli.py search --model designer=openai:gpt-4o-mini --budget 10 --seed 1
    python cli.py search --resume RUN_ID          continue an interrupted run
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from errors import LLMError, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None)
console = Console(stderr=True)


@app.callback()
def _commands() -> None:
    """LLM agents that search for neural-network architectures (GENIUS, LLMatic, LAPT).

    Runs are saved in runs/<run_id>/. Try: python cli.py search --help"""
out = Console()

MODEL_HELP = ("ROLE=PROVIDER:MODEL, repeatable. ROLE: designer, critic, learner, all. PROVIDER: embedded "
              "(default, offline), openai:MODEL (needs OPENAI_API_KEY), openai-compatible:MODEL@URL "
              "(vLLM, Ollama, llama.cpp server), hf:ID_OR_PATH (needs the [hf] extra).")


@app.command()
def search(
    graph: Annotated[Optional[str], typer.Option("--graph", "-g", help="Graph variant: genius, llmatic.")] = None,
    space: Annotated[Optional[str], typer.Option(help="Search space: nb201.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d",
                                                   help="cifar10, cifar100 or imagenet16 (ImageNet16-120).")] = None,
    budget: Annotated[Optional[int], typer.Option("--budget", "-b",
                                                  help="Architectures to evaluate (default 10, as GENIUS).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    temperature: Annotated[Optional[float], typer.Option(
        "--temperature", "-t", help="Designer temperature (default 0 as GENIUS; the paper also ran 1).")] = None,
    critic: Annotated[Optional[str], typer.Option(
        help="off | rules (reject duplicates, isomorphs, constraint breaks) | llm (rules + critic model) "
             "(default rules).")] = None,
    max_flops: Annotated[Optional[float], typer.Option(help="Critic rejects cells above this many MFLOPs.")] = None,
    max_params: Annotated[Optional[float], typer.Option(help="Critic rejects cells above this many M params.")] = None,
    max_rejections: Annotated[Optional[int], typer.Option(
        help="Rejected LLM proposals in a row before a seeded mutation of the best cell is used (default 3).")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    generations: Annotated[Optional[int], typer.Option(help="llmatic: generations (default 3; paper 20).")] = None,
    batch: Annotated[Optional[int], typer.Option(help="llmatic: offspring per generation (default 8; paper 100).")] = None,
    max_concurrency: Annotated[Optional[int], typer.Option(help="llmatic: LLM calls in flight (default 4).")] = None,
    ablation: Annotated[Optional[str], typer.Option(
        help="llmatic ablation (paper 4.2): network-archive-only, prompt-archive-only, mutation-only, "
             "crossover-only, random.")] = None,
    paper_scale: Annotated[bool, typer.Option(
        "--paper-scale", help="llmatic: 20 generations of 100 offspring (2,000 evaluations), as the paper.")] = False,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file (default ./archagents.toml if present).")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue the interrupted run with this id.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress; print the summary only.")] = False,
) -> None:
    """Run a search and save it in runs/<run_id>/ (config, event log, checkpoints, result.json)."""
    from graphs.run import execute, prepare
    from memory.runs import RunDir
    from settings import load_settings

    if resume:
        run = RunDir.open(runs_dir or load_settings(config).runs_dir, resume)
        settings = prepare(run.settings())
        console.print(f"resuming [bold]{run.id}[/]")
    else:
        llmatic = {"generations": 20, "batch": 100} if paper_scale else {}
        llmatic.update({k: v for k, v in {"generations": generations, "batch": batch, "ablation": ablation,
                                          "max_concurrency": max_concurrency}.items() if v is not None})
        settings = prepare(load_settings(
            config, model or [], graph=graph, space=space, dataset=dataset, budget=budget, seed=seed,
            temperature=temperature, critic=critic, max_flops_m=max_flops, max_params_m=max_params,
            max_rejections=max_rejections, runs_dir=runs_dir, llmatic=llmatic or None))
        run = RunDir.create(settings)
        console.print(f"run [bold]{run.id}[/] -> {run.path}")
    started = time.perf_counter()
    try:
        if quiet:
            result = execute(run)
        else:
            from render import live_progress

            import graphs

            with live_progress(console, graphs.get(settings.graph).planned_evaluations(settings)) as on_state:
                result = execute(run, on_state=on_state)
    except KeyboardInterrupt:
        where = f" --runs-dir {settings.runs_dir}" if settings.runs_dir != Path("runs") else ""
        print(f"\ninterrupted; nothing is lost. Continue with: python cli.py search --resume {run.id}{where}",
              file=sys.stderr)
        raise typer.Exit(130)
    from render import summary_table

    out.print(summary_table(result, time.perf_counter() - started))
    out.print(f"saved: {run.result_path}")


def _error(message: str) -> None:
    """One line on stderr, never wrapped (scripts grep it)."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def main() -> None:
    """Entry point: user mistakes (ours or click's) become one line on stderr and exit code 2."""
    try:
        app(standalone_mode=False)
    except UserError as err:
        _error(str(err))
        sys.exit(2)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as err:
        # typer vendors its own click, so its usage errors are matched by shape, not class.
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
            raise
        if type(err).__name__ == "NoArgsIsHelpError":
            console.print(err.format_message(), markup=False, highlight=False)
        else:
            _error(f"{err.format_message()} (see --help)")
        sys.exit(2)
    except LLMError as err:
        _error(f"{err} (the run is saved; continue it with --resume RUN_ID)")
        sys.exit(1)


if __name__ == "__main__":
    main()
