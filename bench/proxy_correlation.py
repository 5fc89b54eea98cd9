"""How well the training-free proxies rank NAS-Bench-201 cells: Spearman's rank correlation of
each proxy (and, as references, the table's FLOPs and params) with validation accuracy.

    nice -n 10 python bench/proxy_correlation.py [--n 1000] [--seed 0]
        [--datasets cifar10 cifar100 imagenet16] [--proxies synflow naswot jacob_cov]
        [--inputs mnist|noise] [--batch-size 64] [--proxy-seed 0] [--out FILE.json]

The same seeded random sample of `n` cells is scored on every dataset (tools/cell_proxies.py,
one torch thread); scores go to the persistent cache as they are computed, so an interrupted
run resumes and later runs reuse them.  Besides each proxy alone it reports sums of ranks (a
Critic may rank by a combination) and the CPU seconds per cell and proxy (as measured when the
score was computed, so a fully cached run still reports them).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REFERENCES = ("flops", "params")
COMBINATIONS = (("naswot", "synflow"), ("naswot", "flops"), ("synflow", "jacob_cov"), ("naswot", "jacob_cov"),
                ("naswot", "synflow", "jacob_cov"))


def rank(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank (what Spearman's rho needs)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    try:
        from scipy.stats import spearmanr
    except ImportError:  # Pearson's r of the ranks
        ra, rb = rank(a), rank(b)
        ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
        cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
        var = math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
        return cov / var if var else math.nan
    return float(spearmanr(a, b)[0])


def rank_sum(columns: list[list[float]]) -> list[float]:
    return [sum(r) for r in zip(*(rank(c) for c in columns))]


def score_dataset(archs: list[str], dataset: str, proxies: tuple[str, ...], args) -> dict:
    """Columns (val_acc, references, proxies) and mean CPU seconds per proxy over the sample."""
    from spaces.nb201 import NB201Space
    from tools.cell_proxies import cell_measurements

    space = NB201Space()
    columns: dict[str, list[float]] = {name: [] for name in ("val_acc", *REFERENCES, *proxies)}
    seconds: dict[str, float] = dict.fromkeys(proxies, 0.0)
    started = time.perf_counter()
    for i, arch in enumerate(archs, 1):
        columns["val_acc"].append(space.evaluate(arch, dataset).val_acc)
        flops, params = space.cost(arch, dataset)
        columns["flops"].append(flops)
        columns["params"].append(params)
        for name, (value, cpu) in cell_measurements(arch, dataset, args.proxy_seed, proxies,
                                                   args.batch_size, args.inputs).items():
            columns[name].append(value)
            seconds[name] += cpu
        if i % 50 == 0 or i == len(archs):
            print(f"  {dataset}: {i}/{len(archs)} cells, {time.perf_counter() - started:.0f} s", file=sys.stderr,
                  flush=True)
    return {"columns": columns, "cpu_seconds_per_cell": {k: v / len(archs) for k, v in seconds.items()},
            "wall_seconds": time.perf_counter() - started}


def correlations(columns: dict[str, list[float]], proxies: tuple[str, ...]) -> dict[str, float]:
    val = columns["val_acc"]
    rho = {name: spearman(columns[name], val) for name in (*proxies, *REFERENCES)}
    for combo in COMBINATIONS:
        if all(name in columns for name in combo):
            rho["+".join(combo)] = spearman(rank_sum([columns[name] for name in combo]), val)
    return rho


def floors(columns: dict[str, list[float]], proxies: tuple[str, ...], chance: float) -> dict[str, str]:
    """Per proxy, 'a/b +c': of the b cells at chance-level accuracy (at most 1.5x chance: their
    output ignores the input), a get the proxy's lowest score in the sample, and c other cells do."""
    at_chance = [v <= 1.5 * chance for v in columns["val_acc"]]
    out = {}
    for name in proxies:
        floor = min(columns[name])
        low = [v == floor for v in columns[name]]
        hits = sum(a and b for a, b in zip(low, at_chance))
        out[name] = f"{hits}/{sum(at_chance)} +{sum(low) - hits}"
    return out


def table(results: dict[str, dict], rows: list[str], fmt: str) -> str:
    datasets = list(results)
    lines = [f"{'':<26}" + "".join(f"{d:>12}" for d in datasets)]
    for row in rows:
        lines.append(f"{row:<26}" + "".join(fmt.format(results[d].get(row, math.nan)) for d in datasets))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    import torch

    from tools.cell_proxies import DEFAULT_BATCH, DEFAULT_INPUTS, cache_path
    from tools.count_flops import INPUTS
    from tools.proxies import DEFAULT_PROXIES, PROXIES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="cells in the random sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample of cells")
    parser.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "imagenet16"])
    parser.add_argument("--proxies", nargs="+", default=list(DEFAULT_PROXIES), choices=PROXIES)
    parser.add_argument("--inputs", default=DEFAULT_INPUTS, choices=["mnist", "noise"])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--proxy-seed", type=int, default=0, help="seed of the weights and the batch")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)

    from spaces.nb201 import NB201Space

    torch.set_num_threads(1)
    proxies = tuple(args.proxies)
    archs = random.Random(args.seed).sample(NB201Space().all_archs(), args.n)
    print(f"n={args.n} seed={args.seed} inputs={args.inputs} batch={args.batch_size} proxy_seed={args.proxy_seed} "
          f"cache={cache_path()}", flush=True)
    scored = {d: score_dataset(archs, d, proxies, args) for d in args.datasets}
    rho = {d: correlations(s["columns"], proxies) for d, s in scored.items()}
    print("\nSpearman rho with validation accuracy")
    print(table(rho, list(next(iter(rho.values()))), "{:>12.3f}"))
    chance = {d: floors(s["columns"], proxies, 100.0 / INPUTS[d][1]) for d, s in scored.items()}
    print("\nChance-level cells at the proxy's lowest score (+ other cells there)")
    print(table(chance, list(proxies), "{:>12}"))
    print("\nCPU seconds per cell (1 thread)")
    print(table({d: s["cpu_seconds_per_cell"] for d, s in scored.items()}, list(proxies), "{:>12.3f}"))
    out = {"n": args.n, "seed": args.seed, "inputs": args.inputs, "batch_size": args.batch_size,
           "proxy_seed": args.proxy_seed, "spearman": rho, "chance_cells_at_floor": chance,
           "cpu_seconds_per_cell": {d: s["cpu_seconds_per_cell"] for d, s in scored.items()},
           "wall_seconds": {d: round(s["wall_seconds"], 1) for d, s in scored.items()}}
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
