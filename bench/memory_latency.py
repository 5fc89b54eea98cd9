"""Latency of the persistent memory: adding and querying 1,000 items, per embedder.

    python bench/memory_latency.py [--n 1000] [--embedder minilm hashing]

For each embedder, in a fresh folder: the cold start (first add, model load included),
1,000 architectures added as one batch (what a search's finish does) and as 1,000 single
adds, then 1,000 similarity queries and 1,000 reasoning searches.  Prints seconds per 1,000.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(embedder: str, n: int) -> dict:
    import spaces
    from memory.store import Memory

    space = spaces.get("nb201")
    archs = space.all_archs()
    evaluations = [space.evaluate(a, "cifar10") for a in archs[: 2 * n + 1]]
    memory = Memory(Path(tempfile.mkdtemp(prefix="memory-bench-")), embedder=embedder)
    out: dict = {"embedder": embedder, "n": n}
    started = time.perf_counter()
    memory.add_evaluations(space, "cifar10", "cold", evaluations[:1])
    out["cold_start_s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(out), flush=True)  # progress: each phase as it completes
    out["embedder_used"] = memory.embedder

    started = time.perf_counter()
    memory.add_evaluations(space, "cifar10", "batch", evaluations[1:n + 1])
    out["add_batch_s_per_1000"] = round((time.perf_counter() - started) * 1000 / n, 3)
    print(json.dumps(out), flush=True)

    started = time.perf_counter()
    for i, e in enumerate(evaluations[n + 1:2 * n + 1]):
        memory.add_evaluations(space, "cifar10", "single", [e], [i])
    out["add_single_s_per_1000"] = round((time.perf_counter() - started) * 1000 / n, 3)
    print(json.dumps(out), flush=True)

    started = time.perf_counter()
    for e in evaluations[:n]:
        memory.similar_architectures("nb201", "cifar10", f"node1_from_0 = {space.to_proposal(e.arch)['node1_from_0']}", 5)
    out["query_s_per_1000"] = round((time.perf_counter() - started) * 1000 / n, 3)
    print(json.dumps(out), flush=True)

    memory.add_reasoning_batch([{"run_id": f"r{i % 10}", "step": i, "role": "designer",
                                 "text": f"cell {i}: more 3x3 convolutions and a skip to the output"} for i in range(n)])
    started = time.perf_counter()
    for i in range(n):
        memory.search_reasoning("why a skip connection to the output", run_id=f"r{i % 10}", k=5)
    out["search_reasoning_s_per_1000"] = round((time.perf_counter() - started) * 1000 / n, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--embedder", nargs="+", default=["minilm", "hashing"])
    args = parser.parse_args()
    for embedder in args.embedder:
        print(json.dumps(measure(embedder, args.n)), flush=True)


if __name__ == "__main__":
    main()
