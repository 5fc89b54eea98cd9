"""bench/training_signal.py --space mobilenetv2: does the mobilenetv2 CPU recipe order architectures
as a five times longer training does?  Random architectures of the space within GENIUS's bound
([270, 330] MFLOPs), each trained through the real sandbox with the space's default recipe and
with `--factor` times the steps, side by side; Spearman's rho between the two validation
accuracies, and the seconds each took (with the load average, the machine being shared)."""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.training_signal import spearman
from settings import TrainingSettings
from spaces import get
from training import executors

BOUND = (270.0, 330.0)


def architectures(n: int) -> list[str]:
    space, rng, out = get("mobilenetv2"), random.Random(0), []
    while len(out) < n:
        arch = space.sample_random(rng)
        if BOUND[0] <= space.cost(arch, "digits")[0] <= BOUND[1] and space.canonical(arch) not in out:
            out.append(space.canonical(arch))
    return out


def train(archs: list[str], recipe: TrainingSettings, dataset: str, workers: int, workdir: Path) -> list[dict]:
    space = get("mobilenetv2")
    space.training, space.workdir, space.data_dir = recipe, workdir / "sandbox", workdir / "data"
    pool = executors.LocalExecutor(workers=workers, gpus=0)
    batch = [{"code": space.source(arch, dataset), "canonical": arch, "dataset": dataset, "seed": 0, "threads": 1,
              "workdir": str(workdir / "sandbox"), "data_dir": str(workdir / "data"),
              "training": recipe.model_dump(mode="json")} for arch in archs]
    try:
        return pool.map(batch)
    finally:
        pool.shutdown()


def main(args) -> None:
    space = get("mobilenetv2")
    short = space.recipe(TrainingSettings())
    long = short.model_copy(update={"steps": short.steps * args.factor})
    archs = architectures(args.networks)
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="training-signal-mbv2-") as tmp:
        for name, recipe in (("short", short), ("long", long)):
            started = time.perf_counter()
            results[name] = (recipe, train(archs, recipe, args.dataset, args.workers, Path(tmp) / name),
                             time.perf_counter() - started)
    load_after = os.getloadavg()
    text = report(archs, results, args, load_before, load_after)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


def report(archs, results, args, load_before, load_after) -> str:
    short, long = (results[k][1] for k in ("short", "long"))
    failed = [(a, r["detail"]) for a, r in zip(archs, short + long) if r["failure"]]
    acc = {k: [r["val_acc"] or 0.0 for r in results[k][1]] for k in results}
    recipe = results["short"][0]
    lines = [f"# Training signal of the mobilenetv2 CPU recipe ({args.dataset})", "",
             f"{len(archs)} random architectures within [{BOUND[0]:g}, {BOUND[1]:g}] MFLOPs (sampler seeds from 0), each "
             f"trained in the sandbox with the CPU default ({recipe.optimizer} lr {recipe.lr:g}, {recipe.schedule} "
             f"schedule, batch {recipe.batch_size}, {recipe.image_size} px, width {recipe.width:g}) for {recipe.steps} "
             f"steps and for {recipe.steps * args.factor} ({args.factor}x); {args.workers} at a time, one thread each; "
             f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (2 shared cores).", "",
             f"**Spearman's rho, {recipe.steps} steps vs {recipe.steps * args.factor}: "
             f"{spearman(acc['short'], acc['long']):.2f}**", "",
             f"The longer training's validation against its own test accuracy (how far the measurement itself "
             f"orders these networks): {spearman(acc['long'], [r['test_acc'] or 0.0 for r in long]):.2f}.", "",
             "| MFLOPs | val % short | val % long | test % long | train s short | train s long |", "|---|---|---|---|---|---|"]
    space = get("mobilenetv2")
    for arch, a, b in zip(archs, short, long):
        lines.append(f"| {space.cost(arch, 'digits')[0]:.1f} | {a['val_acc'] or 0:.1f} | {b['val_acc'] or 0:.1f} | "
                     f"{b['test_acc'] or 0:.1f} | {a['train_seconds'] or 0:.0f} | {b['train_seconds'] or 0:.0f} |")
    for name in ("short", "long"):
        values = acc[name]
        lines.append(f"\n{name}: val mean {statistics.mean(values):.1f} std {statistics.pstdev(values):.1f} min "
                     f"{min(values):.1f} max {max(values):.1f}; {results[name][2]:.0f} s for all")
    lines += [f"\nfailed: {failed}" if failed else ""]
    return "\n".join(lines)
