"""Does the CPU training recipe give a search any signal?  (issue 14, item 4; issue 23, item 4)

Trains the 20 random starting networks (spaces.torch_code.random_network, seeds 0-19) through
the real sandbox under two recipes, in the same run (the machine is shared, so only what is
measured side by side compares), and prints for each the validation accuracy's mean, standard
deviation, min and max, and seconds per network (training inside the child; spawn to exit).

    python bench/training_signal.py [--dataset mnist] [--workers 2] [--networks 20] [--reference]
    python bench/training_signal.py --space mobilenetv2 --dataset digits --networks 10 [--out FILE]

`--space mobilenetv2`: random architectures of the space within GENIUS's bound ([270, 330]
MFLOPs, the sampler's seeds 0..N-1), trained with the space's CPU default recipe and with the
same recipe five times longer (`--factor`), and the rank correlation between the two (Spearman):
how far the short training orders the networks as more training would.  `--out` writes the
result as Markdown (bench/genius-mobilenetv2-digits/training_signal.md).

`old`: the paper's optimiser at the former CPU size (SGD lr 0.001, momentum 0.9, 1 epoch of
2,000 images); `new`: settings.TrainingSettings() as it is now.  `--reference` also trains a
longer recipe (SGD lr 0.01, momentum 0.9, 5 epochs of every training image) and prints how
well each short recipe ranks the networks as it does (Spearman's rho): a spread is a signal
only if it orders networks the way more training would.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from settings import TrainingSettings  # noqa: E402
from spaces.torch_code import random_network, vet  # noqa: E402
from training import executors  # noqa: E402

OLD = {"optimizer": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0, "epochs": 1, "batch_size": 64,
       "train_subset": 2000, "eval_subset": 1000}
REFERENCE = {**OLD, "lr": 0.01, "epochs": 5, "train_subset": None}


def train_all(recipe: TrainingSettings, dataset: str, networks: int, workers: int, workdir: Path) -> list[dict]:
    pool = executors.LocalExecutor(workers=workers, gpus=0)
    batch = []
    for seed in range(networks):
        code, canonical = vet(random_network(random.Random(seed)))
        batch.append({"code": code, "canonical": canonical, "dataset": dataset, "seed": 0, "threads": 1,
                      "workdir": str(workdir / "sandbox"), "data_dir": str(workdir / "data"),
                      "training": recipe.model_dump(mode="json")})
    try:
        return pool.map(batch)
    finally:
        pool.shutdown()


def summary(name: str, recipe: TrainingSettings, reports: list[dict], seconds: float) -> str:
    failed = [r for r in reports if r["failure"]]
    accs = [r["val_acc"] for r in reports if r["val_acc"] is not None]
    train = [r["train_seconds"] for r in reports if r["train_seconds"] is not None]
    sandbox = [r["sandbox_seconds"] for r in reports if r["sandbox_seconds"] is not None]
    what = (f"{recipe.optimizer} lr {recipe.lr:g}" + (f" momentum {recipe.momentum:g}" if recipe.optimizer == "sgd" else "")
            + (f" wd {recipe.weight_decay:g}" if recipe.weight_decay else "")
            + f", {recipe.epochs} epoch(s) of {recipe.train_subset or 'all'} images, batch {recipe.batch_size}")
    return (f"{name:4s} {what}\n     val acc %: mean {statistics.mean(accs):5.1f}  std {statistics.pstdev(accs):5.1f}  "
            f"min {min(accs):5.1f}  max {max(accs):5.1f}   ({len(failed)} failed)\n"
            f"     s/network: training {statistics.mean(train):.2f} (max {max(train):.2f}), "
            f"spawn to exit {statistics.mean(sandbox):.2f}; {seconds:.0f} s for all\n"
            f"     sorted: {' '.join(f'{a:.0f}' for a in sorted(accs))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="torch-code", choices=("torch-code", "mobilenetv2"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--workers", type=int, default=2, help="sandboxes at once, one torch thread each")
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--reference", action="store_true", help="also the longer recipe, and rank correlations")
    parser.add_argument("--factor", type=int, default=5, help="mobilenetv2: the reference trains this many times longer")
    parser.add_argument("--out", type=Path, help="mobilenetv2: write the result as Markdown here too")
    args = parser.parse_args()
    if args.space == "mobilenetv2":
        from bench._training_signal_mbv2 import main as mobilenetv2

        mobilenetv2(args)
        return
    recipes = {"old": TrainingSettings(**OLD), "new": TrainingSettings()}
    if args.reference:
        recipes["ref"] = TrainingSettings(**REFERENCE)
    results = {}
    with tempfile.TemporaryDirectory(prefix="training-signal-") as tmp:
        for name, recipe in recipes.items():
            started = time.perf_counter()
            reports = train_all(recipe, args.dataset, args.networks, args.workers, Path(tmp) / name)
            results[name] = (recipe, reports, time.perf_counter() - started)
    for name, (recipe, reports, seconds) in results.items():
        print(summary(name, recipe, reports, seconds))
    spread = {name: statistics.pstdev([r["val_acc"] for r in reports if r["val_acc"] is not None])
              for name, (_, reports, _) in results.items()}
    means = {name: statistics.mean([r["val_acc"] for r in reports if r["val_acc"] is not None])
             for name, (_, reports, _) in results.items()}
    print(f"new/old: std {spread['new'] / max(spread['old'], 1e-9):.2f}x, mean {means['new'] / means['old']:.2f}x "
          f"({args.networks} networks, {args.dataset}, 1 thread each, {args.workers} at once)")
    if args.reference:
        accuracy = {name: [r["val_acc"] or 0.0 for r in reports] for name, (_, reports, _) in results.items()}
        for name in ("old", "new"):
            print(f"Spearman rho {name} vs ref: {spearman(accuracy[name], accuracy['ref']):.2f}")


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks, tied values sharing their mean rank
    (accuracies on digits' 200 validation images tie often; breaking ties by order adds noise)."""
    def ranks(values):
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    return statistics.correlation(ranks(a), ranks(b))


if __name__ == "__main__":
    main()
