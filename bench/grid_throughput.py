"""Benchmark-grid throughput: the same grid of no-LLM runs with --jobs 1 and --jobs 2, in one run.

    python bench/grid_throughput.py [--seeds 6] [--budget 50]

Prints runs per minute for each and the ratio (2 workers over 1).  Each grid runs in a fresh folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ARCHAGENTS_MEMORY_WRITE", "false")

from benchmark import grid as bench_grid  # noqa: E402


def timed(jobs: int, seeds: int, budget: int) -> tuple[float, int]:
    grid = bench_grid.validate(bench_grid.Grid(name="throughput", graphs=["random", "rea", "random+flops"],
                                               space="nb201", datasets=["cifar10", "cifar100"], budgets=[budget],
                                               seeds=seeds, jobs=jobs))
    root = Path(tempfile.mkdtemp(prefix=f"archagents-grid-{jobs}-"))
    started = time.perf_counter()
    done = bench_grid.run(grid, root, bench_grid.shared_settings(grid, [], None))
    return time.perf_counter() - started, len(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--budget", type=int, default=50)
    args = parser.parse_args()
    results = {jobs: timed(jobs, args.seeds, args.budget) for jobs in (1, 2)}
    for jobs, (seconds, runs) in results.items():
        print(f"--jobs {jobs}: {runs} runs in {seconds:.1f} s ({60 * runs / seconds:.1f} runs per minute)")
    print(f"ratio, 2 workers over 1: {results[1][0] / results[2][0]:.2f}x faster (cores: {os.cpu_count()}, "
          f"load at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
