"""How well the DARTS supernet ranks architectures: Spearman's and Kendall's rank correlation
between the weight-inheritance estimate (validation accuracy through a supernet trained over
the whole space) and the same architectures trained stand-alone, on the CPU data.

    python bench/supernet_correlation.py                    # digits, 12 random architectures, CPU defaults
    python bench/supernet_correlation.py --dataset mnist --archs 16
    python bench/supernet_correlation.py --smoke            # tiny sizes: the script still runs (tests)

The supernet and the stand-alone networks are those a search trains (settings.DartsSettings:
supernet C 8, 5 cells, 30 epochs; stand-alone C 16, 8 cells, 30 epochs; 16x16 inputs), so the
figure says how far a search's ranking can be trusted at the CPU default.  Writes
bench/supernet-correlation/<dataset>.json (every architecture's two scores) unless --smoke.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (cli.py says why)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SMOKE = {"channels": 4, "cells": 3, "image_size": 8, "epochs": 1, "min_steps": 0, "standalone_channels": 4,
         "standalone_cells": 3, "standalone_epochs": 1}


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
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


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    norm = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / norm if norm else 0.0


def kendall(a: list[float], b: list[float]) -> float:
    """Kendall's tau-a: (concordant - discordant pairs) / all pairs."""
    pairs = [(i, j) for i in range(len(a)) for j in range(i + 1, len(a))]
    sign = [((a[i] > a[j]) - (a[i] < a[j])) * ((b[i] > b[j]) - (b[i] < b[j])) for i, j in pairs]
    return sum(sign) / len(pairs) if pairs else 0.0


def _train(job: tuple) -> dict:
    """One stand-alone training (resumable, its report kept under --work)."""
    arch, spec, work, dataset, image_size = job
    from spaces import darts_genotype as G
    from spaces import darts_train

    if __name__ != "__main__":
        import torch

        torch.set_num_threads(1)
    standalone = darts_train.StandaloneSpec.model_validate(spec)
    genotype = G.parse(arch)
    data = darts_train.load_data(dataset, image_size, Path(work) / ".datasets")
    return darts_train.standalone(genotype, standalone, Path(work) / "standalone" / standalone.key(genotype), data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits", help="mnist, digits or cifar10 (default digits)")
    parser.add_argument("--archs", type=int, default=12, help="random architectures (default 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--standalone-epochs", type=int, default=None, help="default: the search's (30)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/archagents-supernet-correlation"),
                        help="where the supernet and the trainings are kept (resumable)")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, 3 architectures, 1 epoch")
    parser.add_argument("--jobs", type=int, default=1, help="stand-alone trainings at once (processes, 1 thread each)")
    parser.add_argument("--sharing", default=None, help="supernet weight sharing: edge (DARTS), node, cell (default: "
                        "the search's)")
    args = parser.parse_args()

    from settings import DartsSettings
    from spaces import darts_genotype as G
    from spaces import darts_train

    settings = DartsSettings(**(SMOKE if args.smoke else {}))
    sharing = args.sharing or settings.sharing
    if args.standalone_epochs:
        settings = settings.model_copy(update={"standalone_epochs": args.standalone_epochs})
    n = 3 if args.smoke else args.archs
    data = darts_train.load_data(args.dataset, settings.image_size, args.work / ".datasets")
    epochs = darts_train.epochs_for(len(data.x_train), settings.batch_size, settings.epochs, settings.min_steps)
    spec = darts_train.SupernetSpec(dataset=args.dataset, image_size=settings.image_size, channels=settings.channels,
                                    cells=settings.cells, epochs=epochs, batch_size=settings.batch_size,
                                    lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay,
                                    train_subset=settings.train_subset, seed=args.seed, sharing=sharing)
    started = time.perf_counter()
    supernet = darts_train.supernet(spec, darts_train.folder_of(args.work / "supernets", spec), data)
    supernet_seconds = time.perf_counter() - started
    rng = random.Random(f"correlation:{args.seed}")
    standalone = darts_train.StandaloneSpec(
        dataset=args.dataset, image_size=settings.image_size, channels=settings.standalone_channels,
        cells=settings.standalone_cells, epochs=settings.standalone_epochs, batch_size=settings.standalone_batch,
        lr=settings.standalone_lr, momentum=settings.momentum, weight_decay=settings.weight_decay,
        auxiliary_weight=settings.auxiliary_weight, drop_path=settings.drop_path, train_subset=settings.train_subset,
        seed=args.seed)
    genotypes = [G.sample(G.full(), rng) for _ in range(n)]
    estimates = [darts_train.estimate(supernet, g, data, settings.bn_batches, settings.batch_size) for g in genotypes]
    jobs = [(G.write(g), standalone.model_dump(), str(args.work), args.dataset, settings.image_size) for g in genotypes]
    if args.jobs > 1:  # independent trainings, one thread each
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            reports = list(pool.map(_train, jobs))
    else:
        reports = [_train(job) for job in jobs]
    rows = []
    for k, (genotype, estimate, report) in enumerate(zip(genotypes, estimates, reports)):
        rows.append({"arch": G.write(genotype), "estimate": estimate, "val_acc": report["val_acc"],
                     "test_acc": report["test_acc"], "train_seconds": report["train_seconds"]})
        print(f"{k + 1}/{n}: estimate {estimate:.2f}  stand-alone val {report['val_acc']:.2f} "
              f"test {report['test_acc']:.2f}", flush=True)
    out = {"dataset": args.dataset, "archs": n, "seed": args.seed, "sharing": sharing, "supernet_epochs": epochs,
           "settings": settings.model_dump(),
           "spearman_test": round(spearman(estimates, [r["test_acc"] for r in rows]), 3),
           "spearman_val": round(spearman(estimates, [r["val_acc"] for r in rows]), 3),
           "kendall_test": round(kendall(estimates, [r["test_acc"] for r in rows]), 3),
           "supernet_seconds": round(supernet_seconds, 1), "load": os.getloadavg(), "rows": rows}
    print(json.dumps({k: v for k, v in out.items() if k not in ("rows", "settings")}))
    if not args.smoke:
        target = ROOT / "bench" / "supernet-correlation" / f"{args.dataset}-{sharing}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
